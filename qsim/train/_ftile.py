"""A register-blocked float32 matrix-product tile for the training convs (qsim.train.conv2d).

Why it exists: a conv's im2col products are thin (KWS conv2: 30 output channels against 1,120
taps), and OpenBLAS spends a large share of such a product packing the wide operand: measured
55-62 GFLOP/s on one core for the KWS conv2 forward and weight gradient against 96 GFLOP/s for a
square product (and oneDNN's direct conv, what PyTorch runs, about 100). This tile reads both
operands where they are, with strides, and keeps ROWS x LANES accumulators in vector registers:

    c[i, j] (+)= sum_k a[a_off + i*a_rs + k*a_ks] * b[b_off + k*b_ks + j]    i < ROWS, j < LANES

written to c[c_off + i*c_rs + j] (added to what is there when ``accumulate``). One fused
multiply-add per term, in k order, so every output element is the same chain of roundings
wherever it sits in a batch (a result does not depend on how the batch is sliced). ROWS = 8,
LANES = 32 (two 16-float vectors): 16 accumulators, two weight vectors and a broadcast fit the 32
AVX-512 registers, like qsim.kernels._simd's int16 tile; written as portable LLVM vector IR
(`llvm.fma` on <16 x float>), which LLVM lowers to whatever vectors the target has.

The caller guarantees every address it reads and writes is inside its arrays (pad the ends).
Numba's on-disk cache does not see edits here: clear qsim/train/__pycache__ after changing it.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

ROWS = 8
LANES = 32
_VEC = 16

_F32 = ir.FloatType()
_V = ir.VectorType(_F32, _VEC)
_ZERO = ir.Constant(_V, [0.0] * _VEC)
_SPLAT = ir.Constant(ir.VectorType(ir.IntType(32), _VEC), [0] * _VEC)


def _emit(builder, a_ptr_of, b_ptr_of, loops, c_data, c_off, c_rs, accumulate):
    """The tile: zeroed accumulators, the product loops, the store (see ftile / ftile_rows).

    a_ptr_of(ks, i) / b_ptr_of(ks) give the pointers of A[i, k] and B[k, 0] from the loop indices
    ks (outer first); loops are the trip counts (outer first)."""
    parts = LANES // _VEC
    i64 = c_off.type
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V, [_V, _V, _V]),
                                         f"llvm.fma.v{_VEC}f32")
    slots = []
    for _ in range(ROWS * parts):
        s = cgutils.alloca_once(builder, _V)
        builder.store(_ZERO, s)
        slots.append(s)

    def body(ks):
        brow = b_ptr_of(ks)
        bv = [builder.load(builder.bitcast(builder.gep(brow, [ir.Constant(i64, _VEC * h)]),
                                           _V.as_pointer()), align=4) for h in range(parts)]
        for i in range(ROWS):
            s = builder.load(a_ptr_of(ks, i))
            v = builder.insert_element(ir.Constant(_V, ir.Undefined), s, ir.Constant(i64, 0))
            v = builder.shuffle_vector(v, v, _SPLAT)
            for h in range(parts):
                slot = slots[parts * i + h]
                builder.store(builder.call(fma, [v, bv[h], builder.load(slot)]), slot)

    def nest(ks, rest):
        if not rest:
            body(ks)
            return
        with cgutils.for_range(builder, rest[0]) as loop:
            nest(ks + [loop.index], rest[1:])

    nest([], list(loops))
    pc = builder.gep(c_data, [c_off])
    add = builder.icmp_signed("!=", accumulate, ir.Constant(accumulate.type, 0))
    for i in range(ROWS):
        crow = builder.gep(pc, [builder.mul(c_rs, ir.Constant(i64, i))])
        for h in range(parts):
            ptr = builder.bitcast(builder.gep(crow, [ir.Constant(i64, _VEC * h)]), _V.as_pointer())
            val = builder.load(slots[parts * i + h])
            with builder.if_else(add) as (then, otherwise):
                with then:
                    builder.store(builder.fadd(builder.load(ptr, align=4), val), ptr, align=4)
                with otherwise:
                    builder.store(val, ptr, align=4)


@intrinsic
def ftile(typingctx, a, a_off, a_rs, a_ks, b, b_off, b_ks, nk, c, c_off, c_rs, accumulate):
    """See the module docstring; a, b, c are 1-D C-contiguous float32 arrays, the rest int64
    (accumulate: nonzero to add to c)."""
    sig = types.void(a, a_off, a_rs, a_ks, b, b_off, b_ks, nk, c, c_off, c_rs, accumulate)

    def codegen(context, builder, signature, args):
        arr_a, arr_b, arr_c = (context.make_array(signature.args[i])(context, builder, args[i])
                               for i in (0, 4, 8))
        a_off_, a_rs_, a_ks_, _, b_off_, b_ks_, nk_, _, c_off_, c_rs_, acc_ = args[1:]
        i64 = a_off_.type
        pa = builder.gep(arr_a.data, [a_off_])
        pb = builder.gep(arr_b.data, [b_off_])
        rows_a = [builder.gep(pa, [builder.mul(a_rs_, ir.Constant(i64, i))]) for i in range(ROWS)]
        _emit(builder, lambda ks, i: builder.gep(rows_a[i], [builder.mul(ks[0], a_ks_)]),
              lambda ks: builder.gep(pb, [builder.mul(ks[0], b_ks_)]), [nk_],
              arr_c.data, c_off_, c_rs_, acc_)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def ftile_rows(typingctx, a, a_offs, a_ks2, b, b_off, b_ks2, nk2, nk, c, c_off, c_rs, accumulate):
    """The tile over rows that start anywhere and a two-level tap loop (a conv's windows read in
    place: no im2col):

        c[i, j] (+)= sum_{k2 < nk2, k < nk} a[a_offs[i] + k2*a_ks2 + k]
                                            * b[b_off + k2*b_ks2 + k*LANES + j]

    a_offs: ROWS int64 offsets (one per window); the rest as ftile."""
    sig = types.void(a, a_offs, a_ks2, b, b_off, b_ks2, nk2, nk, c, c_off, c_rs, accumulate)

    def codegen(context, builder, signature, args):
        arr_a, arr_o, arr_b, arr_c = (context.make_array(signature.args[i])(context, builder,
                                                                            args[i])
                                      for i in (0, 1, 3, 8))
        a_ks2_, _, b_off_, b_ks2_, nk2_, nk_, _, c_off_, c_rs_, acc_ = args[2:]
        i64 = b_off_.type
        rows_a = [builder.gep(arr_a.data, [builder.load(builder.gep(arr_o.data,
                                                                    [ir.Constant(i64, i)]))])
                  for i in range(ROWS)]
        pb = builder.gep(arr_b.data, [b_off_])
        lanes = ir.Constant(i64, LANES)
        _emit(builder,
              lambda ks, i: builder.gep(rows_a[i], [builder.add(builder.mul(ks[0], a_ks2_),
                                                                ks[1])]),
              lambda ks: builder.gep(pb, [builder.add(builder.mul(ks[0], b_ks2_),
                                                      builder.mul(ks[1], lanes))]),
              [nk2_, nk_], arr_c.data, c_off_, c_rs_, acc_)
        return context.get_dummy_value()

    return sig, codegen
