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
`madd_tile16` and `madd_tile8` are the same with 16 and 8 lanes, for layers of <= 16 or <= 8
output channels; `madd` picks one by wpair's width.

`_make_direct` is the same product reading the taps from a padded image at byte offsets (no
im2col copy), as int16 pairs or, on AVX-512 VNNI hosts (`VNNI`), as u8 x s8 quads through
vpdpbusd (the portable IR of the quad product is kept for other hosts and tested against it).
`_make_requant` is the §0.4 epilogue in int32 vectors with masked stores.

Numba's on-disk cache does not see edits here: clear qsim/kernels/__pycache__ after changing it.

"""
import threading
from collections import OrderedDict

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

TILE_P = 8      # pixels per tile (8 x 2 accumulators of 16 int32 lanes: fits 32 vector registers)
TILE_C = 32     # output channels per tile (8 or 16 when a layer has no more)
PARALLEL_MIN_MACS = 1 << 25     # about 0.4 ms of single-thread work

_I32 = ir.IntType(32)


def _i64(v):
    return ir.Constant(ir.IntType(64), v)


class _Vec:
    """LLVM types and shuffle masks for accumulators of `width` int32 lanes (2*width int16)."""

    def __init__(self, width):
        self.acc = ir.VectorType(_I32, width)
        self.pairs = ir.VectorType(ir.IntType(16), 2 * width)
        self.wide = ir.VectorType(_I32, 2 * width)
        self.even = ir.Constant(self.acc, [2 * i for i in range(width)])
        self.odd = ir.Constant(self.acc, [2 * i + 1 for i in range(width)])
        self.zero = ir.Constant(self.acc, [0] * width)

    def pair_madd(self, b, x, y):
        """lane k = x[2k]*y[2k] + x[2k+1]*y[2k+1] (int16 pairs, products and sum wrap in int32)."""
        m = b.mul(b.sext(x, self.wide), b.sext(y, self.wide))
        return b.add(b.shuffle_vector(m, m, self.even), b.shuffle_vector(m, m, self.odd))

    def load_pairs(self, b, ptr):
        return b.bitcast(b.load(b.bitcast(ptr, self.acc.as_pointer()), align=4), self.pairs)

    def broadcast_pair(self, b, x):
        v = b.insert_element(ir.Constant(self.acc, ir.Undefined), x, ir.Constant(_I32, 0))
        return b.bitcast(b.shuffle_vector(v, v, self.zero), self.pairs)


def _make_tile(lanes):
    """The tile intrinsic for `lanes` (8, 16 or 32) output channels: accumulators of <= 16 lanes."""
    vec = _Vec(min(lanes, 16))
    width = min(lanes, 16)
    parts = lanes // width

    @intrinsic
    def tile(typingctx, cols, wpair, acc):
        sig = types.void(cols, wpair, acc)

        def codegen(context, builder, signature, args):
            c, w, a = (context.make_array(t)(context, builder, v) for t, v in zip(signature.args, args))
            n2 = builder.extract_value(w.shape, 0)
            row = builder.extract_value(c.shape, 1)
            accs = []
            for _ in range(parts * TILE_P):
                slot = cgutils.alloca_once(builder, vec.acc)
                builder.store(vec.zero, slot)
                accs.append(slot)
            with cgutils.for_range(builder, n2) as loop:
                i = loop.index
                wrow = builder.gep(w.data, [builder.mul(i, ir.Constant(i.type, lanes))])
                wv = [vec.load_pairs(builder, builder.gep(wrow, [ir.Constant(i.type, width * h)]))
                      for h in range(parts)]
                for p in range(TILE_P):
                    at = builder.add(builder.mul(ir.Constant(i.type, p), row), i)
                    v = vec.broadcast_pair(builder, builder.load(builder.gep(c.data, [at])))
                    for h in range(parts):
                        slot = accs[parts * p + h]
                        builder.store(builder.add(builder.load(slot), vec.pair_madd(builder, v, wv[h])), slot)
            for p in range(TILE_P):
                for h in range(parts):
                    dst = builder.gep(a.data, [ir.Constant(ir.IntType(64), p * lanes + width * h)])
                    dst = builder.bitcast(dst, vec.acc.as_pointer())
                    builder.store(builder.load(accs[parts * p + h]), dst, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


madd_tile = _make_tile(32)
madd_tile16 = _make_tile(16)
madd_tile8 = _make_tile(8)


def _host_vnni():
    """True when numba compiles for this host and the host has AVX-512 VNNI (vpdpbusd)."""
    from numba.core import config
    if config.CPU_NAME not in (None, "host") or config.CPU_FEATURES:
        return False
    import llvmlite.binding as llvm
    try:
        return bool(llvm.get_host_cpu_features().get("avx512vnni"))
    except RuntimeError:
        return False


VNNI = _host_vnni()     # q7 convolutions use u8 x s8 quads (64 MACs per instruction) when True
_I8 = ir.IntType(8)


def _quad_dot_portable(b, width, acc, x, w):
    """acc + lane k sum_{t<4} u8(x[4k+t]) * s8(w[4k+t]) in wrapping int32 (what vpdpbusd does)."""
    bytes_ = ir.VectorType(_I8, 4 * width)
    wide = ir.VectorType(_I32, 4 * width)
    m = b.mul(b.zext(b.bitcast(x, bytes_), wide), b.sext(b.bitcast(w, bytes_), wide))
    for t in range(4):
        lanes = ir.Constant(ir.VectorType(_I32, width), [4 * k + t for k in range(width)])
        part = b.shuffle_vector(m, m, lanes)
        acc = b.add(acc, part)
    return acc


def _quad_dot_vnni(b, width, acc, x, w):
    """The same as `_quad_dot_portable`, as the AVX-512 VNNI instruction vpdpbusd (non-saturating)."""
    vec = ir.VectorType(_I32, width)
    name = f"llvm.x86.avx512.vpdpbusd.{32 * width}"
    fn = cgutils.get_or_insert_function(b.module, ir.FunctionType(vec, [vec, vec, vec]), name)
    return b.call(fn, [acc, x, w])


def _make_direct(kind, lanes, vnni=None):
    """Tile intrinsic reading the taps straight from a padded image (no im2col copy).

    direct(img, bases, offs, wpack, acc): for p < TILE_P, i < len(offs), the 4 bytes at byte
    offset bases[p] + offs[i] of img are tap group i of pixel p: two int16 taps (kind "i16",
    products as `madd_tile`) or four bytes x ^ 0x80 = x + 128 as uint8 (kind "u8", multiplied
    with four int8 weights as vpdpbusd does: u8 x s8 products summed into wrapping int32; the
    caller subtracts 128 * sum(w) in the epilogue, exact modulo 2**32). wpack (len(offs), lanes)
    int32 holds each output channel's matching weight group; acc (TILE_P, lanes) is overwritten.
    """
    width = min(lanes, 16)
    parts = lanes // width
    accty = ir.VectorType(_I32, width)
    vec = _Vec(width)
    use_vnni = VNNI if vnni is None else vnni
    zero = ir.Constant(accty, [0] * width)
    splat = ir.Constant(accty, [0] * width)

    def step(b, acc, x, w):
        if kind == "i16":
            return b.add(acc, vec.pair_madd(b, b.bitcast(x, vec.pairs), b.bitcast(w, vec.pairs)))
        return (_quad_dot_vnni if use_vnni else _quad_dot_portable)(b, width, acc, x, w)

    @intrinsic
    def direct(typingctx, img, bases, offs, wpack, acc):
        sig = types.void(img, bases, offs, wpack, acc)

        def codegen(context, builder, signature, args):
            im, bs, of, w, a = (context.make_array(t)(context, builder, v)
                                for t, v in zip(signature.args, args))
            i8p = _I8.as_pointer()
            base_ptr = builder.bitcast(im.data, i8p)
            n4 = builder.extract_value(w.shape, 0)
            pix = [builder.gep(base_ptr, [builder.load(builder.gep(bs.data, [_i64(p)]))])
                   for p in range(TILE_P)]
            accs = []
            for _ in range(parts * TILE_P):
                slot = cgutils.alloca_once(builder, accty)
                builder.store(zero, slot)
                accs.append(slot)
            with cgutils.for_range(builder, n4) as loop:
                i = loop.index
                off = builder.load(builder.gep(of.data, [i]))
                wrow = builder.gep(w.data, [builder.mul(i, ir.Constant(i.type, lanes))])
                wv = [builder.load(builder.bitcast(builder.gep(wrow, [ir.Constant(i.type, width * h)]),
                                                   accty.as_pointer()), align=4) for h in range(parts)]
                for p in range(TILE_P):
                    q = builder.bitcast(builder.gep(pix[p], [off]), _I32.as_pointer())
                    x = builder.insert_element(ir.Constant(accty, ir.Undefined), builder.load(q, align=1),
                                               ir.Constant(_I32, 0))
                    x = builder.shuffle_vector(x, x, splat)
                    for h in range(parts):
                        slot = accs[parts * p + h]
                        builder.store(step(builder, builder.load(slot), x, wv[h]), slot)
            for p in range(TILE_P):
                for h in range(parts):
                    dst = builder.gep(a.data, [ir.Constant(ir.IntType(64), p * lanes + width * h)])
                    builder.store(builder.load(accs[parts * p + h]),
                                  builder.bitcast(dst, accty.as_pointer()), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return direct


direct_i16_32, direct_i16_16, direct_i16_8 = (_make_direct("i16", n) for n in (32, 16, 8))
direct_u8_32, direct_u8_16, direct_u8_8 = (_make_direct("u8", n) for n in (32, 16, 8))


@njit(inline="always")
def direct_madd(img, u8, bases, offs, wpack, acc):
    """`_make_direct`'s tile: uint8 quads when u8, else int16 pairs; width from wpack."""
    if not u8:
        if wpack.shape[1] == 8:
            direct_i16_8(img, bases, offs, wpack, acc)
        elif wpack.shape[1] == 16:
            direct_i16_16(img, bases, offs, wpack, acc)
        else:
            direct_i16_32(img, bases, offs, wpack, acc)
    else:
        if wpack.shape[1] == 8:
            direct_u8_8(img, bases, offs, wpack, acc)
        elif wpack.shape[1] == 16:
            direct_u8_16(img, bases, offs, wpack, acc)
        else:
            direct_u8_32(img, bases, offs, wpack, acc)


