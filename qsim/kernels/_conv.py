"""Engine shared by the eleven legacy convolutions (semantics doc §0.4, §0.5, §1).

Every regular conv is a sum of products over (ky, kx, c) taps in the OHWI weight order, then
§0.4: out = sat_bits(wrap32(init[o] + acc) >> out_shift), with
init[o] = wrap32((int32(bias[o]) << bias_shift) + NN_ROUND(out_shift)). Summing in wrapping int32
is exact modulo 2**32, which is all the C keeps, for any tap count and both q7 and q15, and in
any order, so the taps may be regrouped freely. Two loops compute it:

- `conv_direct` (the usual one): each item is copied once into a zero-padded image (int16, or
  for q7 on AVX-512 VNNI hosts uint8 x + 128) and `_simd.direct_madd` reads every window's tap
  groups straight from it: no im2col copy. q7 then runs as u8 x s8 quads (vpdpbusd, 64 MACs per
  instruction, twice the int16 rate), with -128 * sum(w) folded into init (exact modulo 2**32).
  Measured on the KWS net at 1 thread, 104 items: conv1 1.37 -> 0.52 ms, conv2 2.53 -> 1.3 ms.
- `conv` (the im2col gather loop): where the REF path of 5.7.0 keeps input row/column indices
  in a signed char (§1.1, §8 item 4; qsim.constraints.SIGNED_CHAR_INDEX) and an index can wrap
  (`conv(..., quirk=True)` wraps it to int8 before the bounds test and the read), and for huge
  padded images. Per pixel it gathers the taps into an int16 column (zeros for padding) and
  `_simd.madd` multiplies 8 columns with 8, 16 or 32 weight rows at a time.

Both end in `_fc.requant_tile` (int32 vectors, masked stores). Calls with little work run the
serial twins (see `_simd.parallel_worth_it`). Every wrapper first runs `run_checks`: the geometry
(qsim.ops.ConvGeometry) and the refusals of qsim.constraints, shared with kernel choice. The DSP
path and 5.9.0 compute the true convolution.

The depthwise functions (§1.10) have one tap per channel, so they run as their own direct loop.
"""
from functools import lru_cache

import numpy as np
from numba import njit, prange, uint64

from ..constraints import check_call, index_quirk
from ..fixedpoint import round_constant, ssat, wrap_i8, wrap_i32
from ..ops import ConvGeometry
from ._fc import init_values, padded_init, requant_tile
from . import _simd
from ._simd import TILE_P, direct_madd, madd, pack_groups, pack_pairs, parallel_worth_it

CHUNK_TILES = 16     # tiles per parallel work item (128 pixels)
DIRECT_MAX_IMAGE = 1 << 22   # padded images up to this many values use the direct loop
DIRECT = True                # False: every conv takes the im2col gather loop (tests compare both)


def run_checks(fn, b):
    """The ConvGeometry of a bound call, after refusing what `qsim.constraints` says `fn` refuses."""
    g = ConvGeometry.from_args(b)
    check_call(fn, g, b.path, b.release)
    return g


def quirk(fn, b):
    """True where this call reproduces the signed-char index quirk (qsim.constraints.index_quirk)."""
    return index_quirk(fn, b.path, b.release)


def init_vector(b):
    """init[o] = wrap32((int32(bias[o]) << bias_shift) + NN_ROUND(out_shift)) of the call's release."""
    return init_values(b["bias"], b["bias_shift"], round_constant(b["out_shift"], b.truncate, b.release))


