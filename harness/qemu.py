"""Build bare-metal Cortex-M programs and run them under QEMU (mps2-an386 / mps2-an385).

`build_elf(sources, include_dirs, cpu, defines)` links the given C files with qsim's own startup
code and linker script (harness/c/startup.c, mps2.ld) and newlib's semihosting library (librdimon),
so `fopen`/`printf` reach the host and `main`'s return value becomes QEMU's exit status.
`run_elf(elf, board, workdir, timeout)` runs it with the working directory as the semihosting
root and returns the exit code, stdout and every file the program created or changed. With
`count_insns=True` the TCG plugin harness/c/insn_count_plugin.c (built with the host gcc) reports
executed instructions in total, per function symbol and per segment between calls of
`qsim_layer_mark()` (harness/c/qsim_io.h). QEMU does not model cycle timing (nor the DWT cycle
counter), so instruction counts are the cost measure.

Boards: cortex-m4 -> mps2-an386 (DSP path of CMSIS-NN), cortex-m3 -> mps2-an385 (REF path).
Builds are cached under ~/.cache/qsim/qemu/ ($QSIM_CACHE_DIR/qemu/) by a hash of their inputs.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from qsim.errors import BuildError, QsimError, ToolchainMissing

C_DIR = Path(__file__).with_name("c")
BOARDS = {"cortex-m4": "mps2-an386", "cortex-m3": "mps2-an385"}
CROSS_CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
TARGET_FLAGS = ("-mthumb", "-mfloat-abi=soft", "-std=c99", "-O2", "-ffunction-sections",
                "-Wall", "-Wextra")
LINK_FLAGS = ("--specs=rdimon.specs", "-nostartfiles", "-Wl,--gc-sections")
RUNTIME_SOURCES = ("startup.c", "qsim_io.c")


class QemuTimeout(QsimError):
    """A program under QEMU did not exit within the time limit."""


@dataclass
class InsnCounts:
    """Executed guest instructions from the insn_count plugin."""
    total: int
    marks: list = field(default_factory=list)       # running total at each qsim_layer_mark()
    symbols: dict = field(default_factory=dict)     # function symbol -> instructions inside it

    @property
    def segments(self):
        """Instructions between consecutive marks: segment k = layer k when marks bracket layers."""
        return [b - a for a, b in zip(self.marks, self.marks[1:])]


@dataclass
class QemuRun:
    exit_code: int
    files: dict                 # name (relative to workdir) -> bytes, for files created or changed
    stdout: str
    stderr: str
    seconds: float
    workdir: Path
    insn_counts: InsnCounts = None


def _need(program, hint):
    path = shutil.which(program)
    if path is None:
        raise ToolchainMissing(f"{program} was not found on PATH. help: {hint}")
    return path


def cache_dir():
    base = os.environ.get("QSIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qsim")
    return Path(base) / "qemu"


def compile_cached(cmd_for, inputs, name, what):
    """Run cmd_for(output_path) unless a build with the same inputs exists; return the output."""
    h = hashlib.sha256()
    for part in inputs:
        h.update((part if isinstance(part, bytes) else str(part).encode()) + b"\0")
    out_dir = cache_dir() / h.hexdigest()[:20]
    out = out_dir / name
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{name}.{os.getpid()}"
    cmd = cmd_for(tmp)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise BuildError(f"building {what} failed (exit {proc.returncode}):\n{tail}\ncommand: {' '.join(cmd)}")
    os.replace(tmp, out)
    return out


def build_elf(sources, include_dirs=(), cpu="cortex-m4", defines=(), extra_flags=()) -> Path:
    """Compile and link `sources` with qsim's Cortex-M runtime into a cached ELF; return its path.

    Parameters
    ----------
    sources : C files (one of them defines main); the runtime files are added automatically.
    include_dirs : extra -I folders (harness/c is always included, for qsim_io.h).
    cpu : "cortex-m4" or "cortex-m3" (see BOARDS).
    defines : "NAME" or "NAME=VALUE" strings, passed as -D.
    extra_flags : more compiler flags (e.g. "-Werror", "-fwrapv").

    Raises
    ------
    ToolchainMissing without arm-none-eabi-gcc; BuildError with the compiler's output.
    """
    if cpu not in BOARDS:
        raise BuildError(f"cpu={cpu!r} is not one of {', '.join(BOARDS)}")
    cc = _need(CROSS_CC, "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    files = [Path(s).resolve() for s in sources] + [C_DIR / s for s in RUNTIME_SOURCES]
    flags = [f"-mcpu={cpu}", *TARGET_FLAGS, *extra_flags, f"-I{C_DIR}"]
    flags += [f"-I{Path(d).resolve()}" for d in include_dirs] + [f"-D{d}" for d in defines]
    ld = C_DIR / "mps2.ld"
    headers = sorted(p for d in [C_DIR, *map(Path, include_dirs)] for p in Path(d).glob("*.h"))
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    inputs = [" ".join(flags), version, ld.read_bytes()] + \
        [x for f in files + headers for x in (f.name, f.read_bytes())]
    return compile_cached(
        lambda out: [cc, *flags, *LINK_FLAGS, "-T", str(ld), *map(str, files), "-o", str(out),
                     "-lm", "-lc", "-lrdimon"],
        inputs, "program.elf", f"a {cpu} program from {', '.join(Path(s).name for s in sources)}")


def build_plugin() -> Path:
    """Build the instruction-count TCG plugin with the host compiler (cached); return the .so path."""
    cc = _need(os.environ.get("CC", "gcc"), "apt-get install gcc")
    src = C_DIR / "insn_count_plugin.c"
    flags = ["-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-D_POSIX_C_SOURCE=200809L"]
    return compile_cached(lambda out: [cc, *flags, str(src), "-o", str(out)],
                           [" ".join(flags), src.read_bytes()], "libinsn_count.so", "the QEMU plugin")


def symbol_address(elf, name):
    """Address of a symbol in `elf` (Thumb bit cleared), from arm-none-eabi-nm."""
    nm = _need("arm-none-eabi-nm", "apt-get install binutils-arm-none-eabi")
    out = subprocess.run([nm, str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    raise BuildError(f"{elf} has no symbol {name!r}. help: link harness/c/qsim_io.c and call it.")


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob("*") if p.is_file()}


def _read_counts(path):
    counts = InsnCounts(total=0)
    for line in path.read_text().splitlines():
        kind, *rest = line.split()
        if kind == "total":
            counts.total = int(rest[0])
        elif kind == "mark":
            counts.marks.append(int(rest[1]))
        elif kind == "sym":
            counts.symbols[rest[0]] = int(rest[1])
    return counts


def run_elf(elf, board="mps2-an386", workdir=None, timeout=60.0, count_insns=False) -> QemuRun:
    """Run `elf` under qemu-system-arm with semihosting rooted at `workdir`.

    Parameters
    ----------
    elf : path from build_elf.
    board : "mps2-an386" (Cortex-M4) or "mps2-an385" (Cortex-M3); BOARDS maps cpu -> board.
    workdir : folder the program's fopen() paths are relative to (input files go there first);
        a fresh temporary folder when None.
    timeout : seconds of wall time before QemuTimeout.
    count_insns : load the instruction-count plugin (fills QemuRun.insn_counts).

    Returns
    -------
    QemuRun: exit_code (main's return value; 0xF0 + n for fault exception n), files the program
    created or modified (name -> bytes), stdout/stderr, wall seconds, insn_counts.
    """
    qemu = _need(QEMU, "apt-get install qemu-system-arm")
    if board not in BOARDS.values():
        raise QsimError(f"board {board!r} is not one of {', '.join(BOARDS.values())}")
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="qsim-qemu-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [qemu, "-M", board, "-nographic", "-monitor", "none",
           "-semihosting-config", "enable=on,target=native", "-kernel", str(Path(elf).resolve())]
    counts_file = None
    if count_insns:
        fd, counts_file = tempfile.mkstemp(prefix="qsim-insn-", suffix=".txt")
        os.close(fd)
        counts_file = Path(counts_file)
        plugin_args = f"{build_plugin()},out={counts_file}"
        try:
            plugin_args += f",mark={symbol_address(elf, 'qsim_layer_mark'):#x}"
        except BuildError:
            pass
        cmd[1:1] = ["-plugin", plugin_args]
    before = _snapshot(workdir)
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise QemuTimeout(f"{Path(elf).name} did not exit within {timeout:g} s on {board}. help: the "
                          "program may loop forever or wait on input; raise timeout= for big "
                          "networks.") from None
    seconds = time.monotonic() - start
    if proc.returncode != 0 and proc.stderr.startswith(f"{Path(qemu).name}:"):
        raise QsimError(f"QEMU failed to start {Path(elf).name} on {board}: {proc.stderr.strip()[:500]}")
    after = _snapshot(workdir)
    files = {name: (workdir / name).read_bytes() for name, st in after.items() if before.get(name) != st}
    counts = None
    if counts_file is not None:
        if counts_file.stat().st_size:
            counts = _read_counts(counts_file)
        counts_file.unlink()
    return QemuRun(proc.returncode, files, proc.stdout, proc.stderr, seconds, workdir, counts)
