"""Readable twin of CMSIS/NN/Source/ActivationFunctions/arm_relu_q7.c (REF branch)."""

from qsim.kernel_args import bind


def arm_relu_q7(data, size, *, path, release, truncate=False):
    b = bind("arm_relu_q7", (data, size), {}, path=path, release=release, truncate=truncate)
    out = b["data"].copy()
    for n in range(b.n):
        for i in range(size):
            if out[n, i] < 0:
                out[n, i] = 0
    return out
