"""Time qsim's companion C functions over a batch in a C loop (no Python cost per item).

For each function a loop `loop_<name>(n, ...)` is generated from its qsim.companion_signatures
entry: every per-item buffer (input, in-place data, output) is passed with its per-item stride,
and the loop calls the function once per item, as a device would. The companion sources and the
loops are compiled together with gcc -O3 into one shared library, cached outside the repository
(~/.cache/qsim/bench-companion/, keyed by the sources).
"""
import hashlib
import os
import subprocess
import time
from pathlib import Path

import cffi
import numpy as np

from cmsis_nn.build import CDEF_TYPES, cache_root
from harness.companion import include_dirs, source_files
from qsim.cmsis_signatures import CTYPES
from qsim.companion_signatures import COMPANION_SIGNATURES
from qsim.kernel_args import bind

_PER_ITEM = ("batched", "inout", "out")


def _loop(sig):
    params, call = ["int n"], []
    for a in sig.args:
        if a.role == "scalar":
            params.append(f"{a.ctype} {a.name}")
            call.append(a.name)
        elif a.role in _PER_ITEM:
            params.append(f"{a.ctype} *{a.name}, long {a.name}_stride")
            call.append(f"{a.name} + (long)i * {a.name}_stride")
        else:
            params.append(f"{a.ctype} *{a.name}")
            call.append(a.name)
    proto = f"void loop_{sig.name}({', '.join(params)})"
    return proto + ";", proto + f" {{\n    for (int i = 0; i < n; i++)\n        (void){sig.name}({', '.join(call)});\n}}\n"


class CompanionLoop:
    """Batch loops in C over every companion function, compiled at `opt` with the kernels."""

    def __init__(self, opt="-O3"):
        loops = [_loop(s) for s in COMPANION_SIGNATURES.values()]
        self.cdef = CDEF_TYPES + "\n".join(p for p, _ in loops)
        source = ('#include <stdint.h>\n#include "qsim_companion.h"\n'
                  "typedef int8_t q7_t; typedef int16_t q15_t; typedef int32_t q31_t;\n"
                  + "".join(body for _, body in loops))
        h = hashlib.sha256((opt + source).encode())
        for f in sorted(Path(include_dirs()[0]).glob("*.[ch]")):
            h.update(f.read_bytes())
        out_dir = cache_root().parent / "bench-companion" / h.hexdigest()[:16]
        so = out_dir / "libloops.so"
        if not so.is_file():
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "loops.c").write_text(source)
            tmp = out_dir / f".libloops.{os.getpid()}.so"
            subprocess.run(["gcc", opt, "-std=c99", "-shared", "-fPIC", f"-I{include_dirs()[0]}", "-o", str(tmp),
                            str(out_dir / "loops.c"), *map(str, source_files())], check=True)
            os.replace(tmp, so)
        self.ffi = cffi.FFI()
        self.ffi.cdef(self.cdef)
        self.lib = self.ffi.dlopen(str(so))

    def time(self, name, args, repeat=7, clock=time.perf_counter):
        """Best seconds for one pass over the batch; args exactly as for the Python kernel.
        clock=time.process_time gives CPU seconds (the loop is one thread), which time spent
        waiting for a core on a shared machine does not inflate."""
        sig = COMPANION_SIGNATURES[name]
        b = bind(name, args, {})
        keep, c_args = [], [b.n]
        for a in sig.args:
            if a.role == "scalar":
                c_args.append(b[a.name])
                continue
            dtype = np.dtype(CTYPES[a.ctype])
            size = a.size(b)
            if a.role in ("batched", "inout"):
                arr = np.ascontiguousarray(b[a.name])
            elif a.role == "out":
                arr = np.empty((b.n, max(size, 1)), dtype)
            elif a.role == "const":
                arr = np.ascontiguousarray(b[a.name])
            else:
                arr = np.empty(max(size, 1), dtype)
            keep.append(arr)
            c_args.append(self.ffi.from_buffer(f"{a.ctype}[]", arr))
            if a.role in _PER_ITEM:
                c_args.append(size)
        fn = getattr(self.lib, f"loop_{name}")
        fn(*c_args)
        best = float("inf")
        for _ in range(repeat):
            t = clock()
            fn(*c_args)
            best = min(best, clock() - t)
        return best
