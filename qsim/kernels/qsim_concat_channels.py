"""Companion kernels of codegen/companion/qsim_concat_channels.c (qsim's own C, not CMSIS): one
input copied into its channel slice of an HWC output, q7 and q15.

The public functions return a new output (a copy of Im_out with the slice written);
`concat_into` writes the slice in place as the C does, for the simulator's engine, which writes
every input of a concat into one output buffer. A pure copy: memory-bound, and the functional
form moves the whole output besides the slice (BENCHMARKS.md has the bandwidth figures). Single
path, no arithmetic: no path/release options; `truncate` is accepted for a uniform call and
changes nothing.
"""
import numpy as np
from numba import njit, prange, uint64

from ..kernel_args import bind
from ._companion import refuse


@njit(cache=True, nogil=True, parallel=True)
def _concat(src, pixels, ch_in, dst, ch_out, off):
    """dst[n, p*ch_out + off + c] = src[n, p*ch_in + c] (flat per item, in place)."""
    for n in prange(src.shape[0]):
        s, d = src[n], dst[n]
        for p in range(pixels):
            si, di = uint64(p * ch_in), uint64(p * ch_out + off)
            for c in range(uint64(ch_in)):
                d[di + c] = s[si + c]


def concat_into(Im_in, ch_offset, Im_out):
    """Write Im_in (N, P, ch_in) into channels [ch_offset, ch_offset + ch_in) of Im_out (N, P,
    ch_out), in place; both C-contiguous of one dtype, checked by the caller (qsim.simulate)."""
    n, pixels, ch_in = Im_in.shape
    _concat(Im_in.reshape(n, -1), pixels, ch_in, Im_out.reshape(n, -1), Im_out.shape[-1], ch_offset)
    return Im_out


def _pixels(x, ch):
    """An (N, H, W, ch) image as (N, H*W, ch): the copy only needs pixels x channels (bind then
    checks H*W against num_pixels); anything else is left for bind to check."""
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1, ch) if x.ndim > 3 and x.shape[-1] == ch else x


def _run(fn, args, truncate):
    im_in, pixels, ch_in, im_out, ch_out, off = args
    args = (_pixels(im_in, ch_in), pixels, ch_in, _pixels(im_out, ch_out), ch_out, off)
    b = bind(fn, args, {}, truncate=truncate)
    ch_in, ch_out, off = b["ch_im_in"], b["ch_im_out"], b["ch_offset"]
    refuse(fn, off + ch_in <= ch_out, f"ch_offset + ch_im_in = {off + ch_in} > ch_im_out = {ch_out}",
           "the slice must fit in the output's channels")
    out = np.array(b["Im_out"], order="C").reshape((b.n,) + b.out_shape)
    if out.size and ch_in:
        _concat(np.ascontiguousarray(b["Im_in"]).reshape(b.n, -1), b["num_pixels"], ch_in,
                out.reshape(b.n, -1), ch_out, off)
    return out


def qsim_concat_channels_q7(Im_in, num_pixels, ch_im_in, Im_out, ch_im_out, ch_offset, *, truncate=False):
    """Copy a q7 HWC tensor into channels [ch_offset, ch_offset + ch_im_in) of another, batched.

    Arithmetic: Im_out[p, ch_offset + c] = Im_in[p, c] for every pixel p < num_pixels and
    c < ch_im_in; the other channels keep Im_out's values. k inputs concatenated along channels
    are k calls, each with ch_offset = the channels before it.

    Parameters
    ----------
    Im_in : (N, num_pixels * ch_im_in), (N, num_pixels, ch_im_in) or an (N, H, W, ch_im_in)
        image with H*W = num_pixels, int8
    Im_out : the output so far (the C writes into it), int8, in the same forms with ch_im_out

    Returns
    -------
    (N, num_pixels, ch_im_out) int8, the new output; the caller's arrays are not modified.

    Constraints: ch_offset + ch_im_in <= ch_im_out. Buffers: none.
    """
    return _run("qsim_concat_channels_q7", (Im_in, num_pixels, ch_im_in, Im_out, ch_im_out, ch_offset),
                truncate)


def qsim_concat_channels_q15(Im_in, num_pixels, ch_im_in, Im_out, ch_im_out, ch_offset, *, truncate=False):
    """Channel concat of q15 data: as qsim_concat_channels_q7 on int16."""
    return _run("qsim_concat_channels_q15", (Im_in, num_pixels, ch_im_in, Im_out, ch_im_out, ch_offset),
                truncate)
