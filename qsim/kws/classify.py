"""Classify int16 clips with a KWS model folder: the float net, the simulated q7 / q15 nets and the
q7 (or q15) net's generated C built for the host, side by side (what `qsim kws` prints).

The C column needs a library: a CMSIS_5 checkout (--cmsis or $CMSIS_PATH) or qsim's stand-in
(NOT CMSIS); `c_library` says which, or why there is none.
"""
import os

import numpy as np

from cmsis_nn.locate import find_cmsis
from codegen.generate import render
from harness.host import HostNetwork, cmsis_library, standin_library

from . import features


def c_library(cmsis, standin, qgraph):
    """(Library, label) for the host build, or (None, reason) when no C can be built."""
    q = qgraph.quant
    if standin:
        return standin_library(q.version, q.truncate), f"stand-in ({q.version} REF; NOT CMSIS)"
    if cmsis is None and not os.environ.get("CMSIS_PATH"):
        return None, "no CMSIS_5 checkout (--cmsis / CMSIS_PATH) and no --standin"
    checkout = find_cmsis(cmsis)
    return cmsis_library(checkout, q.path, q.truncate), f"CMSIS_5 {checkout.version} ({q.path} path)"


def run_c(qgraph, x_ints, library):
    """Output ints (N, classes) of the generated C built against `library`."""
    net = HostNetwork(render(qgraph), library)
    outputs, _, statuses = net.run(x_ints)
    return outputs[:, :qgraph.tensors[qgraph.outputs[0]].size], statuses


def classify(model, audio, library=None, scheme="q7"):
    """Rows (float label, p, {scheme: label}, C label or None, {scheme: (p, int out)}) for int16
    clips (N, clip_len); float label and p are None for a model without a float graph (imported). A quantized net's p is the softmax of its dequantized logits and `int out`
    its integer softmax output for that label (qsim.kws.stream.engine_scores)."""
    from .stream import engine_scores
    M = model.features(audio)
    scores = engine_scores(model, M)
    probs = scores["float"][0] if "float" in scores else None     # None: integer-only model
    clab = None
    if library is not None:
        q = model.qgraphs[scheme]
        out, statuses = run_c(q, features.net_input(q, M), library)
        clab = np.where(statuses == 0, out.argmax(1), -1)
    rows = []
    for i in range(len(audio)):
        k = None if probs is None else int(probs[i].argmax())
        qlab, qconf = {}, {}
        for s in model.qgraphs:
            p, ints = scores[s]
            j = int(ints[i].argmax())              # the label the device reports (first on ties)
            qlab[s] = model.labels[j]
            qconf[s] = (float(p[i, j]), int(ints[i, j]))
        rows.append((None if k is None else model.labels[k], None if k is None else float(probs[i, k]), qlab,
                     None if clab is None else ("(error)" if clab[i] < 0 else model.labels[int(clab[i])]),
                     qconf))
    return rows
