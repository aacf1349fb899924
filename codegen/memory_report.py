"""RAM / flash report of a generated network.

RAM   = activation arena + scratch (bufferA/vec_buffer + bufferB), from the buffer plan. The
        caller's input and output buffers are not counted.
flash = weight arrays + the generated code (with the qsim companion kernels it ships). The code size is measured only when a compiler is
        at hand (arm-none-eabi-gcc for Cortex-M4 Thumb-2 -Os, else the host gcc, said so in the
        report); the CMSIS-NN library's own code is not included. A compile failure is a
        BuildError with the compiler's first message, never "not measured".
"""
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qsim.errors import BuildError

ARM_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-Os", "-std=c99", "-ffunction-sections", "-fdata-sections")
HOST_FLAGS = ("-Os", "-std=c99", "-ffunction-sections", "-fdata-sections")


@dataclass
class MemoryReport:
    activation_bytes: int
    scratch_bytes: int
    weight_bytes: int
    code_bytes: int | None = None
    code_target: str | None = None     # "cortex-m4 (arm-none-eabi-gcc -Os)" or "host (gcc -Os)"

    @property
    def ram_bytes(self):
        return self.activation_bytes + self.scratch_bytes

    @property
    def flash_bytes(self):
        return self.weight_bytes + (self.code_bytes or 0)

    def lines(self):
        code = (f"{self.code_bytes} B code on {self.code_target}" if self.code_bytes is not None
                else "code size not measured (no compiler)")
        return [f"RAM   {self.ram_bytes} B = activations {self.activation_bytes} B + scratch "
                f"{self.scratch_bytes} B",
                f"flash {self.flash_bytes} B = weights {self.weight_bytes} B + {code} "
                "(CMSIS-NN library code not included)"]


def memory_report(plan, weight_bytes, code=None) -> MemoryReport:
    """Report for a BufferPlan; `code` is (bytes, target) from measure_code_size or None."""
    nbytes, target = code if code else (None, None)
    return MemoryReport(plan.arena_bytes, plan.scratch_bytes, weight_bytes, nbytes, target)


def first_error(text):
    """The compiler's first diagnostic line ("error:" preferred), else its first line."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower():
            return ln
    return lines[0] if lines else "(no message)"


def measure_code_size(c_file, include_dirs):
    """(text bytes, target description) of `c_file` compiled alone, or None without a compiler.

    Raises BuildError with the compiler's first error when the file does not compile: generated
    code that does not compile is a bug or a bad model, never a missing number."""
    for cc, size_tool, flags, target in (
            ("arm-none-eabi-gcc", "arm-none-eabi-size", ARM_FLAGS, "cortex-m4 (arm-none-eabi-gcc -Os)"),
            (os.environ.get("CC", "gcc"), "size", HOST_FLAGS, "host (gcc -Os)")):
        if not (shutil.which(cc) and shutil.which(size_tool)):
            continue
        with tempfile.TemporaryDirectory(prefix="qsim-size-") as tmp:
            obj = Path(tmp) / "net.o"
            cmd = [cc, *flags, *(f"-I{d}" for d in include_dirs), "-c", str(c_file), "-o", str(obj)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise BuildError(f"measuring the code size: {cc} could not compile {Path(c_file).name} "
                                 f"(exit {proc.returncode}): {first_error(proc.stderr or proc.stdout)}"
                                 f"\ncommand: {' '.join(cmd)}")
            out = subprocess.run([size_tool, "-A", str(obj)], capture_output=True, text=True)
            if out.returncode != 0:
                raise BuildError(f"measuring the code size: {size_tool} failed (exit "
                                 f"{out.returncode}): {first_error(out.stderr or out.stdout)}")
            text = sum(int(parts[1]) for parts in (ln.split() for ln in out.stdout.splitlines())
                       if len(parts) >= 2 and parts[0].startswith(".text") and parts[1].isdigit())
            return text, target
    return None


def measure_generated(gen, include_dirs):
    """measure_code_size of a GeneratedNetwork's `<name>.c` plus the qsim companion kernels it
    ships (their code is the network's, unlike the CMSIS-NN library's), from a temporary copy of
    its files: lets a command check that the C compiles before it writes anything."""
    from .generate import companion_sources
    with tempfile.TemporaryDirectory(prefix="qsim-gen-") as tmp:
        for fname, text in gen.files.items():
            (Path(tmp) / fname).write_text(text)
        total = None
        for src in [f"{gen.name}.c", *companion_sources(gen.files)]:
            got = measure_code_size(Path(tmp) / src, [tmp, *include_dirs])
            if got is None:
                return None
            total = got if total is None else (total[0] + got[0], got[1])
        return total
