"""Readable twin of codegen/companion/qsim_concat_channels.c (qsim's own C): channel-slice copy."""
from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind


def _concat(fn, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    pixels, ch_in, ch_out, off = b["num_pixels"], b["ch_im_in"], b["ch_im_out"], b["ch_offset"]
    if off + ch_in > ch_out:
        raise KernelArgumentError(f"{fn}: ch_offset + ch_im_in > ch_im_out")
    out = b["Im_out"].copy()
    for n in range(b.n):
        for p in range(pixels):
            for c in range(ch_in):
                out[n, p * ch_out + off + c] = b["Im_in"][n, p * ch_in + c]
    return out.reshape((b.n,) + b.out_shape)


def qsim_concat_channels_q7(Im_in, num_pixels, ch_im_in, Im_out, ch_im_out, ch_offset, *, truncate=False):
    return _concat("qsim_concat_channels_q7", (Im_in, num_pixels, ch_im_in, Im_out, ch_im_out, ch_offset),
                   truncate)


def qsim_concat_channels_q15(Im_in, num_pixels, ch_im_in, Im_out, ch_im_out, ch_offset, *, truncate=False):
    return _concat("qsim_concat_channels_q15", (Im_in, num_pixels, ch_im_in, Im_out, ch_im_out, ch_offset),
                   truncate)
