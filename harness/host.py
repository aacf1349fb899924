"""Build generated network C + a CMSIS-NN library for the host and run it with per-layer taps.

`HostNetwork(gen, library)` compiles the generated `<name>.c` with `-DQSIM_TAPS -std=c99 -Wall
-Wextra -Werror` and a small tap collector (below) into one shared library linked against the
library's own shared object (cmsis_nn.build for a real CMSIS_5 checkout, REF or DSP-emulation
path; cmsis_nn.standin otherwise), loaded with cffi in ABI mode. `run(x_ints)` calls
`<name>_run` once per input and returns the output and every layer's tapped bytes.
`run_host` is harness.parity's "host" target.

Builds are cached under ~/.cache/qsim/network/ (or $QSIM_CACHE_DIR/network/), keyed by a hash of
the generated files, the flags, the library's shared object and the compiler version.
"""
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cffi
import numpy as np

from codegen.generate import companion_sources
from cmsis_nn.build import SANITIZE_FLAGS, build_library, cache_root, compiler_id, require_asan_runtime
from cmsis_nn.standin import HOST_FLAGS, build_standin, defines, include_dirs, source_files
from qsim.cmsis_signatures import CTYPES
from qsim.errors import BuildError, QsimError, ShapeError
from qsim.names import c_prefix

from .target_run import TargetRun, sim_graph_for

log = logging.getLogger(__name__)

NET_FLAGS = ("-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror", "-fwrapv",
             "-fno-strict-aliasing", "-DQSIM_TAPS")
TAP_GLUE = r"""/* qsim host harness: copies each qsim_tap() into the buffer Python registered. */
#include <stddef.h>
#include <string.h>

#include "{prefix}.h"

void qsim_host_set_taps(unsigned char *dst, const size_t *offsets, const size_t *lengths, int n);
int qsim_host_tap_errors(void);

static unsigned char *qh_dst;
static const size_t *qh_off;
static const size_t *qh_len;
static int qh_n;
static int qh_errors;

void qsim_host_set_taps(unsigned char *dst, const size_t *offsets, const size_t *lengths, int n)
{{
    qh_dst = dst;
    qh_off = offsets;
    qh_len = lengths;
    qh_n = n;
    qh_errors = 0;
}}

int qsim_host_tap_errors(void)
{{
    return qh_errors;
}}

void qsim_tap(int layer_index, const void *data, size_t bytes)
{{
    if (qh_dst == NULL || layer_index < 0 || layer_index >= qh_n || bytes != qh_len[layer_index]) {{
        ++qh_errors;
        return;
    }}
    memcpy(qh_dst + qh_off[layer_index], data, bytes);
}}
"""


@dataclass(frozen=True)
class Library:
    """Which CMSIS-NN implementation to link: a real checkout build or the stand-in."""
    label: str                 # "CMSIS_5 5.9.0" or "stand-in"
    version: str               # release semantics it implements
    path: str                  # "ref" | "dsp"
    so_path: Path | None       # shared object to link against (None: compile `sources` in)
    include_dirs: tuple
    sources: tuple = ()        # compiled into the network library (stand-in with sanitize)
    source_flags: tuple = ()
    sanitize: bool = False
    truncate: bool = False     # built with ARM_NN_TRUNCATE (the companion C is compiled alike)


def cmsis_library(checkout, path="ref", truncate=False, sanitize=False) -> Library:
    build = build_library(checkout, path, truncate, sanitize)
    return Library(f"CMSIS_5 {checkout.version}", checkout.version, path, build.so_path,
                   tuple(map(str, checkout.include_dirs)), sanitize=sanitize, truncate=bool(truncate))


def standin_library(version="5.9.0", truncate=False, sanitize=False) -> Library:
    if sanitize:   # the stand-in build has no sanitize option: compile its sources in
        flags = tuple(HOST_FLAGS) + tuple(f"-D{d}" for d in defines(version, truncate))
        return Library("stand-in", version, "ref", None, include_dirs(),
                       tuple(map(str, source_files())), flags, True, bool(truncate))
    build = build_standin(version, truncate)
    return Library("stand-in", version, "ref", build.so_path, include_dirs(), truncate=bool(truncate))




