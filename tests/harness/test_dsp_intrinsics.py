"""cmsis_nn/dsp_intrinsics.h, compiled alone, against independent Python models of each Armv7E-M
intrinsic on edge and random operands. Needs only gcc (no CMSIS), so it runs in CI."""
import shutil
import subprocess
from pathlib import Path

import cffi
import numpy as np
import pytest

SHIM = Path(__file__).parents[2] / "cmsis_nn" / "dsp_intrinsics.h"

# name: (C argument types, C return type)
INTRINSICS = {
    "__SXTB16": (("uint32_t",), "uint32_t"), "__SXTB16_RORn": (("uint32_t", "uint32_t"), "uint32_t"),
    "__SXTAB16": (("uint32_t", "uint32_t"), "uint32_t"), "__SMUAD": (("uint32_t", "uint32_t"), "uint32_t"),
    "__SMLAD": (("uint32_t", "uint32_t", "uint32_t"), "uint32_t"),
    "__SMLALD": (("uint32_t", "uint32_t", "uint64_t"), "uint64_t"),
    "__QADD": (("int32_t", "int32_t"), "int32_t"), "__QSUB": (("int32_t", "int32_t"), "int32_t"),
    "__QADD16": (("uint32_t", "uint32_t"), "uint32_t"), "__QSUB16": (("uint32_t", "uint32_t"), "uint32_t"),
    "__QADD8": (("uint32_t", "uint32_t"), "uint32_t"), "__QSUB8": (("uint32_t", "uint32_t"), "uint32_t"),
    "__SADD8": (("uint32_t", "uint32_t"), "uint32_t"), "__SSUB8": (("uint32_t", "uint32_t"), "uint32_t"),
    "__USAT16": (("int32_t", "uint32_t"), "uint32_t"),
    "__PKHBT": (("uint32_t", "uint32_t", "uint32_t"), "uint32_t"),
    "__PKHTB": (("uint32_t", "uint32_t", "uint32_t"), "uint32_t"),
}

EDGES = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
         0x7F7F7F7F, 0x80808080, 0x01010101, 0x7FFF8000, 0x80007FFF, 0x12345678, 0xFEDCBA98]


