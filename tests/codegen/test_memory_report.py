"""RAM / flash report: RAM = arena + scratch, flash = weights (+ code when a compiler exists)."""
import shutil

import pytest

from cmsis_nn.standin import include_dirs
from codegen.generate import render, write_network
from codegen.memory_report import measure_code_size, memory_report
from tests.codegen._models import tiny_q7


def test_ram_and_flash_add_up():
    gen = render(tiny_q7())
    rep = memory_report(gen.plan, gen.weight_bytes)
    assert rep.ram_bytes == gen.plan.arena_bytes + gen.plan.scratch["bufferA"] + gen.plan.scratch["bufferB"]
    assert rep.weight_bytes == 4 * 3 * 3 * 4 + 4 + 16 * 3 + 3          # q7 conv + fc weights, biases
    assert rep.flash_bytes == rep.weight_bytes and "not measured" in rep.lines()[1]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_code_size_is_measured(tmp_path):
    gen = write_network(tiny_q7(), tmp_path / "n")
    code = measure_code_size(tmp_path / "n" / f"{gen.name}.c", [tmp_path / "n", *include_dirs()])
    assert code is not None and code[0] > 0
    rep = memory_report(gen.plan, gen.weight_bytes, code)
    assert rep.flash_bytes == gen.weight_bytes + code[0]
