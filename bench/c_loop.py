"""Time a CMSIS-NN function over a batch in a C loop, so the real-C column carries no Python cost.

The loop library is compiled next to the CMSIS build it times (outside the repository) and calls
the CMSIS function through a pointer taken from the loaded cffi library.
"""
import subprocess
import time
from pathlib import Path

import cffi
import numpy as np

from qsim.cmsis_signatures import SIGNATURES
from qsim.kernel_args import bind

_TYPES = "typedef signed char q7_t; typedef short q15_t; typedef int q31_t; typedef int arm_status;"
_CONV = SIGNATURES["arm_convolve_HWC_q7_basic_nonsquare"]   # same prototype as the other nonsquare q7
_FC = SIGNATURES["arm_fully_connected_q7"]


def _params(sig):
    return ", ".join(f"uint16_t {a.name}" if a.role == "scalar" else f"const q7_t *{a.name}"
                     for a in sig.args if a.role in ("scalar", "const"))


def _call_args(sig, batched, out):
    names = {"batched": batched, "out": out}
    return ", ".join(names.get(a.role, a.name) for a in sig.args)


def _fn_type(sig, name):
    return sig.cdecl().replace(f"{sig.name}(", f"(*{name})(")


PROTOS = f"""
typedef {_fn_type(_CONV, "conv_fn")}
typedef {_fn_type(_FC, "fc_fn")}
void loop_conv(conv_fn f, int n, const q7_t *im, int in_size, q7_t *Im_out_all, int out_size,
               q15_t *bufferA, q7_t *bufferB, {_params(_CONV)});
void loop_fc(fc_fn f, int n, const q7_t *vec, q7_t *out_all, q15_t *vec_buffer, {_params(_FC)});
"""
SOURCE = "#include <stdint.h>\n" + _TYPES + PROTOS + f"""
void loop_conv(conv_fn f, int n, const q7_t *im, int in_size, q7_t *Im_out_all, int out_size,
               q15_t *bufferA, q7_t *bufferB, {_params(_CONV)}) {{
    for (int i = 0; i < n; i++)
        f({_call_args(_CONV, "im + i * in_size", "Im_out_all + i * out_size")});
}}
void loop_fc(fc_fn f, int n, const q7_t *vec, q7_t *out_all, q15_t *vec_buffer, {_params(_FC)}) {{
    for (int i = 0; i < n; i++)
        f({_call_args(_FC, "vec + i * dim_vec", "out_all + i * num_of_rows")});
}}
"""


class CLoop:
    """Batch loops in C over the functions of one CmsisBuild (conv nonsquare q7, fc q7)."""

    def __init__(self, build, opt="-O3"):
        self.build = build
        out_dir = Path(build.so_path).parent
        c_file, so = out_dir / "qsim_bench_loop.c", out_dir / f"libqsim_bench_loop{opt}.so"
        c_file.write_text(SOURCE)
        subprocess.run(["gcc", opt, "-std=c99", "-shared", "-fPIC", "-o", str(so), str(c_file)],
                       check=True)
        self.ffi = cffi.FFI()
        self.ffi.cdef(_TYPES + PROTOS)
        self.lib = self.ffi.dlopen(str(so))

    def _fn(self, c_name, typedef):
        addr = int(self.build.ffi.cast("uintptr_t", getattr(self.build.lib, c_name)))
        return self.ffi.cast(typedef, addr)

    def time(self, c_name, args, repeat=7):
        """Best seconds for one pass over the batch; args exactly as for the Python kernel."""
        b = bind(c_name, args, {}, path="ref", release=self.build.version)
        ctype = {np.dtype(np.int8): "q7_t[]", np.dtype(np.int16): "q15_t[]"}
        p = lambda a: self.ffi.from_buffer(ctype[a.dtype], a)
        out = np.empty((b.n, int(np.prod(b.out_shape))), np.int8)
        if c_name == "arm_fully_connected_q7":
            buf = np.empty(b["dim_vec"], np.int16)
            consts = [b[a.name] if a.role == "scalar" else p(b[a.name])
                      for a in _FC.args if a.role in ("scalar", "const")]
            call = lambda: self.lib.loop_fc(self._fn(c_name, "fc_fn"), b.n, p(b["pV"]), p(out),
                                            p(buf), *consts)
        else:
            sig = SIGNATURES[c_name]
            buf = np.empty(sig.arg("bufferA").size(b), np.int16)
            consts = [b[a.name] if a.role == "scalar" else p(b[a.name])
                      for a in sig.args if a.role in ("scalar", "const")]
            call = lambda: self.lib.loop_conv(self._fn(c_name, "conv_fn"), b.n, p(b["Im_in"]),
                                              b["Im_in"].shape[1], p(out), out.shape[1], p(buf),
                                              self.ffi.NULL, *consts)
        call()
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - t)
        return best
