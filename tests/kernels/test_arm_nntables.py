"""The generated sigmoid/tanh tables: == the arrays in a real arm_nntables.c, and == the twin."""
import os
import re

import numpy as np
import pytest

import kernels_ref.arm_nntables as twin
from qsim.kernels import arm_nntables

NAMES = ("sigmoidTable_q7", "tanhTable_q7", "sigmoidTable_q15", "tanhTable_q15")


def parse_tables(path):
    """name -> signed values of every 256-entry q7/q15 table in a CMSIS arm_nntables.c."""
    with open(path) as f:
        src = f.read()
    tables = {}
    for bits, name, body in re.findall(r"const\s+q(7|15)_t\s+(\w+)\[256\]\s*=\s*\{(.*?)\};", src, re.S):
        width = int(bits) + 1
        raw = [int(v, 16) for v in re.findall(r"0x[0-9a-fA-F]+", body)]
        tables[name] = [v - (1 << width) if v >= 1 << (width - 1) else v for v in raw]
    return tables


@pytest.mark.cmsis
def test_tables_equal_cmsis_source(cmsis_path):
    real = parse_tables(os.path.join(cmsis_path, "CMSIS", "NN", "Source", "NNSupportFunctions",
                                     "arm_nntables.c"))
    for name in NAMES:
        assert len(real[name]) == 256
        assert getattr(arm_nntables, name).tolist() == real[name], name


@pytest.mark.parametrize("name", NAMES)
def test_tables_equal_twin(name):
    assert np.array_equal(getattr(arm_nntables, name), getattr(twin, name))


def test_table_landmarks():
    assert arm_nntables.sigmoidTable_q7[0] == 64 and arm_nntables.sigmoidTable_q15[0] == 16384
    assert arm_nntables.tanhTable_q7[0] == 0 and arm_nntables.tanhTable_q15[0] == 0
    assert arm_nntables.tanhTable_q7[128] == -128       # tanh(-8) rounds to -1.0
    assert arm_nntables.sigmoidTable_q15.dtype == np.int16 and arm_nntables.tanhTable_q7.dtype == np.int8
    # monotonic over t in [-8, 8): indices 128..255 then 0..127
    for name in NAMES:
        t = getattr(arm_nntables, name).astype(int)
        order = np.concatenate([t[128:], t[:128]])
        assert np.all(np.diff(order) >= 0), name


def test_lookup_table_switch():
    assert arm_nntables.lookup_table(0, 8) is arm_nntables.sigmoidTable_q7
    assert arm_nntables.lookup_table(1, 16) is arm_nntables.tanhTable_q15
    assert arm_nntables.lookup_table(7, 8) is arm_nntables.tanhTable_q7   # default branch: tanh
