"""`qsim import-c`'s library side: C headers + a small spec -> a quantized Graph (qsim.intnet).

The spec (JSON, or TOML) says what the headers cannot: the layer order, each layer's kernel or op,
which array and which shift macro it uses, and the geometry.

    {"name": "kws_dnn", "path": "ref", "release": "5.9.0",
     "input": {"shape": [250], "bits": 8, "frac_bits": 1},
     "layers": [
       {"name": "fc1", "kernel": "arm_fully_connected_q7", "weight": "IP1_WT", "bias": "IP1_BIAS",
        "bias_shift": "IP1_BIAS_LSHIFT", "out_shift": "IP1_OUT_RSHIFT", "weight_frac": 7},
       {"name": "relu1", "op": "relu"}, ...]}

weight / bias name an array of the headers; bias_shift / out_shift name an integer #define or are
plain integers; the other layer fields are qsim.intnet's (kernel_shape, strides, pads, out, ch_out,
weight_layout "c" | "tf" | "torch", weight_frac, int_width, shape). Array lengths are checked
against the layer (the error names the array and the expected size); values must fit the
kernel's q7_t / q15_t.

For a KWS network the spec may also give "labels" (one name per output) and "frontend" ({"name":
"float" | "q15", frame_len_ms, frame_shift_ms, num_frames, num_mfcc, dec_bits, ...}); they are
kept in graph.meta["kws"] of the model folder for `qsim kws`.
"""
import json
from pathlib import Path

from ..errors import CHeaderError, QsimError
from ..releases import DEFAULT_PATH, DEFAULT_RELEASE, UnknownRelease, check_path, release
from .cheader import NAME_RE, read_headers

SPEC_KEYS = {"name", "input", "layers", "path", "release", "truncate", "labels", "frontend"}
# front end settings a KWS model folder may record (read by qsim.kws; `name`: "float" is a float
# MFCC as ML-KWS-for-MCU computes it (Hann window, log mel, DCT, rounded to dec_bits), "q15" is
# arm_mfcc_q15)
FRONTEND_KEYS = {"name", "sample_rate", "frame_len_ms", "frame_shift_ms", "num_frames", "num_mfcc",
                 "num_mel_bins", "mel_low_hz", "mel_high_hz", "dec_bits", "window"}
FRONTENDS = ("float", "q15")
LAYER_KEYS = {"name", "kernel", "op", "weight", "bias", "bias_shift", "out_shift", "kernel_shape",
              "strides", "pads", "out", "ch_out", "weight_layout", "weight_frac", "int_width",
              "type", "shape", "out_lshift", "count_include_pad", "rounding", "min_val", "max_val"}
ARRAY_KEYS = ("weight", "bias")
SHIFT_KEYS = ("bias_shift", "out_shift", "out_lshift", "count_include_pad", "rounding", "min_val",
              "max_val")


