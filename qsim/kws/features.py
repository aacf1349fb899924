"""Keyword spotting end to end: int16 audio -> arm_mfcc_q15 -> the net's input format -> the net.

The device pipeline, and what simulates each step bit-exactly:

    audio   1 s of 16 kHz mono int16 (qsim.kws.audio.load_wav)
    mfcc    arm_mfcc_q15 on 49 frames of 640 samples every 320, each zero-padded to 1024
            (qsim.kws.mfcc_q15) -> (49, 10) int16 in q8.7 (value * 128)
    scale   optional, MfccConfig.coeff_shift: coefficient c shifted right by r_c (left if
            negative), rounded half up, saturated to int16 (`scale_coeffs`), so that one input
            format suits c0 (range ~100) and c9 (range ~10) alike; still called q8.7 below
    input   the q8.7 values moved to the net's input QFormat Q(bits-1-f).f by one shift,
            `mfcc_to_input` (below; the generated C gets the same step in <prefix>_features.h):
                s = 7 - f > 0:  ssat((m + (1 << (s - 1))) >> s, bits)   round half up, saturate
                s = 0:          ssat(m, bits)
                s < 0:          ssat(m << -s, bits)
            This is exactly QFormat.quantize(m / 128) (round half up, saturate), so feeding the
            float features m / 128 to qsim.simulate / qsim.metrics.evaluate gives the same ints.
    net     the quantized graph (qsim.simulate / the generated C).

The float net (qsim.kws.net) is trained on the same features, dequantized: x = m / 128
(`mfcc_float`), so float and device see identical inputs.
"""
import logging
import warnings

import numpy as np
from numba import njit

from ..errors import SaturationWarning, ShapeError
from ..fixedpoint import asr, ssat
from ..float_exec import run
from ..simulate import simulate
from .mfcc import MfccConfig, mfcc_f32, mfcc_q15

log = logging.getLogger(__name__)

MFCC_FRAC_BITS = 7                      # arm_mfcc_q15 output is q8.7
INPUT_SHAPE = (49, 10, 1)


def mfcc_features(audio, cfg: MfccConfig = MfccConfig()):
    """int16 clips (N, samples) -> arm_mfcc_q15 features (N, n_frames, n_coeffs, 1) int16 q8.7."""
    return mfcc_q15(np.asarray(audio), cfg)[..., None]


FRONTENDS = ("q15", "q15norm", "float")


def features(audio, cfg: MfccConfig = MfccConfig(), frontend="q15"):
    """int16 clips (N, samples) -> q8.7 int16 features (N, n_frames, n_coeffs, 1) by the front end:

    q15      arm_mfcc_q15, bit-exact (what the device computes with CMSIS-DSP's fixed-point MFCC)
    q15norm  each frame shifted left until its peak is >= 2**14, arm_mfcc_q15 (bit-exact on the
             shifted frame), c0 corrected for the shift (qsim.kws.mfcc.mfcc_q15_norm_frames):
             close to the float MFCC on quiet audio, where plain q15 loses the low bits
    float    arm_mfcc_f32 (audio / 32768), times 2**cfg.frac_bits rounded half to even, saturated
             and carried as q8.7 int16 (a device running arm_mfcc_f32 rounds the same way; with
             frac_bits = the net's input bits mfcc_to_input then only saturates)
    """
    if frontend == "q15":
        m = mfcc_features(audio, cfg)
    elif frontend == "q15norm":
        m = mfcc_q15(np.asarray(audio), cfg, normalize=True)[..., None]
    elif frontend == "float":
        s = MFCC_FRAC_BITS - cfg.frac_bits      # rounded to cfg.frac_bits, carried as q8.7
        m = np.round(mfcc_f32(np.asarray(audio), cfg).astype(np.float64) * (1 << cfg.frac_bits))
        m = (np.clip(m, -32768 >> s, 32767 >> s) * (1 << s)).astype(np.int16)[..., None]
    else:
        raise ShapeError(f"unknown front end {frontend!r}. help: use one of {', '.join(FRONTENDS)}")
    return scale_coeffs(m, cfg.coeff_shift) if cfg.coeff_shift else m


def scale_coeffs(m, shifts):
    """q8.7 int16 features (..., n_coeffs[, 1]) with coefficient c shifted right by shifts[c]
    (left if negative), rounded half up, saturated to int16: the front end's last step when
    MfccConfig.coeff_shift is set (the generated <prefix>_features.h does the same)."""
    m = np.asarray(m)
    shifts = np.asarray(shifts, np.int64)
    if m.dtype != np.int16:
        raise ShapeError(f"scale_coeffs: need int16 q8.7 features, got {m.dtype}")
    n = m.shape[-2] if m.ndim >= 2 and m.shape[-1] == 1 else m.shape[-1]
    if shifts.ndim != 1 or len(shifts) != n:
        raise ShapeError(f"scale_coeffs: {len(shifts.reshape(-1))} shifts for {n} coefficients")
    flat = np.ascontiguousarray(m.reshape(-1)).astype(np.int64)
    out = np.empty(flat.shape, np.int64)
    _shift_round_sat(flat, shifts, 16, out)
    return out.astype(np.int16).reshape(m.shape)