class HostNetwork:
    """A generated network (codegen.generate.GeneratedNetwork) built and loaded for the host."""

    def __init__(self, gen, library: Library):
        self.gen, self.library = gen, library
        self.prefix = gen.name
        if c_prefix(gen.name) != gen.name:      # it goes into C, file names and the cffi cdef
            raise BuildError(f"generated network name {gen.name!r:.80} is not a safe C prefix "
                             "(qsim.names.c_prefix); help: render it with codegen.generate.render")
        plan = gen.plan
        self.in_dtype = np.dtype(CTYPES[plan.input_ctype])
        self.out_dtype = np.dtype(CTYPES[plan.output_ctype])
        self.n_in = plan.input_bytes // self.in_dtype.itemsize
        self.n_out = plan.output_bytes // self.out_dtype.itemsize
        self.tap_bytes = [s.out_bytes for s in plan.steps]
        self.tap_offsets = np.concatenate([[0], np.cumsum(self.tap_bytes)[:-1]]).astype(np.uintp)
        self.tap_dtypes = [np.dtype(CTYPES[s.out_ctype]) for s in plan.steps]
        self.so_path = self._build()
        if library.sanitize:
            require_asan_runtime()       # dlopen of an ASan library fails without it
        self.ffi = cffi.FFI()
        self.ffi.cdef(f"""
            int {self.prefix}_run(const {_c(plan.input_ctype)} *input, {_c(plan.output_ctype)} *output);
            void qsim_host_set_taps(unsigned char *dst, const size_t *offsets, const size_t *lengths, int n);
            int qsim_host_tap_errors(void);""")
        self.lib = self.ffi.dlopen(str(self.so_path))

    def _build(self) -> Path:
        cc = os.environ.get("CC", "gcc")
        lib = self.library
        flags = list(NET_FLAGS) + (list(SANITIZE_FLAGS) if lib.sanitize else []) + \
            ["-DARM_NN_TRUNCATE"] * lib.truncate      # the companion kernels round as the library
        h = hashlib.sha256()
        for part in (" ".join(flags), compiler_id(cc), repr(lib), TAP_GLUE):
            h.update(part.encode() + b"\0")
        for name in sorted(self.gen.files):
            h.update(name.encode() + b"\0" + self.gen.files[name].encode() + b"\0")
        for f in ([lib.so_path] if lib.so_path else []) + [Path(s) for s in lib.sources]:
            h.update(Path(f).read_bytes())
        out_dir = cache_root().parent / "network" / f"{self.prefix}-{h.hexdigest()[:16]}"
        so = out_dir / f"lib{self.prefix}_net.so"
        if so.is_file():
            return so
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir.parent))
        try:
            for name, text in self.gen.files.items():
                (tmp / name).write_text(text)
            (tmp / "qsim_host_taps.c").write_text(TAP_GLUE.format(prefix=self.prefix))
            inc = [f"-I{tmp}"] + [f"-I{d}" for d in lib.include_dirs]
            objs = []
            companion = companion_sources(self.gen.files)     # qsim's own kernels, if any
            for src in (f"{self.prefix}.c", "qsim_host_taps.c", *companion):
                obj = tmp / (src + ".o")
                self._cc([cc, *flags, *inc, "-c", str(tmp / src), "-o", str(obj)], src)
                objs.append(str(obj))
            for i, src in enumerate(lib.sources):
                obj = tmp / f"lib{i}.o"
                self._cc([cc, *lib.source_flags, "-fPIC", *SANITIZE_FLAGS, *inc, "-c", src, "-o",
                          str(obj)], Path(src).name)
                objs.append(str(obj))
            link = [cc, "-shared", *(SANITIZE_FLAGS if lib.sanitize else ()), "-o",
                    str(tmp / so.name), *objs] + ([str(lib.so_path)] if lib.so_path else ["-lm"])
            self._cc(link, "link")
            try:
                os.replace(tmp, out_dir)
            except OSError:
                if not so.is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return so

    @staticmethod
    def _cc(cmd, what):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
            raise BuildError(f"compiling the generated network ({what}) failed (exit "
                             f"{proc.returncode}):\n{tail}\ncommand: {' '.join(cmd)}")

    def run(self, x_ints):
        """Run every input through `<name>_run`.

        Parameters
        ----------
        x_ints : integer array (N, ...) whose items hold INPUT_SIZE values each

        Returns
        -------
        (outputs (N, OUTPUT_SIZE), taps: list per layer of (N, values) arrays, statuses (N,))
        """
        x = np.ascontiguousarray(np.asarray(x_ints).reshape(len(x_ints), -1)).astype(self.in_dtype)
        if x.shape[1] != self.n_in:
            raise ShapeError(f"{self.prefix}_run takes {self.n_in} values per input, got {x.shape[1]}")
        n = len(x)
        outputs = np.zeros((n, self.n_out), self.out_dtype)
        tap_raw = np.zeros((n, int(sum(self.tap_bytes))), np.uint8)
        lengths = np.asarray(self.tap_bytes, np.uintp)
        offsets, statuses = self.tap_offsets, np.zeros(n, np.int32)
        ptr = self.ffi.from_buffer
        run = getattr(self.lib, f"{self.prefix}_run")
        for i in range(n):
            row, out = tap_raw[i], outputs[i]
            self.lib.qsim_host_set_taps(ptr("unsigned char[]", row), ptr("size_t[]", offsets),
                                        ptr("size_t[]", lengths), len(lengths))
            statuses[i] = run(ptr(f"{_c_name(self.in_dtype)}[]", x[i]),
                              ptr(f"{_c_name(self.out_dtype)}[]", out))
            if self.lib.qsim_host_tap_errors():
                raise BuildError(f"{self.prefix}: qsim_tap was called with an unexpected layer "
                                 "index or size; the generated code and its plan disagree")
        taps = [tap_raw[:, o:o + b].copy().view(dt) for o, b, dt in
                zip(offsets, self.tap_bytes, self.tap_dtypes)]
        return outputs, taps, statuses


