"""Static buffer plan: no live overlap, in-place relu, copies before clobbering calls, exact scratch."""
import warnings

import numpy as np
import pytest

from codegen.buffer_plan import ALIGN, ctype_bytes, plan_buffers
from codegen.generate import lower_graph, render
from qsim.calibrate import calibrate
from qsim.cmsis_signatures import SIGNATURES
from qsim.graph import Graph, Node
from qsim.importers.spec import KWS_SPEC, Sequential
from qsim.lower import KernelCall
from qsim.quantize import quantize
from tests.codegen._models import tiny_q7, tiny_q15


def _kws(scheme):
    g = Sequential.from_dict(KWS_SPEC).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (16, 49, 10, 1)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(g, calibrate(g, x), scheme=scheme)


def _check_no_overlap(plan):
    arena = [s for s in plan.slots if s.kind == "arena"]
    for a in arena:
        assert a.offset % ALIGN == 0 and a.offset + a.nbytes <= plan.arena_bytes
        for b in arena:
            if a.id < b.id and a.first <= b.last and b.first <= a.last:
                assert a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset, (a, b)


@pytest.mark.parametrize("scheme", ["q7", "q15"])
def test_kws_chain_meets_the_lower_bound(scheme):
    g = _kws(scheme)
    plan = plan_buffers(g, lower_graph(g))
    _check_no_overlap(plan)
    assert plan.arena_bytes == plan.live_lower_bound <= plan.ping_pong_bytes
    relu_steps = [s for s in plan.steps if s.node.op == "relu"]
    assert relu_steps and all(s.in_slot is s.out_slot and s.copy_from is None for s in relu_steps)
    assert plan.steps[-1].out_slot.kind == "output"


@pytest.mark.parametrize("make", [tiny_q7, tiny_q15])
def test_scratch_is_the_max_over_calls(make):
    g = make()
    calls = lower_graph(g)
    plan = plan_buffers(g, calls)
    _check_no_overlap(plan)
    want = max(a.size(c.args) * ctype_bytes(a.ctype) for c in calls if c is not None
               for a in SIGNATURES[c.c_name].args if a.name in ("bufferA", "vec_buffer"))
    assert plan.scratch == {"bufferA": want, "bufferB": 0}


def test_padded_input_is_widened_in_c():
    gen = render(tiny_q15())
    assert gen.plan.input_pad == (24, 1, 2)
    assert gen.plan.input_bytes == 4 * 6 * 1 * 2
    assert "dst[p * 2 + c] = 0;" in gen.files["tiny_q15.c"]


def _graph_with_calls(layers, shape=(4, 4, 4)):
    """A q7 graph wired by hand; layers = [(name, op, input tensor, attrs, c_name, args)]."""
    g = Graph("hand")
    g.add_input("input", shape)
    calls = []
    for name, op, src, attrs, c_name, args in layers:
        g.add_node(Node(name, op, [src], [name], dict(attrs)))
        calls.append(None if c_name is None else
                     KernelCall(c_name, args, src, name, not any(a.role == "out" for a in SIGNATURES[c_name].args)))
    g.outputs = [layers[-1][0]]
    return g, calls


POOL = dict(dim_im_in=4, ch_im_in=4, dim_kernel=2, padding=0, stride=2, dim_im_out=2)


def test_first_call_overwriting_the_input_gets_a_copy():
    g, calls = _graph_with_calls([
        ("relu1", "relu", "input", {}, "arm_relu_q7", {"size": 64}),
        ("pool1", "maxpool", "relu1", {"kernel_shape": (2, 2)}, "arm_maxpool_q7_HWC", POOL)])
    plan = plan_buffers(g, calls)
    first = plan.steps[0]
    assert first.copy_from.kind == "input" and first.in_slot.kind == "arena"
    assert first.out_slot is first.in_slot
    assert plan.steps[1].copy_from is None       # relu1's buffer is dead after the pool: clobber it
    _check_no_overlap(plan)


def test_pool_input_still_needed_is_copied():
    g, calls = _graph_with_calls([
        ("relu1", "relu", "input", {}, "arm_relu_q7", {"size": 64}),
        ("pool1", "maxpool", "relu1", {"kernel_shape": (2, 2)}, "arm_maxpool_q7_HWC", POOL),
        ("pool2", "avgpool", "relu1", {"kernel_shape": (2, 2)}, "arm_avepool_q7_HWC", POOL)])
    plan = plan_buffers(g, calls)
    pool1, pool2 = plan.steps[1], plan.steps[2]
    assert pool1.copy_from is plan.steps[0].out_slot     # relu1 is read again by pool2
    assert pool2.copy_from is None
    _check_no_overlap(plan)
    # the copy, the original and pool1's output are live together
    assert len({pool1.in_slot.offset, pool1.copy_from.offset, pool1.out_slot.offset}) == 3


def test_flatten_shares_the_buffer():
    g = tiny_q7()
    plan = plan_buffers(g, lower_graph(g))
    flat = next(s for s in plan.steps if s.node.op == "flatten")
    assert flat.call is None and flat.in_slot is flat.out_slot
