"""Whole-network parity on Cortex-M under QEMU: targets "cortex-m4" (mps2-an386) and "cortex-m3"
(mps2-an385) of harness/parity.py.

The generated network (`-DQSIM_TAPS`), our test main (harness/c/qsim_net_main.c) and a static
archive of the CMSIS-NN legacy sources (or of qsim's stand-in) are built with arm-none-eabi-gcc
(`-mcpu=<cpu> -mthumb -O2 -fwrapv -fno-strict-aliasing`) and run under qemu-system-arm: the
batch goes in through a semihosting file, every layer's output comes back through another.
arm-none-eabi-gcc selects CMSIS-NN's DSP path for cortex-m4 (__ARM_FEATURE_DSP) and the REF
path for cortex-m3, so the simulator runs with that path. The stand-in is portable C with REF
semantics on both cpus: on cortex-m4 it checks the M4 build and board, and is compared with
path "ref" (the report says so).

Per-layer cost: the instruction-count TCG plugin (harness/c/insn_count_plugin.c) records a mark
before each run and on entry and exit of every tap, so layer k's count is the instructions from
the end of tap k-1 to the start of tap k, averaged over the inputs: the CMSIS call(s), the
generated code's copies and argument set-up, plus a few instructions of tap-call overhead. QEMU
counts executed instructions, not cycles. Footprint: arm-none-eabi-size of the ELF and of the
network object alone (compiled without taps, as an application would), and the bytes of the
CMSIS-NN symbols the ELF links.

CMSIS archives are cached per checkout, cpu and flags under ~/.cache/qsim/qemu/ (qemu.cache_dir).
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codegen.generate import companion_sources
from cmsis_nn.locate import HEADERS
from cmsis_nn.standin import STANDIN_DIR, defines, include_dirs, source_files
from qsim.cmsis_signatures import CTYPES
from qsim.errors import BuildError, QsimError, ToolchainMissing
from qsim.names import c_prefix
from qsim.simulate import simulate

from .qemu import (BOARDS, C_DIR, TARGET_FLAGS, QemuTimeout, build_elf, cache_dir, compile_cached,
                   run_elf)
from .target_run import TargetRun, sim_graph_for

from qsim.releases import TARGET_PATH as CPU_PATH  # noqa: E402
INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-ar", "arm-none-eabi-size", "arm-none-eabi-nm",
         "qemu-system-arm")
LIB_FLAGS = ("-mthumb", "-mfloat-abi=soft", "-std=c99", "-O2", "-fwrapv", "-fno-strict-aliasing",
             "-ffunction-sections", "-fdata-sections")
NET_FLAGS = ("-fwrapv", "-fno-strict-aliasing", "-fdata-sections", "-Werror")
MAIN = C_DIR / "qsim_net_main.c"
EXIT_CODES = {200: "could not read its input file", 201: "could not write its output file",
              202: "qsim_tap was called out of order or with more bytes than the plan says"}
CONFIG = """/* qsim: configuration of harness/c/qsim_net_main.c for '{prefix}' */
#include "{prefix}.h"
#define QSIM_NET_RUN {prefix}_run
#define QSIM_NET_IN_T {in_t}
#define QSIM_NET_OUT_T {out_t}
#define QSIM_NET_INPUT_SIZE {up}_INPUT_SIZE
#define QSIM_NET_OUTPUT_SIZE {up}_OUTPUT_SIZE
#define QSIM_NET_NUM_LAYERS {up}_NUM_LAYERS
#define QSIM_NET_TAP_BYTES {tap_bytes}
"""


@dataclass(frozen=True)
class TargetLibrary:
    """A CMSIS-NN implementation compiled for one cpu into a static archive."""
    label: str
    version: str
    path: str             # arithmetic it implements on this cpu: "ref" | "dsp"
    archive: Path
    include_dirs: tuple
    truncate: bool = False  # built with ARM_NN_TRUNCATE (the companion C is compiled alike)


def require_toolchain():
    """Raise ToolchainMissing naming every missing program (and newlib) and what to install."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if "arm-none-eabi-gcc" not in missing:
        rdimon = subprocess.run(["arm-none-eabi-gcc", "-print-file-name=librdimon.a"],
                                capture_output=True, text=True).stdout.strip()
        if not os.path.isabs(rdimon):
            missing.append("newlib's librdimon.a")
    if missing:
        raise ToolchainMissing(f"Cortex-M parity needs {', '.join(missing)}, not found. "
                               f"help: {INSTALL}")


