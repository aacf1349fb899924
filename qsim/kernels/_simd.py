"""The one hand-written SIMD block of qsim: an exact int16 x int16 -> int32 matrix-product tile.

Why it exists: the regular convolutions (`_conv.py`) are dot products of int16 im2col columns with
int16 weight rows, summed modulo 2**32 (semantics doc §0.4). numba's auto-vectoriser turns a single
such reduction into `vpmaddwd`, but not a register-blocked tile of several at once, and a float
BLAS product tops out at the float FMA rate (half the int16 rate on AVX-512 VNNI). This intrinsic
writes the tile directly as portable LLVM vector IR (no x86 intrinsics): sign-extend 32 int16
lanes, multiply, add even and odd lanes, accumulate. On x86 LLVM lowers that to `vpmaddwd` /
`vpdpwssd` (AVX2, AVX-512, VNNI); elsewhere to whatever the target has. The arithmetic is exact
by construction: every int16 x int16 product fits in int32 and every add wraps modulo 2**32,
exactly what the C keeps (the only lane overflow, (-32768)**2 * 2, wraps like the C accumulator).

Layout (int16 values seen as int32 pairs, low half = even tap, as numpy's `.view(np.int32)` gives):
    cols  (TILE_P, n2) int32: row p = pixel p's column, taps (2i, 2i+1) in element i
    wpair (n2, 32) int32:     element (i, j) = taps (2i, 2i+1) of output channel j
    acc   (TILE_P, 32) int32: acc[p, j] = sum_t cols16[p, t] * w16[j, t]  (mod 2**32), overwritten
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

TILE_P = 8      # pixels per tile (8 x 2 accumulators of 16 int32 lanes: fits 32 vector registers)
TILE_C = 32     # output channels per tile

_I32 = ir.IntType(32)
_V16 = ir.VectorType(_I32, 16)                  # 16 int32 lanes = 32 int16 lanes
_W16 = ir.VectorType(ir.IntType(16), 32)
_W32 = ir.VectorType(_I32, 32)
_EVEN = ir.Constant(_V16, [2 * i for i in range(16)])
_ODD = ir.Constant(_V16, [2 * i + 1 for i in range(16)])
_ZERO = ir.Constant(_V16, [0] * 16)


def _pair_madd(b, x, y):
    """<16 x i32>: lane k = x[2k]*y[2k] + x[2k+1]*y[2k+1] for <32 x i16> x, y (wrapping)."""
    m = b.mul(b.sext(x, _W32), b.sext(y, _W32))
    return b.add(b.shuffle_vector(m, m, _EVEN), b.shuffle_vector(m, m, _ODD))


def _load16(b, ptr, align=4):
    return b.bitcast(b.load(b.bitcast(ptr, _V16.as_pointer()), align=align), _W16)


@intrinsic
def madd_tile(typingctx, cols, wpair, acc):
    """acc[p, j] = sum_i <cols[p, i], wpair[i, j]> as int16 pairs, for i < wpair.shape[0] (C-contiguous)."""
    sig = types.void(cols, wpair, acc)

    def codegen(context, builder, signature, args):
        c, w, a = (context.make_array(t)(context, builder, v) for t, v in zip(signature.args, args))
        n2 = builder.extract_value(w.shape, 0)
        row = builder.extract_value(c.shape, 1)
        accs = []
        for _ in range(2 * TILE_P):
            slot = cgutils.alloca_once(builder, _V16)
            builder.store(_ZERO, slot)
            accs.append(slot)
        with cgutils.for_range(builder, n2) as loop:
            i = loop.index
            wrow = builder.gep(w.data, [builder.mul(i, ir.Constant(i.type, TILE_C))])
            halves = (_load16(builder, wrow), _load16(builder, builder.gep(wrow, [ir.Constant(i.type, 16)])))
            for p in range(TILE_P):
                x = builder.load(builder.gep(c.data, [builder.add(builder.mul(ir.Constant(i.type, p), row), i)]))
                v = builder.insert_element(ir.Constant(_V16, ir.Undefined), x, ir.Constant(_I32, 0))
                v = builder.bitcast(builder.shuffle_vector(v, v, _ZERO), _W16)     # broadcast the pair
                for h in range(2):
                    slot = accs[2 * p + h]
                    builder.store(builder.add(builder.load(slot), _pair_madd(builder, v, halves[h])), slot)
        for p in range(TILE_P):
            for h in range(2):
                dst = builder.gep(a.data, [ir.Constant(ir.IntType(64), p * TILE_C + 16 * h)])
                builder.store(builder.load(accs[2 * p + h]), builder.bitcast(dst, _V16.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


def pack_pairs(wmat):
    """(C_out, T) int weights -> (ceil(C_out/TILE_C), ceil(T/2), TILE_C) int32 of int16 tap pairs (zero padded)."""
    c_out, taps = wmat.shape
    groups, n2 = -(-c_out // TILE_C), -(-taps // 2)
    w16 = np.zeros((groups * TILE_C, 2 * n2), np.int16)
    w16[:c_out, :taps] = wmat
    w16 = w16.reshape(groups, TILE_C, n2, 2).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(w16).view(np.int32).reshape(groups, n2, TILE_C)