# --- independent models: Python ints, lanes taken apart arithmetically --------------------------
def s(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def lanes(x, bits):
    return [s(x >> (bits * k), bits) for k in range(32 // bits)]


def pack(vals, bits):
    return sum((v & ((1 << bits) - 1)) << (bits * k) for k, v in enumerate(vals))


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def sxtb16(x):
    b = lanes(x, 8)
    return pack([b[0], b[2]], 16)


def dual(a, b):
    return sum(x * y for x, y in zip(lanes(a, 16), lanes(b, 16)))


MODELS = {
    "__SXTB16": sxtb16,
    "__SXTB16_RORn": lambda x, n: sxtb16(((x >> (n % 32)) | (x << (32 - n % 32))) & 0xFFFFFFFF),
    "__SXTAB16": lambda a, b: pack([(a & 0xFFFF) + lanes(b, 8)[0], (a >> 16) + lanes(b, 8)[2]], 16),
    "__SMUAD": lambda a, b: dual(a, b) % 2**32,
    "__SMLAD": lambda a, b, c: (dual(a, b) + c) % 2**32,
    "__SMLALD": lambda a, b, c: (dual(a, b) + c) % 2**64,
    "__QADD": lambda a, b: clamp(a + b, -2**31, 2**31 - 1),
    "__QSUB": lambda a, b: clamp(a - b, -2**31, 2**31 - 1),
    "__QADD16": lambda a, b: pack([clamp(x + y, -2**15, 2**15 - 1) for x, y in zip(lanes(a, 16), lanes(b, 16))], 16),
    "__QSUB16": lambda a, b: pack([clamp(x - y, -2**15, 2**15 - 1) for x, y in zip(lanes(a, 16), lanes(b, 16))], 16),
    "__QADD8": lambda a, b: pack([clamp(x + y, -128, 127) for x, y in zip(lanes(a, 8), lanes(b, 8))], 8),
    "__QSUB8": lambda a, b: pack([clamp(x - y, -128, 127) for x, y in zip(lanes(a, 8), lanes(b, 8))], 8),
    "__SADD8": lambda a, b: pack([x + y for x, y in zip(lanes(a, 8), lanes(b, 8))], 8),
    "__SSUB8": lambda a, b: pack([x - y for x, y in zip(lanes(a, 8), lanes(b, 8))], 8),
    "__USAT16": lambda x, n: pack([clamp(v, 0, 2**n - 1) for v in lanes(x, 16)], 16),
    "__PKHBT": lambda a, b, sh: (a & 0xFFFF) | ((b << sh) & 0xFFFF0000),
    "__PKHTB": lambda a, b, sh: (a & 0xFFFF0000) | ((s(b, 32) >> sh) & 0xFFFF),
}


def operand(rng, ctype, name, pos):
    """Random operand; the shift/width arguments get their legal ranges."""
    if name == "__USAT16" and pos == 1:
        return int(rng.integers(0, 16))
    if name == "__SXTB16_RORn" and pos == 1:
        return int(rng.choice([0, 8, 16, 24, int(rng.integers(0, 32))]))
    if name in ("__PKHBT", "__PKHTB") and pos == 2:
        return int(rng.choice([0, 16, int(rng.integers(0, 32))]))
    bits = 64 if ctype == "uint64_t" else 32
    v = int(rng.choice(EDGES)) if rng.random() < 0.4 else int(rng.integers(0, 2**bits, dtype=np.uint64))
    return s(v, 32) if ctype == "int32_t" else v


@pytest.fixture(scope="module")
def shim_lib(tmp_path_factory):
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("gcc not found: cannot compile cmsis_nn/dsp_intrinsics.h")
    wrappers = []
    for name, (argt, ret) in INTRINSICS.items():
        params = ", ".join(f"{t} a{i}" for i, t in enumerate(argt))
        call = ", ".join(f"a{i}" for i in range(len(argt)))
        wrappers.append(f"{ret} t{name}({params}) {{ return {name}({call}); }}")
    d = tmp_path_factory.mktemp("shim")
    (d / "t.c").write_text('#include "dsp_intrinsics.h"\n' + "\n".join(wrappers) + "\n")
    so = d / "libshim.so"
    proc = subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
                           f"-I{SHIM.parent}", "-o", str(so), str(d / "t.c")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ffi = cffi.FFI()
    ffi.cdef("\n".join(w.split(" {")[0] + ";" for w in wrappers))
    return ffi.dlopen(str(so))


def test_models_cover_every_intrinsic():
    assert set(MODELS) == set(INTRINSICS)


@pytest.mark.parametrize("name", sorted(INTRINSICS))
def test_intrinsic_matches_model(shim_lib, name):
    argt, _ = INTRINSICS[name]
    fn, model = getattr(shim_lib, "t" + name), MODELS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    cases = [[operand(rng, t, name, i) for i, t in enumerate(argt)] for _ in range(3000)]
    # every pair of edge values for the data operands, legal extremes for shift/width operands
    for a in EDGES:
        for b in EDGES:
            args = [a, b, 0][:len(argt)]
            if name in ("__USAT16", "__SXTB16_RORn"):
                args[1] = b % (16 if name == "__USAT16" else 32)
            if name in ("__PKHBT", "__PKHTB"):
                args[2] = (a ^ b) % 32
            cases.append([s(v, 32) if t == "int32_t" else v for v, t in zip(args, argt)])
    for args in cases:
        got, want = fn(*args), model(*args)
        shown = tuple(hex(a & 0xFFFFFFFFFFFFFFFF) for a in args)
        assert got == want, f"{name}{shown}: expected {want:#x}, got {got:#x}"