def _c(ctype):
    return {"q7_t": "int8_t", "q15_t": "int16_t", "q31_t": "int32_t"}[ctype]


def _c_name(dtype):
    return {1: "int8_t", 2: "int16_t", 4: "int32_t"}[dtype.itemsize]


def run_host(gen, graph, x_ints, options) -> TargetRun:
    """Parity runner for harness.parity's "host" target: the real CMSIS-NN host build
    (options["cmsis"], a CmsisCheckout) or the stand-in, optionally with AddressSanitizer."""
    q = graph.quant
    checkout, sanitize = options.get("cmsis"), bool(options.get("sanitize"))
    notes = []
    if checkout is not None:
        lib = cmsis_library(checkout, q.path, q.truncate, sanitize)
        label = f"CMSIS_5 {checkout.version} ({q.path} path{', sanitize' if sanitize else ''})"
    else:
        if q.path != "ref":
            raise QsimError("the stand-in implements only the REF path; this graph was quantized "
                            "for path 'dsp'. help: pass --cmsis PATH (the host DSP emulation build)")
        version = options.get("standin_version") or q.version
        lib = standin_library(version, q.truncate, sanitize)
        label = (f"stand-in ({version} REF semantics; NOT CMSIS: checks the generated code and "
                 "harness, not parity with Arm's library)")
    if lib.version != q.version:
        notes.append(f"note: graph quantized for CMSIS {q.version}; simulated as {lib.version} to "
                     "match the library")
    outputs, taps, statuses = HostNetwork(gen, lib).run(x_ints)
    return TargetRun(outputs, taps, statuses, label, sim_graph_for(graph, lib.version, lib.path),
                     notes)