def load_spec(path) -> dict:
    """The import spec as a dict, from .json or .toml; CHeaderError for a bad file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise CHeaderError(f"spec {p}: cannot read ({e.strerror or e})") from None
    try:
        if p.suffix.lower() == ".toml":
            import tomllib
            spec = tomllib.loads(raw.decode("utf-8"))
        else:
            spec = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        kind = "TOML" if p.suffix.lower() == ".toml" else "JSON"
        raise CHeaderError(f"spec {p}: not valid {kind} ({e})") from None
    check_spec(spec, str(p))
    return spec


def check_spec(spec, where="spec"):
    if not isinstance(spec, dict):
        raise CHeaderError(f"{where}: the spec must be an object with 'input' and 'layers'")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise CHeaderError(f"{where}: unknown keys {sorted(unknown)}; a spec takes {sorted(SPEC_KEYS)}")
    for key in ("input", "layers"):
        if key not in spec:
            raise CHeaderError(f"{where}: missing '{key}'")
    if not isinstance(spec.get("name", "imported"), str) or not isinstance(spec["input"], dict):
        raise CHeaderError(f"{where}: 'name' must be a string and 'input' an object "
                           "{shape, bits, frac_bits}")
    if not isinstance(spec["layers"], list) or not all(isinstance(l, dict) for l in spec["layers"]):
        raise CHeaderError(f"{where}: 'layers' must be a list of objects")
    try:
        check_path(spec.get("path", DEFAULT_PATH))
        release(spec.get("release", DEFAULT_RELEASE))
    except UnknownRelease as e:
        raise CHeaderError(f"{where}: {e}") from None
    _check_kws(spec, where)
    for i, layer in enumerate(spec["layers"]):
        bad = set(layer) - LAYER_KEYS
        if bad:
            raise CHeaderError(f"{where}: layer {i} ({layer.get('name', '?')}): unknown keys "
                               f"{sorted(bad)}; a layer takes {sorted(LAYER_KEYS)}")
        for key in ARRAY_KEYS:
            if key in layer and not (isinstance(layer[key], str) and NAME_RE.match(layer[key])):
                raise CHeaderError(f"{where}: layer '{layer.get('name', i)}': {key} must name an "
                                   f"array of the headers (a C identifier), got {layer[key]!r}")
        for key in SHIFT_KEYS:
            v = layer.get(key)
            if v is not None and not isinstance(v, int) and not (isinstance(v, str) and NAME_RE.match(v)):
                raise CHeaderError(f"{where}: layer '{layer.get('name', i)}': {key} must be an int or "
                                   f"the name of an integer #define, got {v!r}")


def _check_kws(spec, where):
    labels = spec.get("labels")
    if labels is not None and (not isinstance(labels, list) or not labels
                               or not all(isinstance(x, str) and x for x in labels)):
        raise CHeaderError(f"{where}: 'labels' must be a list of class names (strings)")
    fe = spec.get("frontend")
    if fe is None:
        return
    if not isinstance(fe, dict) or fe.get("name") not in FRONTENDS:
        raise CHeaderError(f"{where}: 'frontend' must be an object with name one of {FRONTENDS}")
    bad = set(fe) - FRONTEND_KEYS
    if bad:
        raise CHeaderError(f"{where}: frontend: unknown keys {sorted(bad)}; it takes "
                           f"{sorted(FRONTEND_KEYS)}")
    for k, v in fe.items():
        if k not in ("name", "window") and (isinstance(v, bool) or not isinstance(v, (int, float))
                                            or v < 0):
            raise CHeaderError(f"{where}: frontend {k}={v!r} must be a non-negative number")
    if fe.get("window", "hann") != "hann":
        raise CHeaderError(f"{where}: frontend window {fe['window']!r}: only 'hann' is known")


def resolve_layers(spec, contents):
    """The spec's layers with array and shift names replaced by the headers' integers."""
    out = []
    for layer in spec["layers"]:
        layer = dict(layer)
        lname = layer.get("name", "?")
        for key in ARRAY_KEYS:
            if key in layer:
                v = contents.get(layer[key], f"layer '{lname}' {key}")
                if not v.is_array:
                    raise CHeaderError(f"layer '{lname}': {key} {layer[key]} ({v.where}) is a single "
                                       "value, not an array")
                layer[key] = _Named(v)
        for key in SHIFT_KEYS:
            if isinstance(layer.get(key), str):
                v = contents.get(layer[key], f"layer '{lname}' {key}")
                if v.is_array:
                    raise CHeaderError(f"layer '{lname}': {key} {layer[key]} ({v.where}) is an array, "
                                       "not a shift")
                layer[key] = int(v.values)
        out.append(layer)
    return out


class _Named:
    """An array from a header, remembered by name so size errors can name it."""

    def __init__(self, cvalue):
        self.cvalue = cvalue

    def __array__(self, dtype=None, copy=None):
        return self.cvalue.values if dtype is None else self.cvalue.values.astype(dtype)


def import_c(headers, spec, path=None, release=None):
    """A quantized Graph from header files and a spec dict (or spec file path); path / release
    override the spec's. Errors name the layer and, for arrays, the array and its source line."""
    from ..intnet import build

    if not isinstance(spec, dict):
        spec = load_spec(spec)
    else:
        check_spec(spec)
    contents = read_headers(headers)
    layers = resolve_layers(spec, contents)
    try:
        g = build(spec.get("name", "imported"), spec["input"], layers,
                  path=path or spec.get("path", DEFAULT_PATH),
                  release=release or spec.get("release", DEFAULT_RELEASE),
                  truncate=bool(spec.get("truncate", False)))
    except QsimError as e:
        raise type(e)(_name_arrays(str(e), spec, layers)) from None
    g.meta["intnet"].update(source="qsim import-c",
                            headers=[Path(h).name for h in headers],
                            arrays={l["name"]: {k: spec_l[k] for k in ARRAY_KEYS + SHIFT_KEYS if k in spec_l}
                                    for l, spec_l in zip(layers, spec["layers"])})
    if "labels" in spec:
        n_out = g.tensors[g.outputs[0]].size
        if len(spec["labels"]) != n_out:
            raise CHeaderError(f"spec: {len(spec['labels'])} labels for {n_out} network outputs")
    kws = {k: spec[k] for k in ("labels", "frontend") if k in spec}
    if kws:
        g.meta["kws"] = kws      # the model folder's KWS settings (labels, front end), for qsim kws
    return g


def _name_arrays(msg, spec, layers):
    """Append the array name and its place to a size error about a layer's weight / bias."""
    for spec_l, layer in zip(spec["layers"], layers):
        if f"layer '{spec_l.get('name')}'" not in msg:
            continue
        for key in ARRAY_KEYS:
            if f"'{key}' has" in msg and isinstance(layer.get(key), _Named):
                v = layer[key].cvalue
                return msg + f" [array {v.name} at {v.where}]"
    return msg
