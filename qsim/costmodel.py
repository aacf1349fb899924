"""Instruction cost model: predicted QEMU instruction counts of a quantized network, per layer.

`estimate(qgraph, target)` returns a CostEstimate without running anything: for every node it
takes the C call(s) the generated code makes (qsim.lower.kernel_call, the buffer plan of
codegen.buffer_plan: input copy / zero-channel widening, copies before calls that overwrite their
input, the transpose_hw loop) and evaluates a small linear model per C function on a few loop
counts of the call's arguments (`features`): output pixels and elements, window positions (with and
without the padded ones), im2col elements, MACs, remainders of the 4-/2-way unrolled loops.

The coefficients are numbers only, fitted per (C function, target, CMSIS release) from QEMU runs
of that function alone with varied, random arguments (harness/kernel_cost.py) by
bench/fit_cost_model.py, and stored in qsim/data/costmodel.json:

    python bench/fit_cost_model.py --cmsis ~/cmsis-5.9.0 --cmsis ~/cmsis-5.7.0

The measured unit is what harness/cortex_m.py reports per layer (TargetRun.insns): executed guest
instructions between the end of the previous layer's tap and the start of this layer's tap,
including argument set-up. Every fitted call includes that tap overhead once (the pseudo-function
"layer", a few instructions), so a layer is "layer" plus each of its calls' cost minus "layer"; a
layer without a call (flatten) costs only the overhead.
Targets: "cortex-m4" runs the DSP path, "cortex-m3" the REF path (harness.cortex_m.CPU_PATH).
"""
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import QsimError

DATA_FILE = Path(__file__).with_name("data") / "costmodel.json"
from .releases import TARGET_PATH  # noqa: E402  (re-exported)
# pseudo-functions: what the generated code does besides calls (fitted like the kernels)
PSEUDO = ("layer", "memcpy", "transpose_hw", "widen_input")


class CostModelError(QsimError):
    """The cost model cannot price a graph (target, release or kernel without coefficients)."""


@dataclass(frozen=True)
class CostEstimate:
    total: int                      # predicted executed instructions per inference (QEMU insn count)
    per_layer: dict                 # {node name: predicted instructions}
    target: str                     # "cortex-m4" (DSP path) or "cortex-m3" (REF path)
    release: str                    # "5.7.0" / "5.9.0"


# ---------------------------------------------------------------------------------------------
# features: loop counts of one call, from its scalar arguments

def _valid_sum(d, k, p, s, o):
    """Sum over the o outputs of one axis of the kernel taps that fall inside the image."""
    out = 0
    for i in range(o):
        start = i * s - p
        out += max(0, min(k, d - start) - max(0, -start))
    return out


def window_geometry(fn, a):
    """(in_x, in_y, cin, cout, kx, ky, px, py, sx, sy, ox, oy) of a window call's arguments."""
    if "dim_im_in" in a:                    # CMSIS square functions (conv, depthwise, pools)
        d, k, p, s, o = (a["dim_im_in"], a["dim_kernel"], a["padding"], a["stride"],
                         a["dim_im_out"])
        return d, d, a["ch_im_in"], a.get("ch_im_out", a["ch_im_in"]), k, k, p, p, s, s, o, o
    if "dim_kernel_x" in a:
        return (a["dim_im_in_x"], a["dim_im_in_y"], a["ch_im_in"], a.get("ch_im_out", a["ch_im_in"]),
                a["dim_kernel_x"], a["dim_kernel_y"], a["padding_x"], a["padding_y"], a["stride_x"],
                a["stride_y"], a["dim_im_out_x"], a["dim_im_out_y"])
    raise CostModelError(f"{fn}: not a window function")


def _dsp_pool_compares(d, k, p, s, o, row):
    """Compare/accumulate calls along one axis of CMSIS's DSP pooling (arm_pool_q7_HWC.c): the
    window of output i starts at i*s-p, or at i (x) / 0 (y: `row`) when that is negative, and
    stops at the image edge; the first tap is a copy, the others compares."""
    n = 0
    for i in range(o):
        start = i * s - p
        ws = start if start >= 0 else (0 if row else i)
        n += max(0, min(start + k, d) - ws - 1)
    return n


