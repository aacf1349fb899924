"""Keyword spotting over a recording longer than one clip: sliding windows, averaged posteriors,
detections (what `qsim kws long.wav` prints).

Windows: the one-clip window (1 s) starts every `hop_frames` MFCC frame hops (20 ms each by
default). The MFCC frames of the whole recording are computed once (CHUNK_FRAMES at a time) and
window k takes frames k * hop_frames ... + n_frames - 1: arm_mfcc_q15 works frame by frame, so
these are exactly the features each one-second window would get on its own. The recording is zero-padded at the end up
to the last window's end, so no sample is dropped (the padding is reported).

Scores per engine and window: the float net's softmax; for a quantized net the simulated integer
output (legacy arm_softmax_q7/q15 is base 2 in units of the input LSB, so it is close to one-hot)
and, as its confidence, the float softmax of its dequantized logits (the input of the softmax
layer, read from the bit-exact simulation).

Detections: TF's RecognizeCommands (tensorflow/examples/speech_commands/recognize_commands.cc,
re-written here): the scores of the windows that started in the last `average_window_ms` are
averaged (nothing is reported until `minimum_count` windows are in); the top label is a new
command when its averaged score exceeds `threshold`, it differs from the previous command, and
more than `suppression_ms` passed since that one (no wait after _silence_). Labels starting with
"_" (_silence_, _unknown_) are recognized but not reported.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from . import features as kws


@dataclass(frozen=True)
class StreamSettings:
    hop_frames: int = 2                 # window hop in MFCC frame hops (2 x 20 ms = 40 ms)
    average_window_ms: float = 500.0
    threshold: float = 0.7
    suppression_ms: float = 1500.0
    minimum_count: int = 3


CHUNK_FRAMES = 4096  # MFCC frames computed at a time (the FFT buffers of an hour are gigabytes)


def windows(audio, model, hop_frames):
    """(M int16 (W, n_frames, n_coeffs, 1), window starts in samples (W,), zero samples padded)."""
    cfg = model.mfcc
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.dtype != np.int16:
        raise ShapeError(f"stream: need one int16 recording, got {audio.dtype} {audio.shape}")
    if hop_frames < 1:
        raise ShapeError(f"stream: hop must be >= 1 frame hop, got {hop_frames}")
    hop = hop_frames * cfg.hop
    n_win = 1 + max(0, -(-(len(audio) - cfg.clip_len) // hop))
    total = (n_win - 1) * hop + cfg.clip_len
    padded = np.pad(audio, (0, total - len(audio)))
    n_all = 1 + (total - cfg.frame_len) // cfg.hop
    all_frames = np.concatenate([                            # (frames, n_coeffs, 1)
        model.features(padded[None, f * cfg.hop:(min(n_all, f + CHUNK_FRAMES) - 1) * cfg.hop
                              + cfg.frame_len])[0]
        for f in range(0, n_all, CHUNK_FRAMES)])             # frame by frame: chunks change nothing
    idx = np.arange(n_win)[:, None] * hop_frames + np.arange(cfg.n_frames)
    return all_frames[idx], np.arange(n_win) * hop, total - len(audio)


def logits_and_output(qgraph, M):
    """(dequantized softmax input or None, integer output (N, classes)) of a quantized net."""
    from ..simulate import simulate
    last = qgraph.nodes[-1]
    if last.op != "softmax":
        out = kws.quant_outputs(qgraph, M)
        return None, out
    import warnings
    from ..errors import SaturationWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SaturationWarning)
        tr = simulate(qgraph, kws.net_input(qgraph, M), trace=True)
    logits = qgraph.tensors[last.input].qformat.dequantize(tr[last.input].reshape(len(M), -1))
    return np.asarray(logits, np.float64), tr[qgraph.outputs[0]].reshape(len(M), -1)


def softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


BATCH = 1024        # windows per simulated batch: the trace of every tensor stays ~100 MB


def engine_scores(model, M):
    """{engine: (scores (N, classes) float, integer output or None)}: float, then each scheme.
    Windows go through in batches of BATCH (a long recording has tens of thousands)."""
    out = {} if model.float_graph is None else {     # an imported integer-only model has none
        "float": (kws.float_probs(model.float_graph, kws.mfcc_float(M)).astype(np.float64), None)}
    for scheme, q in model.qgraphs.items():
        parts = [logits_and_output(q, M[s:s + BATCH]) for s in range(0, len(M), BATCH)]
        ints = np.concatenate([p[1] for p in parts])
        logits = None if parts[0][0] is None else np.concatenate([p[0] for p in parts])
        out[scheme] = (softmax(logits) if logits is not None
                       else q.tensors[q.outputs[0]].qformat.dequantize(ints), ints)
    return out


def recognize(times_ms, scores, labels, s: StreamSettings = StreamSettings()):
    """RecognizeCommands over windows: [(time_ms, label, averaged score)] of reported commands."""
    found, prev_label, prev_time = [], "_silence_", None
    times_ms = np.asarray(times_ms, np.float64)
    if np.any(np.diff(times_ms) < 0):
        raise ShapeError("recognize: window times must not decrease")
    first = 0                   # the oldest window still inside the averaging window
    for i, t in enumerate(times_ms):
        while times_ms[first] < t - s.average_window_ms:
            first += 1
        if i + 1 - first < s.minimum_count:
            continue
        avg = scores[first:i + 1].mean(axis=0)
        k = int(avg.argmax())
        since = np.inf if prev_label == "_silence_" or prev_time is None else t - prev_time
        if avg[k] > s.threshold and labels[k] != prev_label and since > s.suppression_ms:
            prev_label, prev_time = labels[k], t
            if not labels[k].startswith("_"):
                found.append((float(t), labels[k], float(avg[k])))
    return found


def stream(model, audio, s: StreamSettings = StreamSettings()):
    """Detections per engine of one int16 recording.

    Returns {"detections": {engine: [(time_ms, label, score)]}, "windows": W, "hop_ms",
    "padded_ms"}.
    """
    M, starts, pad = windows(audio, model, s.hop_frames)
    rate = model.mfcc.sample_rate
    times = starts * 1000.0 / rate
    det = {e: recognize(times, sc, model.labels, s) for e, (sc, _) in engine_scores(model, M).items()}
    return {"detections": det, "windows": len(M), "hop_ms": s.hop_frames * model.mfcc.hop * 1000.0 / rate,
            "padded_ms": pad * 1000.0 / rate}
