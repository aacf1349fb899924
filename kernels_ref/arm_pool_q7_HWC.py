"""Readable twin of CMSIS/NN/Source/PoolingFunctions/arm_pool_q7_HWC.c (both branches).

path="ref" follows the plain-C loops; path="dsp" replays the DSP branch on a flat list standing
for the C's memory (the input buffer it overwrites, then the output), one batch item at a time.
The argument checks are restated here on purpose rather than imported from qsim.kernels.
"""
import numpy as np

from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind, out_array

from ._fixed import i8, i16, sat, tdiv


def _valid(o, k, pad, stride, dim):
    """Valid image coordinates of window o: o*stride - pad + [0, k) clipped to [0, dim)."""
    s = o * stride - pad
    return range(max(s, 0), min(s + k, dim))


def _refuse(fn, b, path):
    dim, ch, k = b["dim_im_in"], b["ch_im_in"], b["dim_kernel"]
    pad, stride, dim_out = b["padding"], b["stride"], b["dim_im_out"]
    if max(dim, ch, dim_out, pad) > 32767 or (dim_out > 0 and (dim_out - 1) * stride - pad + k > 32767):
        raise KernelArgumentError(f"{fn}: geometry overflows the C's int16_t loop counters")
    if path == "dsp" and (dim_out > dim or dim_out * ch > 65535):
        raise KernelArgumentError(f"{fn}: path='dsp' needs dim_im_out <= dim_im_in and "
                                  "dim_im_out*ch_im_in <= 65535")
    if any(len(_valid(o, k, pad, stride, dim)) == 0 for o in range(dim_out)):
        if path == "dsp" or fn == "arm_avepool_q7_HWC":
            raise KernelArgumentError(f"{fn}: a window holds padding only (path={path!r})")


def _pool_ref(im, dim, ch, k, pad, stride, dim_out, average):
    out = []
    for oy in range(dim_out):
        for ox in range(dim_out):
            for c in range(ch):
                taps = [int(im[(y * dim + x) * ch + c])
                        for y in _valid(oy, k, pad, stride, dim) for x in _valid(ox, k, pad, stride, dim)]
                if average:
                    out.append(i8(tdiv(sum(taps), len(taps))))
                else:
                    out.append(i8(max([-129] + taps)))
    return out


def _accumulate_q7_to_q15(acc, mem, src, length):
    """QADD16 (saturating) on the 4-aligned part, plain q15 `+=` (wrapping) on the last length % 4."""
    for i in range(length):
        total = acc[i] + mem[src + i]
        acc[i] = sat(total, 16) if i < length - length % 4 else i16(total)


def _pool_dsp(im, dim, ch, k, pad, stride, dim_out, average):
    mem = [int(v) for v in im]              # the input buffer, overwritten by the x pass
    out = [0] * (dim_out * dim_out * ch)
    row = dim * ch
    for y in range(dim):                     # x pass: every input row, in place
        for ox in range(dim_out):
            s = ox * stride - pad
            start = ox if s < 0 else s       # not 0: the window starts at the target pixel
            stop = dim if s + k >= dim else s + k
            target, first = y * row + ox * ch, y * row + start * ch
            if average:
                acc, count = mem[first:first + ch], 1
                for x in range(start + 1, stop):
                    _accumulate_q7_to_q15(acc, mem, y * row + x * ch, ch)
                    count += 1
                mem[target:target + ch] = [i8(tdiv(a, count)) for a in acc]
            else:
                mem[target:target + ch] = mem[first:first + ch]
                for x in range(start + 1, stop):
                    for c in range(ch):
                        mem[target + c] = max(mem[target + c], mem[y * row + x * ch + c])
    span = dim_out * ch
    for oy in range(dim_out):                # y pass: rows clipped correctly, out of place
        s = oy * stride - pad
        first, stop = max(s, 0), (dim if s + k >= dim else s + k)
        acc, count = mem[first * row:first * row + span], 1
        for y in range(first + 1, stop):
            if average:
                _accumulate_q7_to_q15(acc, mem, y * row, span)
            else:
                acc = [max(a, v) for a, v in zip(acc, mem[y * row:y * row + span])]
            count += 1
        out[oy * span:(oy + 1) * span] = [i8(tdiv(a, count)) for a in acc] if average else acc
    return out


def _pool(fn, args, path, release, truncate, average):
    b = bind(fn, args, {}, path=path, release=release, truncate=truncate)
    _refuse(fn, b, path)
    out = out_array(b, np.int8)
    body = _pool_dsp if path == "dsp" else _pool_ref
    geometry = (b["dim_im_in"], b["ch_im_in"], b["dim_kernel"], b["padding"], b["stride"], b["dim_im_out"])
    for n in range(b.n):
        out[n] = np.array(body(b["Im_in"][n], *geometry, average), np.int8).reshape(b.out_shape)
    return out


def arm_maxpool_q7_HWC(Im_in, dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out, *,
                       path, release, truncate=False):
    return _pool("arm_maxpool_q7_HWC", (Im_in, dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out),
                 path, release, truncate, average=False)


def arm_avepool_q7_HWC(Im_in, dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out, *,
                       path, release, truncate=False):
    return _pool("arm_avepool_q7_HWC", (Im_in, dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out),
                 path, release, truncate, average=True)
