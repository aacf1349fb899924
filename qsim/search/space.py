"""The candidate space of `qsim search` and the moves between candidates, in a fixed order.

A Candidate is everything `qsim.quantize` (and optionally `qsim.qat.finetune`) needs beyond the
float graph and its calibration:
    scheme       "q7", "q15" or "q7q15" (qsim.schemes): the global widths
    layer_bits   ((node, 8|16), ...) for the weighted layers (qsim.quantize's `layer_bits`:
                 per-layer precision, requantize layers between widths); empty = the scheme's
                 widths everywhere
    offsets      ((group head tensor, +-k), ...): activation formats moved k fraction bits away
                 from the calibrated choice (qsim.quantize's frac_bits_override), one value per
                 format group (tensors joined by relu / pooling / reshape share one format)
    fc_opt       the `_opt` fully connected kernels (interleaved weights) or the plain ones
    pad_channels q7 convs zero-padded to reach the `_fast` kernels (qsim.quantize's default) or
                 kept on `_basic` (fewer activation and weight bytes, more instructions); every
                 other layer takes its first legal function (qsim.passes.choose_kernels)
    qat_epochs   0, or a short QAT fine-tuning (qsim.qat.finetune) of the quantized candidate
Candidate.key() is a canonical JSON text: the identity used by the store (resume) and for ties.

Moves (Space.neighbours), always in this order: toggle fc_opt; toggle pad_channels (nets with a
conv); add QAT (when --qat-epochs > 0);
flip each weighted layer's width (8 <-> 16, graph order; only with layer_bits and from a q7 or
q15 base); each format group's offset +1 then -1 (graph order, |offset| <= Space.max_offset).
"""
import json
from dataclasses import dataclass, replace

from ..ops import OPS

SCHEMES = ("q7", "q15", "q7q15")
MAX_OFFSET = 2


@dataclass(frozen=True)
class Candidate:
    scheme: str = "q7"
    layer_bits: tuple = ()
    offsets: tuple = ()
    fc_opt: bool = True
    qat_epochs: int = 0
    pad_channels: bool = True

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def to_dict(self):
        return {"scheme": self.scheme, "layer_bits": [list(p) for p in self.layer_bits],
                "offsets": [list(p) for p in self.offsets], "fc_opt": self.fc_opt,
                "qat_epochs": self.qat_epochs,
                **({} if self.pad_channels else {"pad_channels": False})}   # old keys unchanged

    @classmethod
    def from_dict(cls, d):
        return cls(str(d["scheme"]), tuple((str(n), int(b)) for n, b in d["layer_bits"]),
                   tuple((str(t), int(o)) for t, o in d["offsets"]), bool(d["fc_opt"]),
                   int(d["qat_epochs"]), bool(d.get("pad_channels", True)))

    def label(self) -> str:
        """Short human text: scheme, widths that differ, offsets, kernel variant, QAT."""
        parts = [self.scheme if not self.layer_bits else f"{self.scheme}+layers"]
        default = 8 if self.scheme == "q7" else 16
        parts += [f"{n}:{b}b" for n, b in self.layer_bits if b != default]
        parts += [f"{t}{o:+d}" for t, o in self.offsets]
        if not self.fc_opt:
            parts.append("fc-plain")
        if not self.pad_channels:
            parts.append("no-pad")
        if self.qat_epochs:
            parts.append(f"qat{self.qat_epochs}")
        return " ".join(parts)

    def quantize_kwargs(self):
        """scheme / fc_opt / pad_channels / layer_bits arguments of qsim.quantize (offsets need
        the baseline)."""
        kw = {"scheme": self.scheme, "fc_opt": self.fc_opt, "pad_channels": self.pad_channels}
        if self.layer_bits:
            kw["layer_bits"] = dict(self.layer_bits)
        return kw


def format_groups(graph):
    """Head tensors of the float graph's format groups whose format may be moved (not a fixed
    softmax / sigmoid / tanh output), in graph order."""
    from ..quantize import _format_groups
    head = _format_groups(graph)
    out = []
    for t, h in head.items():
        if h == t and h not in out:
            prod = graph.producer(h)
            if prod is None or not OPS[prod.op].fixed_output:
                out.append(h)
    return out


class Space:
    """What may change for one float graph: the groups, the weighted layers, the options."""

    def __init__(self, graph, layer_bits=None, qat_epochs=0, max_offset=MAX_OFFSET):
        self.groups = format_groups(graph)
        self.weighted = [n.name for n in graph.nodes if OPS[n.op].weighted]
        self.has_fc = any(n.op == "fc" for n in graph.nodes)
        self.has_conv = any(n.op == "conv" for n in graph.nodes)
        self.layer_bits = True if layer_bits is None else bool(layer_bits)
        self.qat_epochs = int(qat_epochs)
        self.max_offset = int(max_offset)
        self._order = {t: i for i, t in enumerate(self.groups)}
        self._layer_order = {n: i for i, n in enumerate(self.weighted)}

    def baselines(self):
        """The global schemes with the calibrated formats and default kernels."""
        return [Candidate(s) for s in SCHEMES]

    def widths(self, c):
        """{weighted node: bits} of a candidate."""
        default = 8 if c.scheme == "q7" else 16
        bits = {n: default for n in self.weighted}
        bits.update(dict(c.layer_bits))
        return bits

    def _with_bits(self, c, bits):
        default = 8 if c.scheme == "q7" else 16
        if all(b == default for b in bits.values()):
            lb = ()
        else:
            lb = tuple((n, bits[n]) for n in self.weighted)
        return replace(c, layer_bits=lb)

    def _with_offset(self, c, group, delta):
        off = dict(c.offsets)
        v = off.get(group, 0) + delta
        if abs(v) > self.max_offset:
            return None
        if v:
            off[group] = v
        else:
            off.pop(group, None)
        items = tuple(sorted(off.items(), key=lambda kv: self._order[kv[0]]))
        return replace(c, offsets=items)

    def neighbours(self, c):
        """Candidates one move away from c, in the fixed order of the module docstring."""
        out = []
        if self.has_fc:
            out.append(replace(c, fc_opt=not c.fc_opt))
        if self.has_conv:
            out.append(replace(c, pad_channels=not c.pad_channels))
        if self.qat_epochs and not c.qat_epochs:
            out.append(replace(c, qat_epochs=self.qat_epochs))
        if self.layer_bits and c.scheme in ("q7", "q15"):
            bits = self.widths(c)
            for n in self.weighted:
                flipped = dict(bits, **{n: 24 - bits[n]})      # 8 <-> 16
                out.append(self._with_bits(c, flipped))
        for g in self.groups:
            for delta in (1, -1):
                m = self._with_offset(c, g, delta)
                if m is not None:
                    out.append(m)
        seen, unique = {c.key()}, []
        for m in out:
            if m.key() not in seen:
                seen.add(m.key())
                unique.append(m)
        return unique