def _tool_id(program):
    out = subprocess.run([program, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else program


def _archive(tag, sources, flags, key_parts):
    """Compile `sources` with `flags` into a cached static archive; returns its path."""
    h = hashlib.sha256()
    for part in [" ".join(flags), _tool_id("arm-none-eabi-gcc"), *key_parts]:
        h.update((part if isinstance(part, bytes) else str(part).encode()) + b"\0")
    for src in sources:
        h.update(Path(src).name.encode() + b"\0" + Path(src).read_bytes() + b"\0")
    out_dir = cache_dir() / f"lib-{tag}-{h.hexdigest()[:16]}"
    archive = out_dir / "libnn.a"
    if archive.is_file():
        return archive
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".lib-", dir=out_dir.parent))
    try:
        for cmd in (["arm-none-eabi-gcc", *flags, "-c", *map(str, sources)],
                    ["arm-none-eabi-ar", "rcs", "libnn.a"] + [f"{Path(s).stem}.o" for s in sources]):
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
                raise BuildError(f"building the {tag} library failed (exit {proc.returncode}):\n"
                                 f"{tail}\ncommand: {' '.join(cmd)}")
        try:
            os.replace(tmp, out_dir)
        except OSError:               # another process built it first
            if not archive.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return archive


def cmsis_target_library(checkout, cpu, truncate=False) -> TargetLibrary:
    """The checkout's 34 legacy sources for `cpu` (DSP path on cortex-m4, REF on cortex-m3)."""
    flags = [f"-mcpu={cpu}", *LIB_FLAGS] + [f"-I{d}" for d in checkout.include_dirs]
    flags += ["-DARM_NN_TRUNCATE"] * bool(truncate)
    headers = [(checkout.root / h).read_bytes() for h in HEADERS[checkout.version]]
    archive = _archive(f"cmsis-{checkout.version}-{cpu}", checkout.source_files, flags,
                       [checkout.version, *headers])
    return TargetLibrary(f"CMSIS_5 {checkout.version}", checkout.version, CPU_PATH[cpu], archive,
                         tuple(map(str, checkout.include_dirs)), bool(truncate))


def standin_target_library(version, cpu, truncate=False) -> TargetLibrary:
    """qsim's stand-in (NOT CMSIS; REF semantics on every cpu) for `cpu`."""
    flags = [f"-mcpu={cpu}", *LIB_FLAGS, "-Wall", "-Wextra", "-Werror", *(f"-I{d}" for d in include_dirs())]
    flags += [f"-D{d}" for d in defines(version, truncate)]
    headers = [p.read_bytes() for p in sorted(STANDIN_DIR.glob("*.h"))]
    archive = _archive(f"standin-{version}-{cpu}", source_files(), flags, headers)
    return TargetLibrary("stand-in", version, "ref", archive, include_dirs(), bool(truncate))


def _size(path):
    """(text, data, bss) bytes from arm-none-eabi-size (Berkeley format)."""
    out = subprocess.run(["arm-none-eabi-size", str(path)], capture_output=True, text=True, check=True)
    text, data, bss = out.stdout.splitlines()[1].split()[:3]
    return int(text), int(data), int(bss)