def balance_shifts(m, q=99.9):
    """Per-coefficient shifts (MfccConfig.coeff_shift) from training features (N, frames,
    n_coeffs[, 1]) int16 q8.7: r_c = round(log2(range_c / median range)), range_c the q-th
    percentile of |m_c|, in -4..COEFF_SHIFT_MAX; the ranges then lie within a factor ~1.4 of the
    median, so the single input format the quantizer picks fits all of them (c0's range is ~10x
    c9's: unscaled, the format that holds c0 leaves c9 two or three bits)."""
    from .mfcc import COEFF_SHIFT_MAX
    m = np.asarray(m)
    m = m[..., 0] if m.shape[-1] == 1 and m.ndim >= 3 else m
    a = np.abs(m.reshape(-1, m.shape[-1]).astype(np.float64))
    if not len(a):
        raise ShapeError("balance_shifts: no training features")
    rng = np.maximum(np.percentile(a, q, axis=0), 1.0)
    r = np.round(np.log2(rng / np.median(rng)))
    return tuple(int(v) for v in np.clip(r, -4, COEFF_SHIFT_MAX))


def frontend_error(audio, cfg: MfccConfig = MfccConfig(), frontend="q15"):
    """How far a front end is from the float MFCC (arm_mfcc_f32 rounded to q8.7), per coefficient.

    Returns {"mean": (n_coeffs,), "max": (n_coeffs,), "same": fraction of equal values, "frames":
    frames compared, "zero_frames": frames left out} in q8.7 LSB. Frames whose samples are all
    zero are left out: there the float MFCC is its log(1e-6) floor and the q15 one its log(0)
    saturation, two conventions rather than a precision loss.
    """
    from .mfcc import frames as _frames
    audio = np.asarray(audio)
    live = np.any(_frames(audio, cfg)[..., :cfg.frame_len] != 0, axis=-1)
    d = np.abs(features(audio, cfg, frontend)[..., 0].astype(np.int64)
               - features(audio, cfg, "float")[..., 0].astype(np.int64))[live]
    if not len(d):
        d = np.zeros((0, cfg.n_coeffs), np.int64)
    return {"mean": d.mean(0) if len(d) else np.zeros(cfg.n_coeffs), "max": d.max(0) if len(d)
            else np.zeros(cfg.n_coeffs, np.int64), "same": float(np.mean(d == 0)) if d.size else 1.0,
            "frames": int(len(d)), "zero_frames": int((~live).sum())}


def mfcc_float(m):
    """q8.7 ints -> the float features the float net sees (m / 128, exact in float32)."""
    return (np.asarray(m, np.float32) / np.float32(1 << MFCC_FRAC_BITS)).astype(np.float32)


def input_shift(qformat) -> int:
    """Right shift from q8.7 to the input format (negative: a left shift)."""
    return MFCC_FRAC_BITS - qformat.frac_bits


@njit(cache=True)
def _shift_round_sat(m, shifts, bits, out):
    """out[i] = m[i] shifted right by shifts[i % len(shifts)] (left if negative), rounded half
    up, saturated to `bits` (mfcc_to_input: one shift; scale_coeffs: one per coefficient)."""
    n = shifts.shape[0]
    for i in range(m.shape[0]):
        s, v = shifts[i % n], m[i]
        if s > 0:
            v = asr(v + (1 << (s - 1)), s)
        elif s < 0:
            v = v << -s
        out[i] = ssat(v, bits)


def mfcc_to_input(m, qformat):
    """Bit-exact q8.7 -> input QFormat conversion (module docstring), any shape, int8/int16 out."""
    m = np.asarray(m)
    if m.dtype != np.int16:
        raise ShapeError(f"mfcc_to_input: need int16 q8.7 features from arm_mfcc_q15, got {m.dtype}")
    shift = input_shift(qformat)
    if not -15 <= shift <= 15:
        raise ShapeError(f"mfcc_to_input: input format {qformat} is {shift} bits from q8.7; "
                         "help: re-quantize the model (the input format comes from calibration)")
    flat = np.ascontiguousarray(m.reshape(-1)).astype(np.int64)
    out = np.empty(flat.shape, np.int64)
    _shift_round_sat(flat, np.array([shift], np.int64), qformat.bits, out)
    return out.astype(qformat.dtype).reshape(m.shape)


def net_input(qgraph, m):
    """q8.7 features (N, frames, coeffs, 1) -> the input ints of `qgraph` (mfcc_to_input), reshaped
    to its input shape (frame after frame: a flat input such as (490,) takes them in that order)."""
    t = qgraph.tensors[qgraph.inputs[0]]
    return mfcc_to_input(m, t.qformat).reshape((len(m),) + tuple(t.shape))


