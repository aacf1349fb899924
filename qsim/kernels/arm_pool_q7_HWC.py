"""Mirror of CMSIS/NN/Source/PoolingFunctions/arm_pool_q7_HWC.c (CMSIS_5 5.7.0, 5.9.0).

Two bodies per function (semantics doc §3, §8):
  path="ref"  per-window max / truncating average over the valid taps (plain-C build).
  path="dsp"  the library's separable, in-place algorithm: an x pass that overwrites each input
              row from the left, then a y pass into the output. It is emulated literally on a copy
              of every batch item, because its results depend on what it has already overwritten.
5.9.0 changed nothing that affects results (it only sends Cortex-M55/MVE builds to the plain body).
"""
import numpy as np
from numba import njit, prange, uint64

from ..constraints import check_call
from ..fixedpoint import ssat, tdiv, wrap_i8, wrap_i16
from ..kernel_args import bind, out_array
from ..ops import ConvGeometry


@njit(inline="always")
def _max_run(best, src, s, n):
    """best[i] = max(best[i], src[s + i]) for i < n (uint64 indices: one vectorised loop)."""
    for i in range(uint64(n)):
        a = best[i]
        b = src[s + i]
        best[i] = a if a > b else b


@njit(cache=True, parallel=True, nogil=True)
def maxpool_ref(im, dim, ch, k, pad, stride, dim_out, out):
    """REF body: max over valid taps, starting from -129, stored with int8 narrowing (empty -> 127).

    Computed as: a window without valid taps gives int8(-129) = 127; otherwise the int8 max of its
    taps (>= -128, so the -129 start never wins), a channel vector at a time.
    """
    for n in prange(im.shape[0]):
        src = im[n]
        dst = out[n]
        best = np.empty(ch, np.int8)
        for oy in range(dim_out):
            y0 = oy * stride - pad
            ylo, yhi = max(y0, 0), min(y0 + k, dim)
            for ox in range(dim_out):
                x0 = ox * stride - pad
                xlo, xhi = max(x0, 0), min(x0 + k, dim)
                d0 = uint64((oy * dim_out + ox) * ch)
                if ylo >= yhi or xlo >= xhi:
                    for i in range(uint64(ch)):
                        dst[d0 + i] = 127
                    continue
                for i in range(uint64(ch)):
                    best[i] = -128
                for y in range(ylo, yhi):
                    s = uint64((y * dim + xlo) * ch)
                    for x in range(xhi - xlo):
                        _max_run(best, src, s + uint64(x * ch), ch)
                for i in range(uint64(ch)):
                    dst[d0 + i] = best[i]


@njit(cache=True, nogil=True, parallel=True)
def avepool_ref(im, dim, ch, k, pad, stride, dim_out, out):
    """REF body: C-truncating sum / count over valid taps (the wrapper refuses count == 0)."""
    for n in prange(im.shape[0]):
        for oy in range(dim_out):
            y0 = oy * stride - pad
            for ox in range(dim_out):
                x0 = ox * stride - pad
                for c in range(ch):
                    total = np.int64(0)
                    count = np.int64(0)
                    for y in range(max(y0, 0), min(y0 + k, dim)):
                        for x in range(max(x0, 0), min(x0 + k, dim)):
                            total += np.int64(im[n, (y * dim + x) * ch + c])
                            count += 1
                    out[n, (oy * dim_out + ox) * ch + c] = wrap_i8(tdiv(total, count))


@njit(cache=True, nogil=True)
def _window(o, k, pad, stride, dim, target):
    """The DSP loops' window in pixels: [start, stop). start is `target` itself when o*stride < pad."""
    s = o * stride - pad
    start = target if s < 0 else s
    stop = dim if s + k >= dim else s + k
    return start, stop


@njit(cache=True, nogil=True)
def _max_into(mem, dst, src, length):
    """compare_and_replace_if_larger_q7 on flat memory (element-wise, so the 4-byte grouping is moot)."""
    for i in range(length):
        if mem[src + i] > mem[dst + i]:
            mem[dst + i] = mem[src + i]


@njit(cache=True, nogil=True)
def _accumulate(acc, mem, src, length):
    """The pooling file's accumulate_q7_to_q15: QADD16 on groups of 4, wrapping q15 add on the rest."""
    groups = (length >> 2) << 2
    for i in range(groups):
        acc[i] = ssat(acc[i] + mem[src + i], 16)
    for i in range(groups, length):
        acc[i] = wrap_i16(acc[i] + mem[src + i])


@njit(cache=True, nogil=True, parallel=True)
def maxpool_dsp(im, dim, ch, k, pad, stride, dim_out, out):
    """DSP body, literally: in-place x pass over every input row, then the y pass into `out`."""
    row_len = dim * ch
    span = dim_out * ch
    for n in prange(im.shape[0]):
        mem = im[n].copy()
        for y in range(dim):
            for ox in range(dim_out):
                start, stop = _window(ox, k, pad, stride, dim, ox)
                target = y * row_len + ox * ch
                src = y * row_len + start * ch
                for c in range(ch):          # memmove of whole pixels: same pixel or disjoint
                    mem[target + c] = mem[src + c]
                for x in range(start + 1, stop):
                    _max_into(mem, target, y * row_len + x * ch, ch)
        for oy in range(dim_out):
            first, stop = _window(oy, k, pad, stride, dim, 0)
            dst = oy * span
            for i in range(span):
                out[n, dst + i] = mem[first * row_len + i]
            for y in range(first + 1, stop):
                for i in range(span):
                    if mem[y * row_len + i] > out[n, dst + i]:
                        out[n, dst + i] = mem[y * row_len + i]


