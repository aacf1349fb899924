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
`madd_tile16` is the same with 16 lanes, for layers of <= 16 output channels.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

TILE_P = 8      # pixels per tile (8 x 2 accumulators of 16 int32 lanes: fits 32 vector registers)
TILE_C = 32     # output channels per tile (16 when a layer has <= 16)
PARALLEL_MIN_MACS = 1 << 22     # about 50 us of single-thread work

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


def _make_tile(lanes):
    """The tile intrinsic for `lanes` output channels (16 or 32: one or two 16-lane accumulators)."""
    halves = lanes // 16

    @intrinsic
    def tile(typingctx, cols, wpair, acc):
        sig = types.void(cols, wpair, acc)

        def codegen(context, builder, signature, args):
            c, w, a = (context.make_array(t)(context, builder, v) for t, v in zip(signature.args, args))
            n2 = builder.extract_value(w.shape, 0)
            row = builder.extract_value(c.shape, 1)
            accs = []
            for _ in range(halves * TILE_P):
                slot = cgutils.alloca_once(builder, _V16)
                builder.store(_ZERO, slot)
                accs.append(slot)
            with cgutils.for_range(builder, n2) as loop:
                i = loop.index
                wrow = builder.gep(w.data, [builder.mul(i, ir.Constant(i.type, lanes))])
                wv = [_load16(builder, builder.gep(wrow, [ir.Constant(i.type, 16 * h)])) for h in range(halves)]
                for p in range(TILE_P):
                    x = builder.load(builder.gep(c.data, [builder.add(builder.mul(ir.Constant(i.type, p), row), i)]))
                    v = builder.insert_element(ir.Constant(_V16, ir.Undefined), x, ir.Constant(_I32, 0))
                    v = builder.bitcast(builder.shuffle_vector(v, v, _ZERO), _W16)     # broadcast the pair
                    for h in range(halves):
                        slot = accs[halves * p + h]
                        builder.store(builder.add(builder.load(slot), _pair_madd(builder, v, wv[h])), slot)
            for p in range(TILE_P):
                for h in range(halves):
                    dst = builder.gep(a.data, [ir.Constant(ir.IntType(64), p * lanes + 16 * h)])
                    builder.store(builder.load(accs[halves * p + h]), builder.bitcast(dst, _V16.as_pointer()),
                                  align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


madd_tile = _make_tile(32)
madd_tile.__doc__ = """acc[p, j] = sum_i <cols[p, i], wpair[i, j]> as int16 pairs (C-contiguous; 32 lanes)."""
madd_tile16 = _make_tile(16)


@njit(inline="always")
def madd(cols, wpair, acc):
    """madd_tile or madd_tile16, by the lane count of wpair (= acc.shape[1])."""
    if wpair.shape[1] == 16:
        madd_tile16(cols, wpair, acc)
    else:
        madd_tile(cols, wpair, acc)


def pack_pairs(wmat):
    """(C_out, T) int weights -> (groups, ceil(T/2), lanes) int32 of int16 tap pairs, zero padded.

    lanes = 16 for C_out <= 16 (less padding work), else 32 with ceil(C_out/32) groups.
    """
    c_out, taps = wmat.shape
    lanes = 16 if c_out <= 16 else TILE_C
    groups, n2 = -(-c_out // lanes), -(-taps // 2)
    w16 = np.zeros((groups * lanes, 2 * n2), np.int16)
    w16[:c_out, :taps] = wmat
    pairs = w16.view(np.int32).reshape(groups, lanes, n2)
    return np.ascontiguousarray(pairs.transpose(0, 2, 1))


def parallel_worth_it(pixels, wpair):
    """Whether a tile loop has enough work (padded MACs) to pay for waking numba's threads.

    Small calls run serially: a parallel region on a busy 2-core machine can wait a whole
    scheduler slice (milliseconds) for its second thread (measured: fc 128->3, 1000 items,
    44 us serial vs 4 ms with 2 threads).
    """
    return pixels * wpair.size * 2 >= PARALLEL_MIN_MACS