def _symbols(path):
    """{name: size} of the defined, sized symbols of an archive or ELF (arm-none-eabi-nm -S)."""
    cmd = ["arm-none-eabi-nm", "-S", "--defined-only", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {p[3]: int(p[1], 16) for p in (ln.split() for ln in out.splitlines()) if len(p) == 4}


@dataclass
class Footprint:
    elf: tuple            # (text, data, bss) of the whole program (harness, newlib included)
    network: tuple        # (text, data, bss) of the generated network object without taps
    cmsis_bytes: int      # CMSIS-NN code + tables linked into the ELF (symbol sizes)

    def lines(self):
        fmt = lambda s: f"text {s[0]} B, data {s[1]} B, bss {s[2]} B"
        net_flash, net_ram = self.network[0] + self.network[1], self.network[1] + self.network[2]
        return [f"footprint ELF (harness, newlib, taps included): {fmt(self.elf)}",
                f"footprint network object (no taps): {fmt(self.network)} -> flash {net_flash} B "
                f"(code + weights), RAM {net_ram} B (arena + scratch)",
                f"footprint CMSIS-NN code + tables linked: {self.cmsis_bytes} B flash; network "
                f"total flash {net_flash + self.cmsis_bytes} B"]


class CortexMNetwork:
    """A generated network (codegen.generate.GeneratedNetwork) built for a cpu and run in QEMU."""

    def __init__(self, gen, library: TargetLibrary, cpu):
        if cpu not in BOARDS:
            raise QsimError(f"cpu {cpu!r} is not one of {', '.join(BOARDS)}")
        require_toolchain()
        self.gen, self.library, self.cpu, self.prefix = gen, library, cpu, gen.name
        if c_prefix(gen.name) != gen.name:      # it goes into C, file names and the cffi cdef
            raise QsimError(f"generated network name {gen.name!r:.80} is not a safe C prefix "
                             "(qsim.names.c_prefix); help: render it with codegen.generate.render")
        plan = gen.plan
        self.in_dtype = np.dtype(CTYPES[plan.input_ctype])
        self.out_dtype = np.dtype(CTYPES[plan.output_ctype])
        self.n_in = plan.input_bytes // self.in_dtype.itemsize
        self.tap_bytes = [s.out_bytes for s in plan.steps]
        self.tap_dtypes = [np.dtype(CTYPES[s.out_ctype]) for s in plan.steps]
        if len(self.tap_bytes) >= min(EXIT_CODES):
            raise QsimError(f"{len(self.tap_bytes)} layers: the exit status cannot name a failing "
                            f"layer beyond {min(EXIT_CODES) - 1}")
        self.src_dir = self._write_sources()
        includes = [self.src_dir, *library.include_dirs]
        net_c = self.src_dir / f"{self.prefix}.c"
        companion = [self.src_dir / f for f in companion_sources(self.gen.files)]  # qsim's own C
        self.elf = build_elf([MAIN, net_c, *companion, library.archive], includes, cpu,
                             ["QSIM_TAPS"] + ["ARM_NN_TRUNCATE"] * library.truncate, NET_FLAGS)
        self.net_obj = self._network_object(net_c, includes)

    def _write_sources(self):
        """Generated files + config header in a folder named by their content (so builds cache)."""
        plan = self.gen.plan
        files = dict(self.gen.files)
        files["qsim_net_config.h"] = CONFIG.format(
            prefix=self.prefix, up=self.prefix.upper(), in_t=plan.input_ctype,
            out_t=plan.output_ctype, tap_bytes=max(1, sum(self.tap_bytes)))
        h = hashlib.sha256()
        for name in sorted(files):
            h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
        folder = cache_dir() / f"src-{self.prefix}-{h.hexdigest()[:16]}"
        if not folder.is_dir():
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".src-", dir=folder.parent))
            for name, text in files.items():
                (tmp / name).write_text(text)
            try:
                os.replace(tmp, folder)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        return folder

    def _network_object(self, net_c, includes):
        flags = [f"-mcpu={self.cpu}", *TARGET_FLAGS, *NET_FLAGS] + [f"-I{d}" for d in includes]
        inputs = [" ".join(flags), _tool_id("arm-none-eabi-gcc"), net_c.read_bytes()]
        return compile_cached(lambda out: ["arm-none-eabi-gcc", *flags, "-c", str(net_c), "-o", str(out)],
                               inputs, f"{self.prefix}.o", f"the {self.prefix} network object")

    def footprint(self) -> Footprint:
        lib_syms = _symbols(self.library.archive)
        cmsis = sum(size for name, size in _symbols(self.elf).items() if name in lib_syms)
        return Footprint(_size(self.elf), _size(self.net_obj), cmsis)

    def run(self, x_ints, timeout=600.0, count_insns=True):
        """Run every input; returns (outputs, taps per layer (N, values), statuses, insns) where
        insns is the mean instruction count per layer (None without counts or after a failure)."""
        x = np.ascontiguousarray(np.asarray(x_ints).reshape(len(x_ints), -1)).astype(self.in_dtype)
        if x.shape[1] != self.n_in:
            raise QsimError(f"{self.prefix}_run takes {self.n_in} values per input, got {x.shape[1]}")
        n = len(x)
        with tempfile.TemporaryDirectory(prefix="qsim-cm-") as work:
            Path(work, "qsim_in.bin").write_bytes(np.uint32(n).tobytes() + x.tobytes())
            try:
                run = run_elf(self.elf, BOARDS[self.cpu], work, timeout, count_insns)
            except QemuTimeout as e:
                raise QemuTimeout(f"{e} ({n} inputs; help: pass fewer inputs (--inputs) or a "
                                  "longer timeout (--timeout)") from None
            raw = run.files.get("qsim_out.bin", b"")
        if run.exit_code in EXIT_CODES or run.exit_code >= 0xF0:
            why = EXIT_CODES.get(run.exit_code, f"faulted (exception {run.exit_code - 0xF0})")
            raise QsimError(f"the {self.cpu} program {why} (exit status {run.exit_code}); "
                            f"stdout: {run.stdout[-500:]!r} stderr: {run.stderr[-500:]!r}")
        n_out = self.gen.plan.output_bytes
        rec = 4 + n_out + sum(self.tap_bytes)
        if len(raw) != n * rec:
            raise QsimError(f"the {self.cpu} program wrote {len(raw)} bytes, expected {n * rec} "
                            f"(exit status {run.exit_code})")
        rows = np.frombuffer(raw, np.uint8).reshape(n, rec)
        statuses = rows[:, :4].copy().view(np.int32).ravel()
        outputs = rows[:, 4:4 + n_out].copy().view(self.out_dtype)
        taps, at = [], 4 + n_out
        for nbytes, dt in zip(self.tap_bytes, self.tap_dtypes):
            taps.append(rows[:, at:at + nbytes].copy().view(dt))
            at += nbytes
        insns = None
        if run.insn_counts is not None and not statuses.any():
            insns = self._layer_insns(run.insn_counts.marks)
        return outputs, taps, statuses, insns

    def _layer_insns(self, marks):
        """Mean instructions per layer from the marks (1 per run + 2 per tap, per input); inputs
        beyond the plugin's mark limit are left out."""
        per = 1 + 2 * len(self.tap_bytes)
        complete = len(marks) // per
        if not complete:
            return None
        m = np.asarray(marks[:complete * per], np.int64).reshape(complete, per)
        starts = m[:, 0:per - 1:2]           # run start, then each tap's exit
        ends = m[:, 1::2]                    # each tap's entry
        return (ends - starts).mean(axis=0)