def features_header(qformat, prefix, frontend="q15", coeff_shift=()) -> str:
    """C header with `<prefix>_input_from_mfcc_q15`, the step between arm_mfcc_q15 and <prefix>_run.

    With coeff_shift (MfccConfig.coeff_shift) it first shifts coefficient c by coeff_shift[c]
    (scale_coeffs). With frontend="q15norm" it also has the per-frame gain around arm_mfcc_q15:
    `<prefix>_frame_gain(frame, n)` shifts a frame in place and returns k, and after
    arm_mfcc_q15 `<prefix>_c0_correct(mfcc, k)` takes the shift back out of c0
    (qsim.kws.mfcc.mfcc_q15_norm_frames). Plain C99 (int16_t is q15_t, int8_t is q7_t), so it
    compiles without the CMSIS headers.
    """
    shift, ct = input_shift(qformat), "int8_t" if qformat.bits == 8 else "int16_t"
    if shift > 0:
        expr = f"(m + {1 << (shift - 1)}) >> {shift}"
    elif shift < 0:
        expr = f"m * {1 << -shift}"
    else:
        expr = "m"
    cs = [int(v) for v in coeff_shift]
    up, hi, lo = prefix.upper(), (1 << (qformat.bits - 1)) - 1, -(1 << (qformat.bits - 1))
    if cs:
        scale = [f"static const int8_t {prefix}_coeff_shift[{len(cs)}] = {{{', '.join(map(str, cs))}}};", "",
                 f"/* Coefficient c of each frame shifted right by {prefix}_coeff_shift[c] (left if",
                 " * negative), rounded half up, saturated to int16: qsim.kws.features.scale_coeffs. */",
                 f"static inline int32_t {prefix}_scale_coeff(int32_t m, int s)", "{",
                 "    if (s > 0) m = (m + (1 << (s - 1))) >> s;", "    else if (s < 0) m = m * (1 << -s);",
                 "    return m > 32767 ? 32767 : m < -32768 ? -32768 : m;", "}", ""]
        first = f"        int32_t m = {prefix}_scale_coeff(mfcc[i], {prefix}_coeff_shift[i % {len(cs)}]);"
    else:
        scale, first = [], "        int32_t m = mfcc[i];"
    return "\n".join([
        f"/* Generated by qsim: arm_mfcc_q15 output (q8.7) -> '{prefix}' input {qformat}. */",
        f"#ifndef {up}_FEATURES_H", f"#define {up}_FEATURES_H", "", "#include <stddef.h>",
        "#include <stdint.h>", "",
        f"#define {up}_MFCC_SHIFT {shift}   /* right shift q8.7 -> Q.{qformat.frac_bits}; "
        "negative = left */", "", *scale,
        "/* Call once per clip on the 49 x 10 arm_mfcc_q15 outputs (frame after frame), then",
        f" * {prefix}_run(input, output). Rounds half up and saturates, as",
        " * qsim.kws.features.mfcc_to_input. */",
        f"static inline void {prefix}_input_from_mfcc_q15(const int16_t *mfcc, {ct} *input, size_t n)",
        "{", "    size_t i;", "    for (i = 0; i < n; ++i) {", first,
        f"        int32_t v = {expr};",
        f"        input[i] = ({ct})(v > {hi} ? {hi} : v < {lo} ? {lo} : v);",
        "    }", "}", "", *(_gain_c(prefix) if frontend == "q15norm" else []),
        f"#endif /* {up}_FEATURES_H */", ""])


def _gain_c(prefix):
    from .mfcc import GAIN_TARGET, c0_gain_correction
    corr = ", ".join(str(int(v)) for v in c0_gain_correction(np.arange(15)))
    return [
        "/* Front end q15norm: before arm_mfcc_q15, shift the frame (all fft_len samples) left until",
        f" * its peak reaches {GAIN_TARGET}; after it, subtract the shift's share from c0. */",
        f"static const int16_t {prefix}_c0_per_shift[15] = {{{corr}}};", "",
        f"static inline int {prefix}_frame_gain(int16_t *frame, size_t n)", "{",
        "    int32_t peak = 0;", "    int k = 0;", "    size_t i;",
        "    for (i = 0; i < n; ++i) {",
        "        int32_t a = frame[i] < 0 ? -(int32_t)frame[i] : frame[i];",
        "        if (a > peak) peak = a;", "    }",
        f"    while (peak > 0 && k < 14 && (peak << k) < {GAIN_TARGET}) ++k;",
        "    for (i = 0; i < n; ++i) frame[i] = (int16_t)((int32_t)frame[i] * (1 << k));",
        "    return k;", "}", "",
        f"static inline void {prefix}_c0_correct(int16_t *mfcc, int k)", "{",
        f"    int32_t v = (int32_t)mfcc[0] - {prefix}_c0_per_shift[k];",
        "    mfcc[0] = (int16_t)(v < -32768 ? -32768 : v);", "}", ""]


def float_probs(graph, X, batch_size=1024):
    """Softmax outputs (N, classes) of the float graph on float features."""
    X = np.asarray(X, np.float32)
    return np.concatenate([run(graph, X[s:s + batch_size]).reshape(len(X[s:s + batch_size]), -1)
                           for s in range(0, len(X), batch_size)])


def quant_outputs(qgraph, m):
    """Simulated output ints (N, classes) of a quantized graph on q8.7 MFCC ints (N, 49, 10, 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SaturationWarning)
        out = simulate(qgraph, net_input(qgraph, m))
    return out.reshape(len(out), -1)
