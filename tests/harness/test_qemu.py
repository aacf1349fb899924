"""The Cortex-M harness under QEMU: qsim's startup code, semihosting file I/O, exit codes and the
instruction-count plugin, exercised with the CMSIS-NN stand-in (NOT CMSIS) on mps2-an386 (M4) and
mps2-an385 (M3), compared with the numba kernels (REF path, as the stand-in implements it).
"""
import shutil

import numpy as np
import pytest

from cmsis_nn.standin import defines, include_dirs, source_files
from harness.qemu import BOARDS, QemuTimeout, build_elf, run_elf
from qsim.kernels import KERNELS
from tests.kernels._compare import assert_bit_exact

pytestmark = [pytest.mark.qemu, pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="needs arm-none-eabi-gcc, libnewlib-arm-none-eabi and qemu-system-arm")]

FC_MAIN = r"""
#include "arm_nnfunctions.h"
#include "qsim_io.h"

static q7_t io[DIM_VEC + ROWS * DIM_VEC + ROWS];
static q7_t out[ROWS];
static q15_t vec_buffer[DIM_VEC];

int main(void)
{
    const q7_t *vec = io, *mat = io + DIM_VEC, *bias = io + DIM_VEC + ROWS * DIM_VEC;
    if (qsim_read_file("in.bin", io, sizeof io) != (long)sizeof io) {
        return 2;
    }
    qsim_layer_mark();
    if (arm_fully_connected_q7(vec, mat, DIM_VEC, ROWS, BIAS_SHIFT, OUT_SHIFT, bias, out,
                               vec_buffer) != ARM_MATH_SUCCESS) {
        return 3;
    }
    qsim_layer_mark();
    return qsim_write_file("out.bin", out, sizeof out) ? 4 : 0;
}
"""

# Every table entry through the public functions: int_width 3 makes x the table index (q7) and
# x = i << 8 with frac 0 picks entry i (q15). Checks newlib's double exp() on the target.
TABLES_MAIN = r"""
#include "arm_nnfunctions.h"
#include "qsim_io.h"

static q7_t t7[2][256];
static q15_t t15[2][256];

int main(void)
{
    int type, i;
    for (type = 0; type < 2; type++) {
        for (i = 0; i < 256; i++) {
            t7[type][i] = (q7_t)(i < 128 ? i : i - 256);
            t15[type][i] = (q15_t)((i < 128 ? i : i - 256) * 256);
        }
        arm_nn_activations_direct_q7(t7[type], 256, 3, (arm_nn_activation_type)type);
        arm_nn_activations_direct_q15(t15[type], 256, 3, (arm_nn_activation_type)type);
    }
    if (qsim_write_file("t7.bin", t7, sizeof t7) || qsim_write_file("t15.bin", t15, sizeof t15)) {
        return 4;
    }
    return 0;
}
"""


def _standin_elf(tmp_path, main_text, cpu, version, extra_defines=()):
    main = tmp_path / "main.c"
    main.write_text(main_text)
    return build_elf([main, *source_files()], list(include_dirs()), cpu=cpu,
                     defines=[*defines(version), *extra_defines], extra_flags=["-Werror"])


@pytest.mark.parametrize("version", ["5.9.0", "5.7.0"])
@pytest.mark.parametrize("cpu", sorted(BOARDS))
def test_fc_q7_under_qemu(tmp_path, rng, cpu, version):
    dim_vec, rows, bias_shift, out_shift = 37, 11, 3, 7
    vec = rng.integers(-128, 128, (1, dim_vec), dtype=np.int8)
    mat = rng.integers(-128, 128, (rows, dim_vec), dtype=np.int8)
    bias = rng.integers(-128, 128, rows, dtype=np.int8)
    elf = _standin_elf(tmp_path, FC_MAIN, cpu, version, [f"DIM_VEC={dim_vec}", f"ROWS={rows}",
                                                         f"BIAS_SHIFT={bias_shift}", f"OUT_SHIFT={out_shift}"])
    work = tmp_path / "run"
    work.mkdir()
    (work / "in.bin").write_bytes(vec.tobytes() + mat.tobytes() + bias.tobytes())
    run = run_elf(elf, BOARDS[cpu], work, timeout=60, count_insns=True)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(run.files) == {"out.bin"}
    got = np.frombuffer(run.files["out.bin"], np.int8)[None, :]
    want = KERNELS["arm_fully_connected_q7"](vec, mat, dim_vec, rows, bias_shift, out_shift, bias,
                                             path="ref", release=version)
    assert_bit_exact(got, want, f"arm_fully_connected_q7 on {cpu}")
    counts = run.insn_counts
    assert counts is not None and len(counts.marks) == 2
    assert counts.symbols["arm_fully_connected_q7"] > dim_vec * rows      # at least one insn per MAC
    assert counts.segments[0] >= counts.symbols["arm_fully_connected_q7"]
    assert counts.total >= counts.marks[-1]


@pytest.mark.parametrize("version", ["5.9.0", "5.7.0"])
@pytest.mark.parametrize("cpu", sorted(BOARDS))
def test_activation_tables_under_qemu(tmp_path, cpu, version):
    run = run_elf(_standin_elf(tmp_path, TABLES_MAIN, cpu, version), BOARDS[cpu], tmp_path / "run")
    assert run.exit_code == 0, run.stdout + run.stderr
    got7 = np.frombuffer(run.files["t7.bin"], np.int8).reshape(2, 256)
    got15 = np.frombuffer(run.files["t15.bin"], np.int16).reshape(2, 256)
    x7 = np.arange(256).astype(np.uint8).view(np.int8)[None, :]
    x15 = (x7.astype(np.int16) * 256)
    for t in (0, 1):
        want7 = KERNELS["arm_nn_activations_direct_q7"](x7, 256, 3, t, path="ref", release=version)
        want15 = KERNELS["arm_nn_activations_direct_q15"](x15, 256, 3, t, path="ref", release=version)
        assert_bit_exact(got7[t][None], want7, f"q7 table type {t} on {cpu}")
        assert_bit_exact(got15[t][None], want15, f"q15 table type {t} on {cpu}")


def test_exit_code_and_timeout(tmp_path):
    main = tmp_path / "main.c"
    main.write_text("int main(void) { volatile int n = 0; if (NAP) for (;;) n++; return 42; }\n")
    assert run_elf(build_elf([main], defines=["NAP=0"]), timeout=30).exit_code == 42
    with pytest.raises(QemuTimeout):
        run_elf(build_elf([main], cpu="cortex-m3", defines=["NAP=1"]), "mps2-an385", timeout=2)