@njit(cache=True, nogil=True, parallel=True)
def avepool_dsp(im, dim, ch, k, pad, stride, dim_out, out):
    """DSP body, literally: x pass averages written back into the row, then y pass averages of those."""
    row_len = dim * ch
    span = dim_out * ch
    for n in prange(im.shape[0]):
        mem = im[n].copy()
        acc = np.zeros(max(ch, span), np.int64)      # bufferA as q15 lanes
        for y in range(dim):
            for ox in range(dim_out):
                start, stop = _window(ox, k, pad, stride, dim, ox)
                target = y * row_len + ox * ch
                for c in range(ch):
                    acc[c] = mem[y * row_len + start * ch + c]
                count = 1
                for x in range(start + 1, stop):
                    _accumulate(acc, mem, y * row_len + x * ch, ch)
                    count += 1
                for c in range(ch):
                    mem[target + c] = wrap_i8(tdiv(acc[c], count))
        for oy in range(dim_out):
            first, stop = _window(oy, k, pad, stride, dim, 0)
            for i in range(span):
                acc[i] = mem[first * row_len + i]
            count = 1
            for y in range(first + 1, stop):
                _accumulate(acc, mem, y * row_len, span)
                count += 1
            for i in range(span):
                out[n, oy * span + i] = wrap_i8(tdiv(acc[i], count))


def _pool(fn, ref_body, dsp_body, args, path, release, truncate):
    b = bind(fn, args, {}, path=path, release=release, truncate=truncate)
    check_call(fn, ConvGeometry.from_args(b), path, b.release)   # undefined C cases (doc §3)
    out = out_array(b, np.int8)
    if out.size:
        body = dsp_body if path == "dsp" else ref_body
        body(b["Im_in"], b["dim_im_in"], b["ch_im_in"], b["dim_kernel"], b["padding"], b["stride"],
             b["dim_im_out"], out.reshape(b.n, -1))
    return out


def arm_maxpool_q7_HWC(Im_in, dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out, *,
                       path, release, truncate=False):
    """Q7 max pooling, square HWC, batched over the leading axis of `Im_in` (doc §3.1).

    Arithmetic, per output (oy, ox, c), window rows/columns o*stride - padding + [0, dim_kernel)
    clipped to the image:
        ref: out = int8(max(-129, valid taps))          # a window of padding only gives 127
        dsp: x pass, in place, for every input row y and ox < dim_im_out:
                 s = ox*stride - padding; start = ox if s < 0 else s; stop = min(s + k, dim_im_in)
                 row[ox] = max(row[start .. stop))       # row[start] copied first, may be overwritten
             y pass: out row oy = element-wise max of the first dim_im_out*ch_im_in values of rows
                 max(s, 0) .. min(s + k, dim_im_in).
    The two agree when padding < stride; with padding >= stride (e.g. 3x3, stride 1, padding 1) the
    DSP x pass reads values it already overwrote.

    Parameters
    ----------
    Im_in : (N, dim_im_in, dim_im_in, ch_im_in) int8 (or (N, size)). The C overwrites this buffer on
        the DSP path ("input-destructive"); this function works on a copy and never modifies it.
    dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out : the C's uint16_t geometry.
    path, release, truncate : REF/DSP body; both releases give the same bytes; truncate is unused.

    Returns
    -------
    (N, dim_im_out, dim_im_out, ch_im_in) int8

    Constraints: path="dsp" needs dim_im_out <= dim_im_in and no window of padding only
    (KernelArgumentError otherwise). Buffers: bufferA unused.
    """
    return _pool("arm_maxpool_q7_HWC", maxpool_ref, maxpool_dsp,
                 (Im_in, dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out), path, release,
                 truncate)


def arm_avepool_q7_HWC(Im_in, dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out, *,
                       path, release, truncate=False):
    """Q7 average pooling, square HWC, batched over the leading axis of `Im_in` (doc §3.2).

    Arithmetic, per output (oy, ox, c), windows as in arm_maxpool_q7_HWC:
        ref: out = int8(tdiv(sum of valid taps, number of valid taps))   # C division, toward zero
        dsp: x pass, in place, same windows as max pooling (start = ox when s < 0):
                 acc = row[start] as q15, then acc += row[x] for x in (start, stop)
                       (saturating q15 add on channel groups of 4, wrapping add on the last ch % 4)
                 row[ox] = int8(tdiv(acc, stop - start))
             y pass: the same accumulate-and-divide over rows max(s, 0) .. min(s + k, dim_im_in) of
                 the first dim_im_out*ch_im_in values (groups of 4 counted along that span).
    So the DSP result is a truncated average of truncated row averages: a 2x2 window whose rows sum
    to 1 and 3 gives 0 on DSP, 1 on REF. Only dim_kernel 1 always agrees.

    Parameters
    ----------
    Im_in : (N, dim_im_in, dim_im_in, ch_im_in) int8 (or (N, size)). The C overwrites this buffer on
        the DSP path; this function works on a copy and never modifies it.
    dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out : the C's uint16_t geometry.
    path, release, truncate : REF/DSP body; both releases give the same bytes; truncate is unused.

    Returns
    -------
    (N, dim_im_out, dim_im_out, ch_im_in) int8

    Constraints: no window of padding only on either path (REF divides by zero); path="dsp" also
    needs dim_im_out <= dim_im_in. Buffers: bufferA of 2*dim_im_out*ch_im_in bytes (q15) on DSP.
    """
    return _pool("arm_avepool_q7_HWC", avepool_ref, avepool_dsp,
                 (Im_in, dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out), path, release,
                 truncate)
