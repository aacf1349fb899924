"""The speech synthesizers the demo set is spoken by: espeak-ng, flite and festival.

A voice is a string: "en-us" or "en-gb+Alex" (espeak-ng, base voice + optional !v variant),
"flite:awb" (Debian's flite voices), "festival:ked_diphone" (festival's English voices). The
speaker of a voice is the split key: the variant or base voice for espeak-ng; for flite and
festival the recorded person (flite's kal / kal16 and festival's kal_diphone are one man, flite's
slt and festival's cmu_us_slt_arctic_hts one woman), so a person is never on both sides of a split.

espeak-ng is required; flite and festival are optional: a missing one is left out with a message
that says how to install it (`missing_synthesizers`).
"""
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import QsimError, ToolchainMissing
from .audio import resample

SAMPLE_RATE = 16000
# Debian's flite voices (awb_time only speaks clock times: left out); kal is 8 kHz, resampled.
FLITE_VOICES = ("awb", "kal", "kal16", "rms", "slt")
# festival's English voices from festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts.
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
FLITE_F0 = {"slt": 170.0}        # base pitch (Hz) that pitch=1 keeps; others 105 Hz
PERSON = {"flite:kal": "kal", "flite:kal16": "kal", "festival:kal_diphone": "kal",
          "flite:slt": "slt", "festival:cmu_us_slt_arctic_hts": "slt", "flite:awb": "awb",
          "flite:rms": "rms", "festival:ked_diphone": "ked"}
INSTALL = {"espeak-ng": "apt-get install espeak-ng", "flite": "apt-get install flite",
           "festival": "apt-get install festival festvox-kallpc16k festvox-kdlpc16k "
                       "festvox-us-slt-hts"}


def synthesizer(voice) -> str:
    """'espeak-ng', 'flite' or 'festival'."""
    return voice.split(":", 1)[0] if voice.startswith(("flite:", "festival:")) else "espeak-ng"


def speaker(voice) -> str:
    """The split key: the espeak-ng variant ('base+variant') or base voice; the flite / festival
    person (PERSON)."""
    if synthesizer(voice) != "espeak-ng":
        return PERSON.get(voice, voice)
    return voice.split("+", 1)[1] if "+" in voice else voice


def _exe(name):
    exe = shutil.which(name)
    if exe is None:
        raise ToolchainMissing(f"{name} is not installed; the KWS set is synthesized with it. "
                               f"help: {INSTALL[name]}")
    return exe


def available(name) -> bool:
    if name == "festival":
        return shutil.which("festival") is not None and bool(festival_voices())
    return shutil.which(name) is not None


def _espeak_list(exe, arg):
    out = subprocess.run([exe, f"--voices={arg}"], capture_output=True, text=True, check=True).stdout
    return [line.split()[4] for line in out.splitlines()[1:] if len(line.split()) >= 5]


def espeak_voices():
    """Plain English espeak-ng voices (no mb-*) times (no variant + every !v variant)."""
    exe = _exe("espeak-ng")
    bases = sorted({f.split("/")[-1] for f in _espeak_list(exe, "en")
                    if not f.startswith(("mb/", "!v/"))})
    variants = sorted(f.split("/")[-1] for f in _espeak_list(exe, "variant"))
    return bases + [f"{b}+{v}" for v in variants for b in bases]


def flite_voices():
    if shutil.which("flite") is None:
        return []
    out = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
    have = set(out.replace("Voices available:", "").split())
    return [f"flite:{v}" for v in FLITE_VOICES if v in have]


def festival_voices():
    """festival voices installed (their folders under /usr/share/festival/voices)."""
    if shutil.which("festival") is None:
        return []
    roots = [Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices")]
    found = {p.name for r in roots if r.is_dir() for p in r.glob("*/*") if p.is_dir()}
    return [f"festival:{v}" for v in FESTIVAL_VOICES if v in found]


def missing_synthesizers():
    """Messages for the optional synthesizers that are not installed."""
    return [f"{name} is not installed: its voices are left out of the set. help: {INSTALL[name]}"
            for name in ("flite", "festival") if not available(name)]


def _read(wav_bytes, what):
    import soundfile as sf
    try:
        data, rate = sf.read(io.BytesIO(wav_bytes), dtype="float64")
    except Exception as e:     # noqa: BLE001 - any decoder failure is the synthesizer's
        raise QsimError(f"{what} produced no readable audio ({e})") from None
    if data.ndim > 1:
        data = data.mean(axis=1)
    return resample(data, rate, SAMPLE_RATE)


def synthesize(voice, word, speed=1.0, pitch=1.0, text=None):
    """Float audio at 16 kHz of one word. speed > 1 speaks faster, pitch scales the base pitch
    (espeak-ng -s / -p, flite duration_stretch / int_f0_target_mean). festival: use
    festival_bank (one process for many words); this is for espeak-ng and flite.

    text : espeak-ng only: what is spoken instead of `word` (punctuation such as "yes?",
        [[phonemes]], or SSML starting with "<speak>", which turns on espeak-ng -m)."""
    kind = synthesizer(voice)
    if text is not None and kind != "espeak-ng":
        raise QsimError(f"synthesize: text= is for espeak-ng voices, not {voice!r}. help: pass "
                        "the word only")
    if kind == "espeak-ng":
        text = word if text is None else text
        cmd = [_exe("espeak-ng"), "-v", voice, "-s", str(int(round(170 * speed))),
               "-p", str(int(np.clip(round(50 * pitch), 0, 99))), "--stdout",
               *(["-m"] if text.startswith("<speak>") else []), text]
    elif kind == "flite":
        name = voice.split(":", 1)[1]
        f0 = FLITE_F0.get(name, 105.0) * (1 + (pitch - 1) * 0.5)      # half espeak's range
        cmd = [_exe("flite"), "-voice", name, "--setf", f"duration_stretch={1.0 / speed:.3f}",
               "--setf", f"int_f0_target_mean={f0:.1f}", "-t", word, "-o", "/dev/stdout"]
    else:
        raise QsimError(f"synthesize: {voice} is a festival voice. help: use festival_bank")
    res = subprocess.run(cmd, capture_output=True)
    if res.returncode != 0 or not res.stdout:
        raise QsimError(f"{kind} failed for voice {voice!r}: {res.stderr.decode().strip()}. help: "
                        "list voices with `espeak-ng --voices=en` / `flite -lv`")
    return _read(res.stdout, f"{kind} voice {voice!r}")


def festival_bank(voice, words):
    """{word: float audio at 16 kHz} of festival `voice`, all words in one festival process."""
    exe = _exe("festival")
    name = voice.split(":", 1)[1]
    with tempfile.TemporaryDirectory(prefix="qsim-festival-") as tmp:
        lines = [f"(voice_{name})"]
        for i, w in enumerate(words):
            text = w.replace('"', "")
            lines += [f'(set! u (Utterance Text "{text}"))', "(utt.synth u)",
                      f'(utt.save.wave u "{tmp}/{i}.wav" \'riff)']
        (Path(tmp) / "s.scm").write_text("\n".join(lines) + "\n")
        res = subprocess.run([exe, "-b", f"{tmp}/s.scm"], capture_output=True, text=True)
        out = {}
        for i, w in enumerate(words):
            f = Path(tmp) / f"{i}.wav"
            if not f.is_file():
                raise QsimError(f"festival failed for voice {voice!r} on {w!r}: "
                                f"{res.stderr.strip()[-300:]}. help: {INSTALL['festival']}")
            out[w] = _read(f.read_bytes(), f"festival voice {voice!r}")
    return out
