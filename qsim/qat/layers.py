"""Fixed-point training layers: the forward is what the CMSIS-NN build computes, bit for bit; the
backward is the float layer's gradient (qsim.train.layers) at the dequantized points, with
straight-through estimators for rounding and saturation (qsim.qat.ste).

Each class subclasses the float layer of its op (the QAT hook of qsim.train.layers) and is bound
once to its node of a quantized graph by ``bind(graph, node)``, which reads the formats, shifts,
kernel and CMSIS build the quantizer wrote (nothing is recomputed). Activations travel between
layers as float32 arrays holding the dequantized grid values ints * 2**-frac_bits, exactly.

conv / depthwise_conv / fc (fake-quant forward, proven equal to the kernels by tests/qat):
    forward   w = dequant(ssat(round(W * 2**fw))), b_int likewise; acc = float layer(x, w) without
              bias; out = ssat(asr(wrap32(init(b_int) + acc * 2**(fi+fw)), out_shift)) * 2**-fo.
              acc is exact: every partial sum is an integer multiple of 2**-(fi+fw) whose integer
              is at most 2**(bits_in-1) * max_o sum_k |w_int[o, k]|; below 2**24 float32 holds it
              exactly in any summation order (BLAS, FMA), otherwise the layer runs in float64
              (below 2**53: always true for q7 and q15). The legacy kernels compute exactly this
              sum on every path once choose_kernels has avoided the REF signed-char index quirk
              and the DSP q15_fast odd-width bug (semantics doc §1.13), which it does.
    backward  grad_out * (output not saturated) -> float backward at (x, w) -> weight and bias
              gradients * (shadow value inside its format's range).
    QConv computes the same output and mask on the integers instead (qsim.qat._intconv: the
    kernels' exact int16 tile engine, faster than the float product on KWS conv2) and reads
    the dequantized input again only in its backward (qsim.train.conv2d.conv_grads).
maxpool / avgpool / sigmoid / tanh / softmax / clip / add / concat (few operations, path-dependent
C, or one of qsim's companion kernels):
    forward   the numba kernel itself on the integers (qsim.kernels, via lower.kernel_call; a
              companion kernel as qsim.simulate calls it: add reads both inputs, concat is one call
              per input into its slice of the output);
    backward  the float layer's gradient at the dequantized input (max: to the first maximum; avg:
              the plain average, the C's truncating division passed straight through; sigmoid/tanh:
              the float derivative, the table lookup passed straight through; softmax: the
              natural-exp softmax, although the C is base 2; clip: inside the float bounds; add:
              to both inputs, the requantization passed straight through; concat: split back).
relu, flatten, reshape: the float layers, exact on grid values (max(x, 0) of a grid value is one).
A ReLU that only reads a QConv's output runs in that conv's integer epilogue (FusedReLU; QatNet
fuses them, trace() runs them apart), with the same bits.
transpose_hw: a copy, and its gradient the inverse copy.
requantize (mixed precision): forward the numba kernel as above (arm_q7_to_q15_no_shift or
qsim_requantize_*); backward straight through (the identity in float; the rounding and
saturation to the other width are passed straight through, like add's requantization).
"""
import numpy as np

from ..kernels import COMPANION_KERNELS, KERNELS
from ..lower import channel_pad, kernel_call, stored_shape
from ..train.conv2d import conv_grads
from ..train.convtaps import pad_hw
from ..train.float_ops import asymmetric
from ..train.layers import (LAYERS, Add, AvgPool, Clip, Concat, Conv, DepthwiseConv, FC, Layer,
                            MaxPool, Sigmoid, Softmax, Tanh)
from ._intconv import conv_forward
from .ste import accumulator_init, quantize_ste, requantize_ste

F32_EXACT = 2 ** 24     # integers up to this magnitude are exact in float32


def to_ints(x, qformat):
    """Dequantized grid values -> the integers of `qformat` (exact: a power-of-two scaling)."""
    return np.rint(np.asarray(x, np.float64) * 2.0 ** qformat.frac_bits).astype(qformat.dtype)


class Bound:
    """Mixin of the fixed-point layers: `bind` reads the node's quantization once."""

    def bind(self, graph, node):
        self.node = node
        self.in_q, self.out_q = graph.input_q(node), graph.output_q(node)
        self.opts = dict(path=graph.quant.path, release=graph.quant.release,
                         truncate=graph.quant.truncate)
        return self


