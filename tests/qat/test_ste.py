"""Straight-through estimators and the STE backward of the fixed-point layers."""
import numpy as np
import pytest

from qsim.fixedpoint import QFormat, round_constant
from qsim.graph import QuantSettings
from qsim.qat.layers import QConv, QFC
from qsim.qat.ste import (accumulator_init, fake_quant_ste, quantize_ste, requantize_ste,
                          round_ste, ssat_ste)
from qsim.train.layers import FC, Conv


def test_round_ste_rounds_halves_up_and_passes_gradient():
    y, mask = round_ste(np.array([-2.5, -1.5, -0.4, 0.5, 1.49, 2.5]))
    np.testing.assert_array_equal(y, [-2, -1, 0, 1, 1, 3])
    assert mask is None


def test_ssat_ste_mask_is_inside_range_bounds_included():
    v = np.array([-200, -129, -128, 0, 127, 128, 300])
    y, mask = ssat_ste(v, 8)
    np.testing.assert_array_equal(y, [-128, -128, -128, 0, 127, 127, 127])
    np.testing.assert_array_equal(mask, [0, 0, 1, 1, 1, 0, 0])


def test_quantize_ste_matches_qformat_and_masks_clipped_values():
    q = QFormat(8, 4)      # step 1/16, range [-8, 127/16]
    x = np.array([-9.0, -8.0, -0.03, 0.03125, 7.9375, 7.95, 100.0])
    ints, mask = quantize_ste(x, q)
    np.testing.assert_array_equal(ints, q.quantize(x))
    assert ints.dtype == np.int8
    np.testing.assert_array_equal(mask, [0, 1, 1, 1, 1, 1, 0])   # 7.95 rounds to 127: kept
    deq, mask2 = fake_quant_ste(x, q)
    np.testing.assert_array_equal(deq, q.dequantize(q.quantize(x)).astype(np.float32))
    np.testing.assert_array_equal(mask, mask2)


@pytest.mark.parametrize("truncate, version", [(False, "5.7.0"), (True, "5.7.0"), (False, "5.9.0")])
def test_requantize_ste_is_the_shift_api(rng, truncate, version):
    in_q, w_q, out_q = QFormat(8, 5), QFormat(8, 7), QFormat(8, 3)
    bias = rng.integers(-128, 128, 6)
    bias_shift, out_shift = 4, 9
    acc_int = rng.integers(-(1 << 17), 1 << 17, (50, 6))
    acc = (acc_int * 2.0 ** -12).astype(np.float32)
    init = accumulator_init(bias, bias_shift, out_shift, truncate, version)
    y, mask = requantize_ste(acc, init, 12, out_shift, out_q)
    rnd = round_constant(out_shift, truncate, version)
    v = ((bias.astype(np.int64) << bias_shift) + rnd + acc_int) >> out_shift
    np.testing.assert_array_equal(y * 8, np.clip(v, -128, 127))
    np.testing.assert_array_equal(mask, (v >= -128) & (v <= 127))
    assert 0 < mask.mean() < 1          # both saturated and passing elements were exercised
    assert in_q.frac_bits + w_q.frac_bits == 12


class _Bound:
    """Minimal graph stand-in for bind(): formats of a layer's input and output."""

    def __init__(self, in_q, out_q):
        self.in_q, self.out_q = in_q, out_q
        self.quant = QuantSettings("q7", "ref", "5.7.0")

    def input_q(self, node):
        return self.in_q

    def output_q(self, node):
        return self.out_q


def _node(w_q, b_q, bias_shift, out_shift):
    return type("N", (), dict(weight_q=w_q, bias_q=b_q, bias_shift=bias_shift,
                              out_shift=out_shift, name="n"))


@pytest.mark.parametrize("make, float_cls, x_shape, w_shape", [
    (lambda: QFC("fc"), FC, (7, 12), (5, 12)),
    (lambda: QConv("conv", strides=(1, 2), pads=(1, 0)), Conv, (3, 6, 5, 2), (4, 3, 2, 2))])
def test_weighted_backward_is_float_backward_at_grid_points_with_masks(rng, make, float_cls,
                                                                       x_shape, w_shape):
    in_q, w_q, out_q = QFormat(8, 4), QFormat(8, 6), QFormat(8, 5)
    layer = make().bind(_Bound(in_q, out_q), _node(w_q, QFormat(8, 5), 5, 5))   # fi + fw - f
    x = (in_q.quantize(rng.normal(0, 2, x_shape)) * in_q.step).astype(np.float32)
    w = rng.normal(0, 0.6, w_shape).astype(np.float32)
    w.reshape(-1)[:3] = [2.5, -2.1, 2.2]          # beyond w_q's range [-2, 127/64]: clipped
    b = rng.normal(0, 2, w_shape[0]).astype(np.float32)
    y = layer.forward(x, {"weight": w, "bias": b})
    assert 0 < layer.y_mask.mean() < 1
    g = rng.normal(0, 1, y.shape).astype(np.float32)
    grad_in, grads = layer.backward(g)
    ref = float_cls("ref", **({} if float_cls is FC else dict(strides=(1, 2), pads=(1, 0))))
    w_deq = w_q.quantize(w) * w_q.step
    ref.forward(x.astype(np.float64), {"weight": w_deq, "bias": b})
    # the output gradient passes only where the output did not saturate (at -4 or 3.96875)
    assert np.isin(y[~layer.y_mask], [out_q.min, out_q.max]).all()
    ref_in, ref_grads = ref.backward(np.where(layer.y_mask, g, 0).astype(np.float64))
    np.testing.assert_allclose(grad_in, ref_in, rtol=1e-5, atol=1e-5)
    r = np.floor(w.astype(np.float64) * 64 + 0.5)
    w_mask = (r >= -128) & (r <= 127)
    assert not w_mask.reshape(-1)[:3].any()
    np.testing.assert_allclose(grads["weight"], np.where(w_mask, ref_grads["weight"], 0),
                               rtol=1e-5, atol=1e-5)
    b_mask = np.abs(np.floor(b.astype(np.float64) * 32 + 0.5) + 0.5) < 128    # bias_q Q2.5
    np.testing.assert_allclose(grads["bias"], np.where(b_mask, ref_grads["bias"], 0), rtol=1e-5,
                               atol=1e-5)