@njit(cache=True, inline="always")
def gather(im, n, oy, ox, geo, quirk, offs, col):
    """Write output pixel (oy, ox) of item n's (ky, kx, c) taps into col as int16 (0 for padding).

    offs[t] is tap t's offset from the window's first pixel in an unpadded image. Copy loops index
    with uint64: numba's wrap-around test for negative signed indices would otherwise keep LLVM
    from vectorising them (measured 20x slower).
    """
    in_y, in_x, ch, k_y, k_x, pad_y, pad_x, s_y, s_x, out_y, out_x = geo
    run = k_x * ch
    r0 = oy * s_y - pad_y
    c0 = ox * s_x - pad_x
    row = im[n]
    inside_x = c0 >= 0 and c0 + k_x <= in_x and (not quirk or c0 + k_x <= 128)   # no int8 wrap either
    if inside_x and r0 >= 0 and r0 + k_y <= in_y and (not quirk or r0 + k_y <= 128):
        base = uint64((r0 * in_x + c0) * ch)
        if run >= 16:                                  # one contiguous run per kernel row
            for ky in range(k_y):
                src = base + uint64(ky * in_x * ch)
                dst = uint64(ky * run)
                for j in range(uint64(run)):
                    col[dst + j] = row[src + j]
        else:                                          # short runs: one flat loop over the taps
            for t in range(uint64(offs.shape[0])):
                col[t] = row[base + offs[t]]
        return
    for ky in range(k_y):
        r = r0 + ky
        if quirk:
            r = wrap_i8(r)
        dst = uint64(ky * run)
        if r < 0 or r >= in_y:
            for j in range(uint64(run)):
                col[dst + j] = 0
        elif inside_x:
            src = uint64((r * in_x + c0) * ch)
            for j in range(uint64(run)):
                col[dst + j] = row[src + j]
        else:
            for kx in range(k_x):
                c = c0 + kx
                if quirk:
                    c = wrap_i8(c)
                d = dst + uint64(kx * ch)
                if 0 <= c < in_x:
                    src = uint64((r * in_x + c) * ch)
                    for j in range(uint64(ch)):
                        col[d + j] = row[src + j]
                else:
                    for j in range(uint64(ch)):
                        col[d + j] = 0