class Weighted(Bound):
    """conv / depthwise_conv / fc with the §0.4 requantization (see the module docstring)."""

    tap_axes = None   # axes of the integer weight summed per output channel (for the exact bound)

    def bind(self, graph, node):
        super().bind(graph, node)
        self.acc_frac = self.in_q.frac_bits + node.weight_q.frac_bits
        return self

    def exact_dtype(self, w_int):
        """float32 if every partial sum is exact in it, else float64 (see the module docstring)."""
        taps = np.abs(w_int.astype(np.int64)).sum(axis=self.tap_axes)
        bound = (1 << (self.in_q.bits - 1)) * int(taps.max(initial=0))
        return np.float32 if bound < F32_EXACT and abs(self.acc_frac) < 100 else np.float64

    prepared = False

    def prepare(self, params):
        """The step's integer weights, masks, dtype and accumulator init from the shadow weights.
        forward calls it, unless qsim.train.net did once for all the parts of a batch (their
        layer copies then share the result)."""
        node = self.node
        self.w_int, self.w_mask = quantize_ste(params["weight"], node.weight_q)
        b_int, self.b_mask = quantize_ste(params["bias"], node.bias_q)
        self.dt = self.exact_dtype(self.w_int)
        self.wq = (self.w_int * 2.0 ** -node.weight_q.frac_bits).astype(self.dt)
        self.init = accumulator_init(b_int, node.bias_shift, node.out_shift,
                                     self.opts["truncate"], self.opts["release"])
        self.prepared = True

    def take_prepared(self, params):
        if not self.prepared:
            self.prepare(params)
        self.prepared = False          # the next forward (next step) prepares again

    def forward(self, x, params):
        self.take_prepared(params)
        acc = super().forward(np.asarray(x, self.dt), {"weight": self.wq})
        y, self.y_mask = requantize_ste(acc, self.init, self.acc_frac, self.node.out_shift,
                                        self.out_q)
        return y

    def backward(self, grad_out):
        # a product with the bool mask: the same zeros, ~8x faster than np.where on conv outputs
        g = np.multiply(grad_out, self.y_mask, dtype=self.dt)
        grad_in, grads = super().backward(g)
        grads = {"weight": np.where(self.w_mask, grads["weight"], 0).astype(np.float32),
                 "bias": np.where(self.b_mask, grads["bias"], 0).astype(np.float32)}
        if grad_in is not None:
            grad_in = grad_in.astype(np.float32, copy=False)
        return grad_in, grads


class QConv(Weighted, Conv):
    """Forward on the integers (qsim.qat._intconv, the kernels' exact int16 tile engine): the same
    output and mask as Weighted.forward, without the im2col + float product, on batch slices in
    qsim.train.workers' threads; the backward is qsim.train.conv2d.conv_grads at the dequantized
    input with the saturation mask, then Weighted.backward's weight and bias masks."""

    tap_axes = (1, 2, 3)      # OHWI
    relu_after = False        # QatNet fuses a ReLU that only reads this conv (FusedReLU)

    def forward(self, x, params):
        node = self.node
        self.take_prepared(params)
        x = np.asarray(x)
        self.x_shape, padding = x.shape, self.padding
        if asymmetric(padding, self.pads_end):    # zeros are grid values: pad once, exactly
            x, padding = pad_hw(x, padding, 0, self.pads_end), (0, 0)
        self.x = x
        # grid values times a power of two: exact integers in float32, converted exactly
        x_int = (x.astype(np.float32, copy=False) * np.float32(2.0 ** self.in_q.frac_bits)) \
            .astype(self.in_q.dtype)
        y, self.y_mask = conv_forward(x_int, self.w_int, self.init, self.stride, padding,
                                      node.out_shift, self.out_q, self.relu_after)
        return y

    def backward(self, grad_out):
        asym = asymmetric(self.padding, self.pads_end)
        gw, gb, grad_in = conv_grads(np.asarray(self.x, self.dt), self.wq, grad_out, self.stride,
                                     (0, 0) if asym else self.padding, self.need_input_grad,
                                     mask=self.y_mask)
        self.x = None
        if asym and grad_in is not None:
            (py, px), (_, h, w, _) = self.padding, self.x_shape
            grad_in = grad_in[:, py:py + h, px:px + w]
        if grad_in is not None:
            grad_in = grad_in.astype(np.float32, copy=False)
        return grad_in, {"weight": np.where(self.w_mask, gw, 0).astype(np.float32),
                         "bias": np.where(self.b_mask, gb, 0).astype(np.float32)}