def _memcpy_feats(key, count, nbytes, misaligned):
    """Loop counts of `count` newlib memcpy calls of `nbytes` each (64-byte blocks, words, bytes)."""
    small = int(nbytes < 16)
    return {f"{key}": count, f"{key}_b64": count * (nbytes // 64), f"{key}_b4": count * (nbytes % 64 // 4),
            f"{key}_b1": count * (nbytes % 4), f"{key}_mis": count * nbytes * int(bool(misaligned)),
            f"{key}_small": count * small, f"{key}_small_n": count * small * nbytes,
            f"{key}_mis_c": count * int(bool(misaligned))}


def _window_features(fn, a):
    """Loop counts of a conv / depthwise / pooling call: P output pixels, E output values, KP
    window taps (KPv those inside the image), col the im2col column (kernel taps x cin), MAC(v)
    multiply-accumulates, P2 / C2 pixel / output-channel pairs (the DSP kernels compute 2 x 2),
    the remainders of the 4- and 2-way unrolled loops, and per-function extras (DSP depthwise
    im2col memcpy, DSP pooling's separable passes, companion pooling)."""
    ix, iy, cin, cout, kx, ky, px, py, sx, sy, ox, oy = window_geometry(fn, a)
    depthwise = "depthwise" in fn or "pool" in fn
    vx, vy = _valid_sum(ix, kx, px, sx, ox), _valid_sum(iy, ky, py, sy, oy)
    P, kk = ox * oy, kx * ky
    E = P * cout
    KP, KPv = P * kk, vx * vy
    col = kk * cin
    mac = KP * cin * (1 if depthwise else cout)
    macv = KPv * cin * (1 if depthwise else cout)
    P2, C2 = P // 2, cout // 2
    f = {
        "one": 1, "P": P, "E": E, "oy": oy, "oy_cout": oy * cout, "oy_ox": oy * ox,
        "KP": KP, "KPv": KPv, "KP_cin": KP * cin, "KPv_cin": KPv * cin, "E_kk": E * kk,
        "KPv_cout": KPv * cout, "MAC": mac, "MACv": macv,
        "E_ky": E * ky, "vy_ox_kx_cout": vy * ox * kx * cout,      # REF: kernel-row loops, row checks
        "E_colmod4": E * (col % 4), "E_colmod2": E * (col % 2), "E_cinmod4_kk": E * (cin % 4) * kk,
        "KP_c4": KP * (cin // 4), "KP_cinmod4": KP * (cin % 4), "KPv_cinmod4": KPv * (cin % 4),
        "P_col_coutodd": P * col * (cout % 2), "Podd_cout_col": (P % 2) * cout * col,
        "P2": P2, "P2_C2": P2 * C2, "P2_C2_col4": P2 * C2 * (col // 4), "P2_C2_colm4": P2 * C2 * (col % 4),
        "P2_C2_col2": P2 * C2 * (col // 2), "P2_C2_colm2": P2 * C2 * (col % 2),
        "P2_codd_col": P2 * (cout % 2) * col, "Podd_cout": (P % 2) * cout,
        "P_c4": P * (cout // 4), "P_cm4": P * (cout % 4), "P_c4_kk2": P * (cout // 4) * (kk // 2),
        "P_c4_kkodd": P * (cout // 4) * (kk % 2), "P_cm4_kk": P * (cout % 4) * kk,
        "KP_cin_unal": KP * cin * int(cin % 4 != 0), "P_cinmod2": P * (cin % 2), "P_cin": P * cin,
        "iy_ox": iy * ox, "iy_ox_cin": iy * ox * cin, "iy": iy, "in_elems": ix * iy * cin,
        "iy_vx_cin": iy * vx * cin, "vy_ox_cin": vy * ox * cin,
    }
    if fn.startswith("qsim_") and "pool" in fn:
        # max pooling replaces dst[c] at each new maximum: on random data, H(taps) times per value
        tx = [max(0, min(kx, ix - (i * sx - px)) - max(0, px - i * sx)) for i in range(ox)]
        ty = [max(0, min(ky, iy - (j * sy - py)) - max(0, py - j * sy)) for j in range(oy)]
        harm = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, kx * ky + 1))])
        f.update({"vy_ox": vy * ox, "harm_cin": float(sum(harm[a * b] for a in tx for b in ty)) * cin})
        if "count_include_pad" in a:     # average: the rounding / count branches per value
            f.update({"P_cin_incl": P * cin * a["count_include_pad"], "P_cin_round": P * cin * a["rounding"],
                      "P_cin_lshift": P * cin * int(a["out_lshift"] > 0), "P_incl": P * a["count_include_pad"]})
    if fn.startswith("arm_convolve"):    # DSP im2col: valid taps widened 4 at a time, padded taps
        f.update({"KPv_c4": KPv * (cin // 4)})                  # zeroed (memset of cin q15 values)
        f.update(_memcpy_feats("im2p", KP - KPv, 2 * cin, 0))
    if fn.startswith("arm_depthwise"):   # DSP im2col: a memcpy (or memset) of cin bytes per tap
        f.update(_memcpy_feats("im2v", KPv, cin, cin % 4))
        f.update(_memcpy_feats("im2p", KP - KPv, cin, cin % 4))
    if "pool" in fn and fn.startswith("arm_"):          # DSP pooling's separable passes
        cx = _dsp_pool_compares(ix, kx, px, sx, ox, False)
        cy = _dsp_pool_compares(iy, ky, py, sy, oy, True)
        row = ox * cin
        f.update({"pcx": iy * cx, "pcx_c4": iy * cx * (cin // 4), "pcx_cm4": iy * cx * (cin % 4),
                  "pcy": cy, "pcy_r4": cy * (row // 4), "pcy_rm4": cy * (row % 4)})
        f.update(_memcpy_feats("pmx", iy * ox, cin, cin % 4))
        f.update(_memcpy_feats("pmy", oy, row, row % 4))
    return f


def _fc_features(fn, a):
    D, R = a["dim_vec"], a["num_of_rows"]
    return {"one": 1, "R": R, "D": D, "RD": R * D, "R_Dmod4": R * (D % 4), "R_Dmod2": R * (D % 2),
            "Rmod4_D": (R % 4) * D, "Rmod2_D": (R % 2) * D, "Rmod4": R % 4, "Dmod4": D % 4}


def _size_features(n):
    return {"one": 1, "n": n, "n_mod4": n % 4, "n_mod2": n % 2, "n_mod16": n % 16}


_SIZE_ARG = ("size", "block_size", "blockSize")


def features(fn, a) -> dict:
    """{feature name: count} of one call of C function (or pseudo-function) `fn` with scalar
    arguments `a` (the KernelCall's args; arrays are ignored)."""
    if fn.startswith(("arm_convolve", "arm_depthwise", "qsim_depthwise")) or \
            fn in ("arm_maxpool_q7_HWC", "arm_avepool_q7_HWC") or fn.endswith("pool_q7_HWC_nonsquare") \
            or fn.endswith("pool_q15_HWC_nonsquare"):
        return _window_features(fn, a)
    if fn.startswith("arm_fully_connected"):
        return _fc_features(fn, a)
    if fn.startswith("qsim_global_avepool"):
        pix, cin = a["dim_im_in_x"] * a["dim_im_in_y"], a["ch_im_in"]
        return {"one": 1, "cin": cin, "pix": pix, "pix_cin": pix * cin}
    if fn.startswith("qsim_concat_channels"):
        b = 2 if fn.endswith("q15") else 1
        ch, out, off = a["ch_im_in"] * b, a["ch_im_out"] * b, a["ch_offset"] * b
        return {"one": 1, **_memcpy_feats("pix", a["num_pixels"], ch, (ch | out | off) % 4)}
    if fn == "arm_softmax_with_batch_q7":
        nb, n = a["nb_batches"], a["dim_vec"]
        return {"one": 1, "nb": nb, "nb_n": nb * n, "nb_nmod4": nb * (n % 4)}
    if fn.startswith("arm_softmax"):
        return _size_features(a["dim_vec"])
    if fn == "layer":
        return {"one": 1}
    if fn == "memcpy":
        n = a["nbytes"]
        big = int(n > 64)               # gcc inlines a memcpy of a constant size up to 64 bytes
        return {"one": 1, "inl_n": n * (1 - big), "inl_m4": (n % 4) * (1 - big),
                **_memcpy_feats("call", big, n * big, False)}
    if fn == "transpose_hw":        # the inner channel loop is a memcpy of c * bytes
        h, w, c, b = a["h"], a["w"], a["c"], a["bytes"]
        return {"one": 1, "h": h, **_memcpy_feats("hw", h * w, c * b, (c * b) % 4), "hwc": h * w * c}
    if fn == "widen_input":
        pix, ch, st, b = a["pixels"], a["ch"], a["stored"], a["bytes"]
        return {"one": 1, "pix": pix, "pix_ch": pix * ch, "pix_pad": pix * (st - ch),
                **{f"pix_ch{k}": pix * int(ch == k) for k in range(1, 9)},
                **{f"pix_pad{k}": pix * int(st - ch == k) for k in range(1, 5)}}
    for k in _SIZE_ARG:
        if k in a:
            return _size_features(a[k])
    raise CostModelError(f"no cost features for C function {fn!r}")


# ---------------------------------------------------------------------------------------------
# coefficients

@lru_cache(maxsize=4)
def _load(path=DATA_FILE):
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CostModelError(f"cannot read the cost model coefficients {path}: {e}. help: "
                             "regenerate them with bench/fit_cost_model.py") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        raise CostModelError(f"{path}: no 'models' table. help: regenerate it with "
                             "bench/fit_cost_model.py")
    return doc


def coefficients(release, target, path=DATA_FILE) -> dict:
    """{C function: {"features": [...], "coef": [...], "fit": {...}}} for `release` on `target`."""
    models = _load(path)["models"]
    try:
        return models[release][target]
    except KeyError:
        have = sorted(f"{r}/{t}" for r, ts in models.items() for t in ts)
        raise CostModelError(f"the cost model has no coefficients for CMSIS {release} on {target} "
                             f"(it has {', '.join(have) or 'none'}). help: run "
                             f"bench/fit_cost_model.py --cmsis <checkout of {release}>") from None


def call_cost(fn, args, release, target, path=DATA_FILE) -> float:
    """Predicted instructions of one call of `fn` (a C function or pseudo-function) with `args`."""
    table = coefficients(release, target, path)
    model = table.get(fn)
    if model is None:
        raise CostModelError(f"the cost model has no fit for {fn!r} (CMSIS {release}, {target}). "
                             "help: add it to bench/fit_cost_model.py and re-run the fit")
    f = features(fn, args)
    return float(sum(c * f[name] for name, c in zip(model["features"], model["coef"])))


def _check_target(qgraph, target):
    if target not in TARGET_PATH:
        raise CostModelError(f"target {target!r} is not one of {', '.join(TARGET_PATH)}")
    q = getattr(qgraph, "quant", None)
    if q is None or any(n.kernel is None and not _data_move(n) for n in qgraph.nodes):
        raise CostModelError("the cost model prices a quantized graph; help: run qsim.quantize first")
    if q.path != TARGET_PATH[target]:
        other = next(t for t, p in TARGET_PATH.items() if p == q.path)
        raise CostModelError(f"the graph was quantized for the {q.path.upper()} path, which runs on "
                             f"{other}, not {target} ({TARGET_PATH[target].upper()} path); help: "
                             f"estimate with target={other!r} or quantize with "
                             f"--path {TARGET_PATH[target]}")
    return q.version


def _data_move(node):
    from .ops import OPS
    return OPS[node.op].data_move


def estimate(qgraph, target="cortex-m4") -> CostEstimate:
    """Predicted instructions per inference of the generated C of `qgraph` on `target`.

    Raises CostModelError (a QsimError) for an unknown target, a graph quantized for the other
    path, a release or a kernel without coefficients.
    """
    from codegen.buffer_plan import plan_buffers
    from codegen.generate import lower_graph

    release = _check_target(qgraph, target)
    table = coefficients(release, target)

    def cost(fn, args):
        model = table.get(fn)
        if model is None:
            raise CostModelError(f"the cost model has no fit for {fn!r} (CMSIS {release}, "
                                 f"{target}). help: add it to bench/fit_cost_model.py and re-run "
                                 "the fit")
        f = features(fn, args)
        return max(0.0, float(sum(c * f[k] for k, c in zip(model["features"], model["coef"]))))

    calls = lower_graph(qgraph)
    plan = plan_buffers(qgraph, calls)
    base = cost("layer", {})        # the tap overhead every measured segment includes
    extra = lambda fn, args: cost(fn, args) - base
    per_layer = {}
    for step in plan.steps:
        c = base
        if step.index == 0 and plan.input_pad:
            pixels, ch, stored = plan.input_pad
            c += extra("widen_input", dict(pixels=pixels, ch=ch, stored=stored,
                                           bytes=2 if plan.input_ctype == "q15_t" else 1))
        elif step.index == 0 and plan.input_copy:
            c += extra("memcpy", dict(nbytes=plan.input_bytes))
        if step.copy_from is not None:
            c += extra("memcpy", dict(nbytes=step.in_slot.nbytes))
        call = step.call
        if call is not None and call.parts:
            c += sum(extra(call.c_name, {**call.args, **part}) for _, part in call.parts)
        elif call is not None:
            c += extra(call.c_name, call.args)
        elif step.node.op == "transpose_hw":
            from .lower import stored_shape
            h, w, ch = stored_shape(qgraph, step.node.inputs[0])
            c += extra("transpose_hw", dict(h=h, w=w, c=ch, bytes=2 if step.in_ctype == "q15_t" else 1))
        per_layer[step.node.name] = int(round(c))
    return CostEstimate(int(sum(per_layer.values())), per_layer, target, release)


def fitted_functions(release, target) -> set:
    """The C functions and pseudo-functions with coefficients for `release` on `target`."""
    return set(coefficients(release, target))
