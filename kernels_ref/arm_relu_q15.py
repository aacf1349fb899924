"""Readable twin of CMSIS/NN/Source/ActivationFunctions/arm_relu_q15.c (REF branch)."""

from qsim.kernel_args import bind


def arm_relu_q15(data, size, *, path="ref", version="5.7.0", truncate=False):
    b = bind("arm_relu_q15", (data, size), {}, path=path, version=version, truncate=truncate)
    out = b["data"].copy()
    for n in range(b.n):
        for i in range(size):
            if out[n, i] < 0:
                out[n, i] = 0
    return out