class FusedReLU(Layer):
    """A ReLU node whose conv applies it (QConv.relu_after, the ReLU in the integer epilogue and
    its gradient mask in the conv's): forward and backward pass straight through. The same bits
    as the float ReLU after the conv: max(s, 0) * step is the ReLU of the grid value s * step, and
    g * ((v == s) & (s > 0)) is (g if y > 0 else g * 0) * (v == s), signed zeros and NaNs too."""

    op = "relu"

    def forward(self, x, params=None):
        return x

    def backward(self, grad_out):
        return grad_out, {}


class QDepthwiseConv(Weighted, DepthwiseConv):
    tap_axes = (0, 1)         # (KY, KX, C)


class QFC(Weighted, FC):
    tap_axes = 1              # (rows, dim_in)


class KernelOp(Bound):
    """An op whose forward is the numba CMSIS-NN mirror (or qsim companion kernel) run on the
    integers (pool, activations, add, concat)."""

    def bind(self, graph, node):
        super().bind(graph, node)
        self.call = kernel_call(graph, node)
        self.in_qs = [graph.tensors[t].qformat for t in node.inputs]
        self.pads_in = [channel_pad(graph, t) for t in node.inputs]
        self.pad_in = self.pads_in[0]
        self.width = graph.tensors[node.output].shape[-1]
        self.out_stored = stored_shape(graph, node.output)
        return self

    def run_kernel(self, x):
        """The kernel on the integers of ``x`` (one array, or a list: one per node input)."""
        xs = x if isinstance(x, (list, tuple)) else [x]
        env = {}
        for t, xi, q, pad in zip(self.node.inputs, xs, self.in_qs, self.pads_in):
            ints = to_ints(xi, q)
            if pad:
                ints = np.pad(ints, ((0, 0),) * (ints.ndim - 1) + ((0, pad),))
            env[t] = ints
        call, n = self.call, len(xs[0])
        if call.companion:         # as qsim.simulate runs it
            fn, trunc = COMPANION_KERNELS[call.c_name], self.opts["truncate"]
            if call.parts:
                y = np.zeros((n, call.args["num_pixels"] * call.args["ch_im_out"]),
                             env[call.input].dtype)
                for t, part in call.parts:
                    y = fn(Im_in=env[t], Im_out=y, **call.args, **part,
                           truncate=trunc).reshape(n, -1)
            else:
                y = fn(**{a: call.kernel_input(env[t], a) for a, t in zip(call.in_args, call.inputs)},
                       **call.args,
                       truncate=trunc)
        else:
            y = KERNELS[call.c_name](**{call.in_arg: call.kernel_input(env[call.input])}, **call.args,
                                     **self.opts)
        y = y.reshape((n,) + self.out_stored)[..., :self.width]
        return (y * self.out_q.step).astype(np.float32)

    def forward(self, x, params=None):
        super().forward(x, params)            # the float layer fills its gradient cache
        return self.run_kernel(x)


class QMaxPool(KernelOp, MaxPool):
    pass


class QAvgPool(KernelOp, AvgPool):
    pass


class QSigmoid(KernelOp, Sigmoid):
    pass


class QTanh(KernelOp, Tanh):
    pass


class QSoftmax(KernelOp, Softmax):
    pass


class QClip(KernelOp, Clip):
    pass


class QAdd(KernelOp, Add):
    pass


class QConcat(KernelOp, Concat):
    pass


class Requantize(Layer):
    """requantize: a change of storage width, the identity on real values (float gradient 1)."""

    op = "requantize"

    def __init__(self, name="", bits=8):
        super().__init__(name)
        self.bits = int(bits)

    def forward(self, x, params=None):
        return x

    def backward(self, grad_out):
        return grad_out, {}


class QRequantize(KernelOp, Requantize):
    pass


class TransposeHW(Layer):
    """transpose_hw: swap H and W of (N, H, W, C); a copy in C (no CMSIS call)."""

    op = "transpose_hw"

    def forward(self, x, params=None):
        return np.ascontiguousarray(x.transpose(0, 2, 1, 3))

    def backward(self, grad_out):
        return np.ascontiguousarray(grad_out.transpose(0, 2, 1, 3)), {}


# LAYERS' own transpose_hw, if it has one, wins: both are the same copy.
QAT_LAYERS = {"transpose_hw": TransposeHW, **LAYERS,
              **{cls.op: cls for cls in (QConv, QDepthwiseConv, QFC, QMaxPool, QAvgPool, QSigmoid,
                                         QTanh, QSoftmax, QClip, QAdd, QConcat, QRequantize)}}
