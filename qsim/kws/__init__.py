"""The keyword-spotting application, built on the library (the library imports nothing from here).

    audio      read WAV files as 16 kHz mono int16 clips of one second
    mfcc       MFCC exactly as CMSIS-DSP's arm_mfcc_f32 (float) and arm_mfcc_q15 (bit-exact, batched);
    mfcc_q15   mfcc_q15 / rfft_q15: the numba models of arm_mfcc_q15 and arm_rfft_q15
    rfft_q15
    dataset    the yes / no / backward / _unknown_ / _silence_ set spoken by synthesized voices
    voices     espeak-ng, flite and festival voices; the speaker (split key) of each
    augment    per-clip audio augmentation: warp, speed, reverb, mic EQ, noise, babble
    speech_commands   a folder in the Speech Commands layout as a 12-label set
    features   the device pipeline: audio -> front end (arm_mfcc_q15, q15norm or float) ->
               the net's input format -> the net
    net        the KWS net and its training recipe (input normalization folded, augmentation)
    flow       the model folder (kws.json, float/, q7/, q15/, kws.onnx) and
               features -> train -> calibrate -> quantize
    classify   float, simulated q7 / q15 and generated-C labels of clips (`qsim kws`)
    stream     sliding windows and RecognizeCommands detections over long recordings
    demo       the whole flow, stage by stage, timed and cached (`qsim demo`)

The `qsim data kws`, `qsim train kws`, `qsim kws` and `qsim demo` commands parse their arguments
and call these modules.
"""
