"""Call the real legacy CMSIS-NN functions with exactly the Python kernels' signature.

`CmsisLibrary(checkout, path, truncate).call("arm_fully_connected_q7", pV, pM, ...)` checks the
arguments with qsim.kernel_args.bind (the same checks as the numba kernels), then loops over the
batch calling the C function once per item, and returns the output shaped like the kernel's
(N,) + out_shape. Buffers are sized from qsim.cmsis_signatures, never from what the caller passes.

Every buffer the C sees (input copies, weights, outputs, scratch) sits between guard bytes; after
each call the guards are checked, and inputs declared const must be unchanged: a C function that
writes outside its buffers raises BufferOverrunError instead of silently corrupting memory. Input
copies are made per call because pooling on the DSP path overwrites its input, and RGB conv reads
one byte past its input (the guard absorbs the read). With sanitize=True the buffers are instead
exact-sized so AddressSanitizer's red zones catch reads as well as writes.
"""
import numpy as np

from cmsis_nn.build import build_library
from qsim.cmsis_signatures import CTYPES, SIGNATURES
from qsim.companion_signatures import COMPANION_SIGNATURES, signature
from qsim.errors import KernelArgumentError, QsimError
from qsim.kernel_args import bind

GUARD = 64             # bytes before and after every buffer (keeps data 16-byte aligned)
GUARD_BYTE = 0xA5
FILL_BYTE = 0x5A       # initial content of outputs and scratch (visible if read before written)
ARM_MATH_SUCCESS, ARM_MATH_SIZE_MISMATCH = 0, -3


class BufferOverrunError(QsimError):
    """The C function wrote outside a buffer, or into an input it declares const."""


class _Guarded:
    """A C buffer of `count` elements of `ctype`, with guard bytes on both sides."""

    def __init__(self, ffi, ctype, count, guard):
        self.ctype, self.count, self.guard = ctype, count, guard
        self.dtype = np.dtype(CTYPES[ctype])
        nbytes = count * self.dtype.itemsize
        self.raw = np.full(guard + nbytes + guard, GUARD_BYTE, np.uint8)
        self.data = self.raw[guard:guard + nbytes].view(self.dtype)
        self.ptr = ffi.cast(f"{ctype} *", ffi.cast("char *", ffi.from_buffer(self.raw)) + guard)

    def guards_intact(self):
        g = self.guard
        return bool(np.all(self.raw[:g] == GUARD_BYTE) and np.all(self.raw[len(self.raw) - g:] == GUARD_BYTE))


class CmsisLibrary:
    """The host build of one CMSIS_5 checkout, for one path ("ref"|"dsp") and rounding mode."""

    def __init__(self, checkout, path="ref", truncate=False, sanitize=False, opt="-O2"):
        self._attach(build_library(checkout, path, truncate, sanitize, opt), checkout, path, truncate,
                     sanitize)

    @classmethod
    def from_build(cls, build, sanitize=False):
        """Wrap an already built library with the same API (e.g. cmsis_nn.standin.build_standin)."""
        lib = cls.__new__(cls)
        lib._attach(build, getattr(build, "checkout", None), getattr(build, "path", "ref"),
                    build.truncate, sanitize)
        return lib

    def _attach(self, build, checkout, path, truncate, sanitize):
        self.build, self.checkout, self.path, self.truncate = build, checkout, path, bool(truncate)
        self.version = build.version
        self.ffi, self.lib = build.ffi, build.lib
        self._guard = 0 if sanitize else GUARD

    def call(self, c_name, *args, **kwargs):
        """Run `c_name` on every batch item; arguments as for qsim.kernels.KERNELS[c_name].

        Returns
        -------
        ndarray (N,) + out_shape: the 'out' buffer, or for in-place functions the new data.

        Raises
        ------
        KernelArgumentError for arguments bind() rejects or ARM_MATH_SIZE_MISMATCH from the C;
        BufferOverrunError when the C wrote outside a buffer or into a const input.
        """
        if c_name not in SIGNATURES and c_name not in COMPANION_SIGNATURES:
            raise KernelArgumentError(f"{c_name} is not a legacy CMSIS-NN function qsim knows. "
                                      f"help: one of {', '.join(sorted(SIGNATURES))}")
        sig = signature(c_name)
        # companion kernels have one C body: no path or release
        build = dict(path=self.path, release=self.version) if c_name in SIGNATURES else {}
        b = bind(c_name, args, kwargs, truncate=self.truncate, **build)
        bufs = {a.name: _Guarded(self.ffi, a.ctype, a.size(b), self._guard)
                for a in sig.args if a.role != "scalar"}
        for a in sig.args:
            if a.role == "const":
                bufs[a.name].data[:] = b[a.name]
        result_arg = next((a for a in sig.args if a.role == "out"), None) or \
            next(a for a in sig.args if a.role == "inout")
        result = np.empty((b.n, result_arg.size(b)), bufs[result_arg.name].dtype)
        c_fn = getattr(self.lib, c_name)
        for i in range(b.n):
            c_args = []
            for a in sig.args:
                if a.role == "scalar":
                    c_args.append(b[a.name])
                    continue
                buf = bufs[a.name]
                if a.role in ("batched", "inout"):
                    buf.data[:] = b[a.name][i]
                elif a.role in ("out", "scratch"):
                    buf.data.view(np.uint8)[:] = FILL_BYTE
                c_args.append(buf.ptr)
            status = c_fn(*c_args)
            self._check_buffers(c_name, sig, b, bufs, i)
            if sig.returns in ("arm_status", "int32_t") and status != ARM_MATH_SUCCESS:
                what = "ARM_MATH_SIZE_MISMATCH" if status == ARM_MATH_SIZE_MISMATCH else f"status {status}"
                raise KernelArgumentError(f"{c_name}: the C library returned {what} for batch item {i} "
                                          f"(CMSIS {self.version}, {self.path} path). help: check the "
                                          f"function's constraints in its docstring (channel counts, "
                                          f"kernel size, stride).")
            result[i] = bufs[result_arg.name].data
        return result.reshape((b.n,) + b.out_shape)

    def _check_buffers(self, c_name, sig, b, bufs, i):
        for a in sig.args:
            if a.role == "scalar":
                continue
            buf = bufs[a.name]
            if self._guard and not buf.guards_intact():
                raise BufferOverrunError(
                    f"{c_name}: the C function wrote outside '{a.name}' ({buf.count} x {a.ctype}) on batch "
                    f"item {i} (CMSIS {self.version}, {self.path} path). help: the geometry breaks an "
                    f"assumption of this path (semantics doc §8), or the size table is wrong.")
            if a.role == "batched" or a.role == "const":
                want = b[a.name][i] if a.role == "batched" else b[a.name]
                if not np.array_equal(buf.data, want):
                    raise BufferOverrunError(f"{c_name}: the C function modified its input '{a.name}' "
                                             f"on batch item {i} ({self.path} path).")