def run_target(cpu, gen, graph, x_ints, options) -> TargetRun:
    """Parity runner for harness.parity: build for `cpu`, run, and say which path is simulated."""
    q = graph.quant
    checkout = options.get("cmsis")
    notes = []
    if options.get("sanitize"):
        raise QsimError("--sanitize is for the host target only (QEMU has no AddressSanitizer)")
    require_toolchain()
    if checkout is not None:
        lib = cmsis_target_library(checkout, cpu, q.truncate)
        label = f"CMSIS_5 {checkout.version} ({lib.path} path, arm-none-eabi-gcc -mcpu={cpu})"
    else:
        version = options.get("standin_version") or q.version
        lib = standin_target_library(version, cpu, q.truncate)
        label = (f"stand-in ({version} REF semantics, arm-none-eabi-gcc -mcpu={cpu}; NOT CMSIS: "
                 "checks the generated code and harness, not parity with Arm's library)")
        if CPU_PATH[cpu] != "ref":
            notes.append(f"note: the stand-in has REF semantics only; on {cpu} it is compared with "
                         "path 'ref', not CMSIS-NN's DSP path")
    if lib.version != q.version:
        notes.append(f"note: graph quantized for CMSIS {q.version}; simulated as {lib.version} to "
                     "match the library")
    if lib.path != q.path:
        notes.append(f"note: graph quantized for the {q.path.upper()} path; {lib.label} on {cpu} "
                     f"runs the {lib.path.upper()} path, so the simulator was re-run with "
                     f"path '{lib.path}'")
    sim_graph = sim_graph_for(graph, lib.version, lib.path)
    _check_simulable(sim_graph, x_ints[:1], cpu, q.path)
    net = CortexMNetwork(gen, lib, cpu)
    outputs, taps, statuses, insns = net.run(x_ints, options.get("timeout") or 600.0)
    foot = net.footprint()
    footer = foot.lines()
    if insns is not None:
        footer.append(f"instructions per input (QEMU, mean of {len(x_ints)}): "
                      f"{int(round(insns.sum()))} in {len(insns)} layers")
    elif statuses.any():
        footer.append("instruction counts not shown: a layer returned an error")
    return TargetRun(outputs, taps, statuses, label, sim_graph, notes, insns, footer, foot)


def _check_simulable(sim_graph, x1, cpu, quant_path):
    """Fail before building when the kernels the graph uses are illegal on the target's path."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            simulate(sim_graph, x1)
    except QsimError as e:
        raise QsimError(f"{e} (on {cpu}: the graph was quantized for the {quant_path.upper()} "
                        f"path, but {cpu} runs the {sim_graph.quant.path.upper()} path; quantize "
                        f"with --path {sim_graph.quant.path} for this target)") from None