def _conv(im, wpair, offs, init, geo, quirk, out_shift, bits, out):
    """out[q, o] = ssat(wrap32(init[o] + <w[o], column of output pixel q>) >> out_shift, bits).

    q runs over all (n, oy, ox) of the batch; tiles of TILE_P pixels are gathered into int16
    columns (zeros for padding, and for the odd tap that pads the column to whole pairs) and
    multiplied with 16 or 32 output channels at a time by `_simd.madd`, exactly modulo 2**32.
    Every output is computed once from its own column, so the result does not depend on the
    tiling or the thread count. Compiled twice: `conv` (parallel) and `conv_serial`.
    """
    out_y, out_x = geo[9], geo[10]
    groups, n2, lanes = wpair.shape
    npix = out_y * out_x
    total = out.shape[0]
    ntiles = (total + TILE_P - 1) // TILE_P
    nchunks = (ntiles + CHUNK_TILES - 1) // CHUNK_TILES
    for chunk in prange(nchunks):
        col16 = np.zeros((TILE_P, 2 * n2), np.int16)
        cols = col16.view(np.int32)
        acc = np.empty((TILE_P, lanes), np.int32)
        for tile in range(chunk * CHUNK_TILES, min(ntiles, (chunk + 1) * CHUNK_TILES)):
            q0 = tile * TILE_P
            m = min(TILE_P, total - q0)
            for p in range(m):
                n, pix = divmod(q0 + p, npix)
                gather(im, n, pix // out_x, pix % out_x, geo, quirk, offs, col16[p])
            for g in range(groups):
                madd(cols, wpair[g], acc)
                requant_tile(acc, m, init, g * lanes, out_shift, bits, out, q0)


conv = njit(cache=True, parallel=True, nogil=True)(_conv)
conv_serial = njit(cache=True, nogil=True)(_conv)


def _conv_direct(im, u8, wpack, offs, init, geo, rows, cols, out_shift, bits, out):
    """The same result as `_conv` without the im2col copy (semantics doc §0.4, §1).

    Per (item, run of up to CHUNK_TILES tiles of its output pixels), the item is copied once into
    a zero-padded image of rows x cols pixels (pad_y / pad_x zeros before, zeros after up to the
    last window's end; taps in the padding read 0 like the C skips them), as int16 or, when u8,
    as x + 128 in uint8 (the padding then holds 128, the value of 0). `_simd.direct_madd` reads
    each window's tap groups straight from it at byte offsets offs (weights `_simd.pack_groups`),
    and with u8 `init` already holds -128 * sum(w): out = ssat(wrap32(init + acc) >> s).
    """
    in_y, in_x, ch, k_y, k_x, pad_y, pad_x, s_y, s_x, out_y, out_x = geo
    groups, n4, lanes = wpack.shape
    npix = out_y * out_x
    span = CHUNK_TILES * TILE_P
    nparts = (npix + span - 1) // span
    es = 1 if u8 else 2
    size = rows * cols * ch + 4               # + slack: a last group may read 3 values past a window
    run = uint64(in_x * ch)
    for unit in prange(im.shape[0] * nparts):
        n, part = divmod(np.int64(unit), np.int64(nparts))   # int64: a parfor index may be
        #                                                   unsigned (divmod would give floats)
        buf = np.empty((size + 1) // 2 if u8 else size, np.int16)
        src = im[n]
        if u8:
            b8 = buf.view(np.uint8)
            b8[:] = 128
            for r in range(in_y):
                d0 = uint64(((r + pad_y) * cols + pad_x) * ch)
                s0 = uint64(r * in_x * ch)
                for j in range(run):
                    b8[d0 + j] = np.uint8(np.int16(src[s0 + j]) + 128)
        else:
            buf[:] = 0
            for r in range(in_y):
                d0 = uint64(((r + pad_y) * cols + pad_x) * ch)
                s0 = uint64(r * in_x * ch)
                for j in range(run):
                    buf[d0 + j] = src[s0 + j]
        bases = np.empty(TILE_P, np.int64)
        acc = np.empty((TILE_P, lanes), np.int32)
        end = min(npix, (part + 1) * span)
        oy, ox = divmod(part * span, out_x)
        for t0 in range(part * span, end, TILE_P):
            m = min(TILE_P, end - t0)
            for p in range(TILE_P):               # pixel t0 + p (the last one again past m)
                bases[p] = (oy * s_y * cols + ox * s_x) * ch * es
                if p < m - 1:
                    ox += 1
                    if ox == out_x:
                        ox = 0
                        oy += 1
            ox += 1                               # the pixel after t0 + m - 1
            if ox == out_x:
                ox = 0
                oy += 1
            for g in range(groups):
                direct_madd(buf, u8, bases, offs, wpack[g], acc)
                requant_tile(acc, m, init, g * lanes, out_shift, bits, out, n * npix + t0)


conv_direct = njit(cache=True, parallel=True, nogil=True)(_conv_direct)
conv_direct_serial = njit(cache=True, nogil=True)(_conv_direct)


@lru_cache(maxsize=256)
def direct_offsets(k_y, row, run, group, es):
    """Byte offsets of a window's tap groups in `_conv_direct`'s padded image (read-only): kernel
    row ky's groups start at ky * row values (row = padded pixels per image row * channels)."""
    runp = -(-run // group) * group
    offs = ((np.arange(k_y)[:, None] * row + np.arange(0, runp, group)[None, :]) * es).ravel()
    offs = offs.astype(np.int64)
    offs.flags.writeable = False
    return offs


def direct_plan(g, quirk):
    """(rows, cols) of `_conv_direct`'s padded image, or None where the gather loop must run:
    the signed-char index quirk can wrap an index (any index outside -128..127), or the padded
    image would be very large."""
    rows = max(g.pad_y + g.in_y, (g.out_y - 1) * g.stride_y + g.k_y)
    cols = max(g.pad_x + g.in_x, (g.out_x - 1) * g.stride_x + g.k_x)
    if quirk and (max(g.pad_y, g.pad_x) > 128 or rows - max(g.pad_y, 0) > 128
                  or cols - max(g.pad_x, 0) > 128):
        return None
    if (min(g.pad_y, g.pad_x) < 0 or min(g.stride_y, g.stride_x) < 1
            or rows * cols * g.ch_in > DIRECT_MAX_IMAGE):
        return None
    return rows, cols


def conv_hwc(b, g, bits, quirk):
    """Run §1's regular convolution for a bound call `b` with Geometry `g`; returns (N, OY, OX, C_out)."""
    return conv_layer(b, g, bits, quirk)(b["Im_in"].reshape(b.n, -1))


def conv_layer(b, g, bits, quirk):
    """Prepare §1's regular convolution for a bound call `b` (Geometry `g`): everything that does
    not depend on the data input (packed weights, tap offsets, init vector, loop choice) is
    computed here, once. Returns run(im) for im (N, size) C-contiguous of b's Im_in dtype, any N,
    -> (N, OY, OX, C_out); run only allocates the output and calls the numba loop (simulate keeps
    run per layer, see qsim.kernels.PREPARE)."""
    dtype = np.int8 if bits == 8 else np.int16
    tail = (g.out_y, g.out_x, g.ch_out)
    shift, geo = b["out_shift"], g.loop_args()
    if not g.out_y * g.out_x * g.ch_out:
        return lambda im: np.empty((len(im),) + tail, dtype)
    plan = direct_plan(g, quirk) if DIRECT else None
    if plan is not None:
        u8 = bits == 8 and b["Im_in"].dtype == np.int8 and _simd.VNNI
        group = 4 if u8 else 2
        run = g.k_x * g.ch_in
        wpack, wsum = pack_groups(b["wt"].reshape(g.ch_out, g.k_y * run), g.k_y, run, group)
        offs = direct_offsets(g.k_y, plan[1] * g.ch_in, run, group, 1 if u8 else 2)
        init = init_vector(b)
        if u8:
            init = (init - 128 * wsum + (1 << 31)) % (1 << 32) - (1 << 31)
        init = padded_init(init, wpack.shape[2])
        rows, cols = plan

        def run_direct(im):
            out = np.empty((len(im),) + tail, dtype)
            out2 = out.reshape(-1, g.ch_out)
            fn = conv_direct if parallel_worth_it(len(out2), wpack) else conv_direct_serial
            fn(im, u8, wpack, offs, init, geo, rows, cols, shift, bits, out2)
            return out
        return run_direct
    wpair = pack_pairs(b["wt"].reshape(g.ch_out, g.ch_in * g.k_y * g.k_x))
    ky, kx, c = np.meshgrid(np.arange(g.k_y), np.arange(g.k_x), np.arange(g.ch_in), indexing="ij")
    offs = ((ky * g.in_x + kx) * g.ch_in + c).astype(np.uint64).ravel()
    init = padded_init(init_vector(b), wpair.shape[2])

    def run_gather(im):
        out = np.empty((len(im),) + tail, dtype)
        out2 = out.reshape(-1, g.ch_out)
        fn = conv if parallel_worth_it(len(out2), wpair) else conv_serial
        fn(im, wpair, offs, init, geo, quirk, shift, bits, out2)
        return out
    return run_gather


def conv_prepare(fn, bits):
    """The PREPARE entry of the regular convolution `fn` (output `bits` wide): b -> run(Im_in)."""
    def prepare(b):
        return conv_layer(b, run_checks(fn, b), bits, quirk(fn, b))
    prepare.__doc__ = f"{fn} for a bound call: checks, then `conv_layer` (run(Im_in) -> output)."
    return prepare


@njit(cache=True, parallel=True, nogil=True)
def depthwise(im, wt, init, geo, out_shift, out):
    """§1.10: out[n, oy, ox, c] = sat8(wrap32(init[c] + sum over valid taps of x * w[ky, kx, c]) >> s).

    The channel sums wrap in int32 (exact modulo 2**32, all the C keeps); row views and uint64
    channel indices let LLVM vectorise the channel loops (measured 10x faster than int64 sums
    with signed 2-D indexing).
    """
    in_y, in_x, ch, k_y, k_x, pad_y, pad_x, s_y, s_x, out_y, out_x = geo
    uch = uint64(ch)
    for n in prange(im.shape[0]):
        row = im[n]
        dst = out[n]
        acc = np.empty(ch, np.int32)
        for oy in range(out_y):
            for ox in range(out_x):
                for j in range(uch):
                    acc[j] = 0
                for ky in range(k_y):
                    r = oy * s_y + ky - pad_y
                    if r < 0 or r >= in_y:
                        continue
                    for kx in range(k_x):
                        c = ox * s_x + kx - pad_x
                        if c < 0 or c >= in_x:
                            continue
                        src = uint64((r * in_x + c) * ch)
                        w0 = uint64((ky * k_x + kx) * ch)
                        for j in range(uch):
                            acc[j] = np.int32(acc[j] + np.int32(row[src + j]) * np.int32(wt[w0 + j]))
                d0 = uint64((oy * out_x + ox) * ch)
                for j in range(uch):
                    dst[d0 + j] = ssat(wrap_i32(init[j] + np.int64(acc[j])) >> out_shift, 8)


@njit(cache=True, parallel=True, nogil=True)
def depthwise_rows(im, wtile, itile, geo, out_shift, out):
    """`depthwise` for stride_x == 1, a whole output row at a time: for each tap (ky, kx) the
    valid outputs ox of a row read one contiguous run of the input row, so the multiply-adds run
    over (ox, c) as one long loop (weights tiled out_x times in wtile, init in itile) that LLVM
    vectorises fully; the channel-only loops of `depthwise` are too short for its vector loop
    (measured 2.45 -> 1.34 ms per 256 DS-CNN items at 16x16x32). Same sums, same result.
    """
    in_y, in_x, ch, k_y, k_x, pad_y, pad_x, s_y, s_x, out_y, out_x = geo
    span = uint64(out_x * ch)
    for n in prange(im.shape[0]):
        row = im[n]
        dst = out[n]
        acc = np.empty(out_x * ch, np.int32)
        for oy in range(out_y):
            for j in range(span):
                acc[j] = 0
            for ky in range(k_y):
                r = oy * s_y + ky - pad_y
                if r < 0 or r >= in_y:
                    continue
                for kx in range(k_x):
                    lo = max(0, pad_x - kx)
                    hi = min(out_x, in_x + pad_x - kx)
                    if hi <= lo:
                        continue
                    src = uint64((r * in_x + lo + kx - pad_x) * ch)
                    a0 = uint64(lo * ch)
                    w = wtile[ky * k_x + kx]
                    for j in range(uint64((hi - lo) * ch)):
                        acc[a0 + j] = np.int32(acc[a0 + j] + np.int32(row[src + j]) * np.int32(w[a0 + j]))
            d0 = uint64(oy) * span
            for j in range(span):
                v = np.int64(np.int32(itile[j] + acc[j])) >> out_shift
                dst[d0 + j] = min(max(v, -128), 127)


def depthwise_hwc(b, g):
    """Run §1.10/§1.11 for a bound call; returns (N, OY, OX, C) int8."""
    return depthwise_layer(b, g)(b["Im_in"].reshape(b.n, -1))


def depthwise_layer(b, g):
    """Prepare §1.10/§1.11 for a bound call (tiled weights and init vector, once); returns
    run(im) for im (N, size) C-contiguous int8, any N, -> (N, OY, OX, C) int8."""
    tail = (g.out_y, g.out_x, g.ch_out)
    shift, geo = b["out_shift"], g.loop_args()
    if not g.out_y * g.out_x * g.ch_out:
        return lambda im: np.empty((len(im),) + tail, np.int8)
    init = init_vector(b)
    if g.stride_x == 1 and g.out_x > 0:
        wt = b["wt"].reshape(g.k_y * g.k_x, g.ch_in)
        wtile, itile = np.tile(wt, (1, g.out_x)), np.tile(init, g.out_x)

        def run_rows(im):
            out = np.empty((len(im),) + tail, np.int8)
            depthwise_rows(im, wtile, itile, geo, shift, out.reshape(len(im), -1))
            return out
        return run_rows
    wt = b["wt"].reshape(-1)

    def run(im):
        out = np.empty((len(im),) + tail, np.int8)
        depthwise(im, wt, init, geo, shift, out.reshape(len(im), -1))
        return out
    return run


def depthwise_prepare(fn):
    """The PREPARE entry of the depthwise convolution `fn`: b -> run(Im_in)."""
    def prepare(b):
        return depthwise_layer(b, run_checks(fn, b))
    prepare.__doc__ = f"{fn} for a bound call: checks, then `depthwise_layer` (run(Im_in) -> output)."
    return prepare