@njit(inline="always")
def madd(cols, wpair, acc):
    """acc[p, j] = sum_i <cols[p, i], wpair[i, j]> as int16 pairs; the tile width is wpair.shape[1]."""
    if wpair.shape[1] == 8:
        madd_tile8(cols, wpair, acc)
    elif wpair.shape[1] == 16:
        madd_tile16(cols, wpair, acc)
    else:
        madd_tile(cols, wpair, acc)


def _make_requant(out_bits, lanes):
    """requant(acc, init, o0, sh, out, d0, ncol, m, nj), the §0.4 epilogue of a tile as int32
    vectors: for p < m, j < nj: out[d0 + p*ncol + j] = ssat((init[o0 + j] + acc[p, j]) >> sh)
    (int32 add wrapping, arithmetic shift, saturation to `out_bits`), stored with masked vector
    stores (no scalar remainder loop for layers whose channels are not a multiple of 16)."""
    width = min(lanes, 16)
    vty = ir.VectorType(_I32, width)
    oty = ir.VectorType(ir.IntType(out_bits), width)
    mty = ir.VectorType(ir.IntType(1), width)
    hi = (1 << (out_bits - 1)) - 1
    store_name = f"llvm.masked.store.v{width}i{out_bits}.p0"

    def splat(b, x):
        v = b.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(_I32, 0))
        return b.shuffle_vector(v, ir.Constant(vty, ir.Undefined), ir.Constant(vty, [0] * width))

    @intrinsic
    def requant(typingctx, acc, init, o0, sh, out, d0, ncol, m, nj):
        sig = types.void(acc, init, o0, sh, out, d0, ncol, m, nj)

        def codegen(context, builder, signature, args):
            a, iv, o = (context.make_array(signature.args[k])(context, builder, args[k]) for k in (0, 1, 4))
            o0_, sh_, d0_, ncol_, m_, nj_ = args[2], args[3], args[5], args[6], args[7], args[8]
            shv = splat(builder, builder.trunc(sh_, _I32))
            njv = splat(builder, builder.trunc(nj_, _I32))
            lo_v, hi_v = ir.Constant(vty, [-hi - 1] * width), ir.Constant(vty, [hi] * width)
            fnty = ir.FunctionType(ir.VoidType(), [oty, oty.as_pointer(), _I32, mty])
            store = cgutils.get_or_insert_function(builder.module, fnty, store_name)
            inits, masks = [], []
            for h in range(lanes // width):
                ptr = builder.gep(iv.data, [builder.add(o0_, ir.Constant(o0_.type, h * width))])
                inits.append(builder.load(builder.bitcast(ptr, vty.as_pointer()), align=4))
                idx = ir.Constant(vty, [h * width + k for k in range(width)])
                masks.append(builder.icmp_signed("<", idx, njv))
            for p in range(TILE_P):
                live = builder.icmp_signed(">", m_, ir.Constant(m_.type, p))
                with builder.if_then(live):
                    row = builder.add(d0_, builder.mul(ncol_, ir.Constant(ncol_.type, p)))
                    for h in range(lanes // width):
                        src = builder.gep(a.data, [ir.Constant(ir.IntType(64), p * lanes + h * width)])
                        v = builder.load(builder.bitcast(src, vty.as_pointer()), align=4)
                        v = builder.ashr(builder.add(v, inits[h]), shv)
                        v = builder.select(builder.icmp_signed("<", v, lo_v), lo_v, v)
                        v = builder.select(builder.icmp_signed(">", v, hi_v), hi_v, v)
                        dst = builder.gep(o.data, [builder.add(row, ir.Constant(row.type, h * width))])
                        builder.call(store, [builder.trunc(v, oty), builder.bitcast(dst, oty.as_pointer()),
                                             ir.Constant(_I32, 1), masks[h]])
            return context.get_dummy_value()

        return sig, codegen

    return requant


requant8_32, requant8_16, requant8_8 = (_make_requant(8, n) for n in (32, 16, 8))
requant16_32, requant16_16, requant16_8 = (_make_requant(16, n) for n in (32, 16, 8))


@njit(inline="always")
def requant_rows(acc, init, o0, sh, out, d0, ncol, m, nj):
    """`_make_requant`'s epilogue for out's dtype (int8 or int16) and acc's width."""
    lanes = acc.shape[1]
    if out.itemsize == 1:
        if lanes == 8:
            requant8_8(acc, init, o0, sh, out, d0, ncol, m, nj)
        elif lanes == 16:
            requant8_16(acc, init, o0, sh, out, d0, ncol, m, nj)
        else:
            requant8_32(acc, init, o0, sh, out, d0, ncol, m, nj)
    else:
        if lanes == 8:
            requant16_8(acc, init, o0, sh, out, d0, ncol, m, nj)
        elif lanes == 16:
            requant16_16(acc, init, o0, sh, out, d0, ncol, m, nj)
        else:
            requant16_32(acc, init, o0, sh, out, d0, ncol, m, nj)


MEMO_MIN_SIZE = 4096     # weight arrays from this many values are worth remembering,
MEMO_MAX_SIZE = 1 << 22  # up to this many (a copy is kept)
_MEMO_MAX = 16
_MEMO = OrderedDict()
_MEMO_LOCK = threading.Lock()
_SCOPE = threading.local()


def _owner(arr):
    """The array that owns arr's memory (the end of its .base chain)."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


class memo_scope:
    """`with memo_scope(token):` in this thread, a `memo` entry already compared equal under the
    same token is trusted without comparing again (simulate: the token is its cached plan, whose
    weight arrays do not change while it is valid; a graph edit makes a new plan, so only the
    first chunk after a change compares).
    Only entries whose array still has the same owning array object (kept alive by the entry,
    so its address cannot be reused) are trusted."""

    def __init__(self, token):
        self.token = token

    def __enter__(self):
        self.saved = getattr(_SCOPE, "token", None)
        _SCOPE.token = self.token

    def __exit__(self, *exc):
        _SCOPE.token = self.saved


def memo(tag, arr, compute):
    """compute(arr) for a weight array, remembered by content: a later call with equal values at
    the same address (the same weights, e.g. every batch of simulate) gets the stored result
    after one comparison (none inside a `memo_scope` that compared it already), a changed array
    is computed again. The result must not be written to.
    """
    arr = np.asarray(arr)
    if not MEMO_MIN_SIZE <= arr.size <= MEMO_MAX_SIZE:
        return compute(arr)
    key = (tag, arr.__array_interface__["data"][0], arr.shape, arr.strides, arr.dtype.str)
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None:
            _MEMO.move_to_end(key)
    token = getattr(_SCOPE, "token", None)
    if hit is not None:
        owner = _owner(arr)
        if token is not None and hit[3] is token and hit[2] is owner:
            return hit[1]
        if np.array_equal(hit[0], arr):
            if token is not None:
                with _MEMO_LOCK:
                    if _MEMO.get(key) is hit:
                        _MEMO[key] = (hit[0], hit[1], owner, token)
            return hit[1]
    out = compute(arr)
    with _MEMO_LOCK:
        _MEMO[key] = (arr.copy(), out, _owner(arr), token)
        while len(_MEMO) > _MEMO_MAX:
            _MEMO.popitem(last=False)
    return out


def pack_pairs(wmat):
    """(C_out, T) int weights -> (groups, ceil(T/2), lanes) int32 of int16 tap pairs, zero padded
    (remembered by content, see `memo`: do not write to the result).

    lanes = 8 or 16 for C_out <= 8 or <= 16 (less padding work), else 32 with ceil(C_out/32) groups.
    """
    return memo("pack_pairs", wmat, _pack_pairs)


def _pack_pairs(wmat):
    c_out, taps = wmat.shape
    lanes = 8 if c_out <= 8 else 16 if c_out <= 16 else TILE_C
    groups, n2 = -(-c_out // lanes), -(-taps // 2)
    w16 = np.zeros((groups * lanes, 2 * n2), np.int16)
    w16[:c_out, :taps] = wmat
    pairs = w16.view(np.int32).reshape(groups, lanes, n2)
    return np.ascontiguousarray(pairs.transpose(0, 2, 1))


def pack_groups(wmat, k_y, run, group):
    """(C_out, k_y * run) int weights -> ((groups, n, lanes) int32 of `group` taps each: int8
    quads for group 4, int16 pairs for group 2; sum of each channel's weights as int64).

    Each kernel row of `run` taps is padded with zero weights to a multiple of `group`, so that a
    group never straddles two image rows (`_make_direct`); lanes as `pack_pairs`. Remembered by
    content (see `memo`: do not write to the result).
    """
    return memo(("pack_groups", k_y, run, group), wmat, lambda w: _pack_groups(w, k_y, run, group))


def _pack_groups(wmat, k_y, run, group):
    c_out = wmat.shape[0]
    lanes = 8 if c_out <= 8 else 16 if c_out <= 16 else TILE_C
    runp = -(-run // group) * group
    ngroups = -(-c_out // lanes)
    w = np.zeros((ngroups * lanes, k_y, runp), np.int8 if group == 4 else np.int16)
    w[:c_out, :, :run] = wmat.reshape(c_out, k_y, run)
    packs = w.reshape(ngroups * lanes, -1).view(np.int32).reshape(ngroups, lanes, -1)
    wsum = wmat.astype(np.int64).sum(axis=1)
    return np.ascontiguousarray(packs.transpose(0, 2, 1)), wsum


def parallel_worth_it(pixels, wpair):
    """Whether a tile loop has enough work (padded MACs) to pay for waking numba's threads.

    Small calls run serially: on a busy 2-core machine a parallel region can wait ~10 ms for its
    second thread to be scheduled (measured with numba's default omp layer: fc 58->128 on 1000
    items took 10-16 ms with 2 threads against 0.11 ms serially; fc 128->3, 4 ms vs 44 us).
    """
    return worth_threads(pixels * wpair.size * 2)


def worth_threads(macs):
    """Whether a loop of `macs` multiply-adds should run its parallel twin: enough work, and more
    than one numba thread in this thread (simulate's workers set 1: a parallel region there only
    adds its launch, which runs Python code holding the GIL)."""
    return macs >= PARALLEL_MIN_MACS and numba.get_num_threads() > 1
