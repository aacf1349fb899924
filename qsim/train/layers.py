"""Float layers for training: one class per graph op, forward and gradient side by side (micrograd).

Layouts follow the graph IR: activations (N, H, W, C) with the batch axis first, conv weight OHWI
(ch_out, KY, KX, ch_in), depthwise weight (KY, KX, C), fc weight (rows, dim_in) over the flattened
HWC input, bias per output channel; stride (sy, sx) and zero padding (py, px) at the top/left,
``pads_end`` (bottom, right; default (py, px)) at the bottom/right.

Protocol
--------
``y = layer.forward(x, params)`` computes the output and caches what the gradient needs;
``grad_in, grad_params = layer.backward(grad_out)`` uses that cache (one forward, one backward).
``params`` is a dict by role ("weight", "bias"); ``grad_params`` has the same keys. Setting
``need_input_grad = False`` (the trainer does it for layers fed by the graph input) skips grad_in.
A layer with ``n_inputs != 1`` (add, concat) takes the list of its inputs and returns the list
of their gradients.

The arithmetic follows the dtype of the inputs: float32 for training, float64 in gradient checks.

QAT hook: the fixed-point issue substitutes a subclass per op whose ``forward`` first calls
``super().forward(x, quantized(params))`` (filling the float cache) and then returns the
fixed-point result; the inherited ``backward`` passes the float gradient taken at the quantized
point, i.e. a straight-through estimator for the rounding and saturation.
``trainer.train(..., layers={**LAYERS, "conv": QConv})`` picks the subclasses by op name.

Each forward is the op's function in qsim.train.float_ops, which float_exec runs too: one home
for the float semantics (ceil_mode padding, valid-tap counting, ...); the backwards are here.
"""
import numpy as np

from . import float_ops as F
from .conv2d import conv_grads
from .convtaps import pad_hw, tap_slices
from .float_ops import pool_pad, valid_taps
from .workers import over_batch


class Layer:
    """Base class: a stateless op (no params) unless ``param_names`` says otherwise."""

    op = ""
    param_names = ()
    n_inputs = 1        # None: a list of inputs in, a list of gradients out

    def __init__(self, name=""):
        self.name = name
        self.need_input_grad = True

    def forward(self, x, params):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


class Conv(Layer):
    """2-D convolution, OHWI weight: one matrix product per direction over the windows,
    batch-parallel in cache-sized chunks (qsim.train.conv2d: float32 register tiles)."""

    op = "conv"
    param_names = ("weight", "bias")

    def __init__(self, name="", kernel_shape=None, strides=(1, 1), pads=(0, 0), pads_end=None):
        super().__init__(name)  # kernel_shape is the weight's (KY, KX); accepted to take node.attrs
        self.stride, self.padding = tuple(strides), tuple(pads)
        self.pads_end = None if pads_end is None else tuple(pads_end)

    def forward(self, x, params):
        self.x, self.w, self.x_shape, padding = x, params["weight"], x.shape, self.padding
        if F.asymmetric(padding, self.pads_end):    # pad once; the products see no padding
            self.x, padding = pad_hw(x, padding, 0, self.pads_end), (0, 0)
        return F.conv(self.x, self.w, params.get("bias"), self.stride, padding)

    def backward(self, grad_out):
        asym = F.asymmetric(self.padding, self.pads_end)
        gw, gb, grad_in = conv_grads(self.x, self.w, grad_out, self.stride,
                                     (0, 0) if asym else self.padding, self.need_input_grad)
        if asym and grad_in is not None:
            (py, px), (_, h, w, _) = self.padding, self.x_shape
            grad_in = grad_in[:, py:py + h, px:px + w]
        self.x = None
        return grad_in, {"weight": gw, "bias": gb}


class DepthwiseConv(Layer):
    """Depthwise 2-D convolution (ch_out == ch_in), weight (KY, KX, C): one multiply-add per tap."""

    op = "depthwise_conv"
    param_names = ("weight", "bias")

    def __init__(self, name="", kernel_shape=None, strides=(1, 1), pads=(0, 0), pads_end=None):
        super().__init__(name)  # kernel_shape is the weight's (KY, KX); accepted to take node.attrs
        self.stride, self.padding = tuple(strides), tuple(pads)
        self.pads_end = None if pads_end is None else tuple(pads_end)

    def forward(self, x, params):
        # the padded input is kept for the backward; padding (0, 0) then makes no copy
        self.xp, self.w, self.x_shape = (pad_hw(x, self.padding, 0, self.pads_end),
                                         params["weight"], x.shape)
        return F.depthwise_conv(self.xp, self.w, params.get("bias"), self.stride, (0, 0))

    def backward(self, grad_out):
        w, xp = self.w, self.xp
        gw = np.empty_like(w, dtype=np.result_type(w, grad_out))
        gxp = np.zeros_like(xp, dtype=gw.dtype) if self.need_input_grad else None
        for (ky, kx), sl in tap_slices(xp.shape, w.shape[:2], self.stride):
            gw[ky, kx] = np.einsum("nhwc,nhwc->c", grad_out, xp[sl])
            if gxp is not None:
                gxp[sl] += grad_out * w[ky, kx]
        py, px = self.padding
        grad_in = None if gxp is None else gxp[:, py:py + self.x_shape[1], px:px + self.x_shape[2]]
        self.xp = None
        return grad_in, {"weight": gw, "bias": grad_out.sum((0, 1, 2))}


class FC(Layer):
    """Fully connected: y = flatten_hwc(x) @ weight.T + bias; products split over the batch
    (qsim.train.workers) when large."""

    op = "fc"
    param_names = ("weight", "bias")

    def forward(self, x, params):
        self.x_shape, self.x2, self.w = x.shape, x.reshape(x.shape[0], -1), params["weight"]
        return F.fc(self.x2, self.w, params.get("bias"))

    def backward(self, grad_out):
        x2, w = self.x2, self.w
        dt = np.result_type(grad_out, x2, w)
        grad_in = np.empty(x2.shape, dt) if self.need_input_grad else None

        def part(lo, hi):
            g = grad_out[lo:hi]
            if grad_in is not None:
                np.matmul(g, w, out=grad_in[lo:hi])
            return g.T @ x2[lo:hi], np.ones(len(g), dt) @ g    # a BLAS sum, faster than sum(0)

        parts = over_batch(part, len(x2), size=x2.size)
        grads = {"weight": sum(p[0] for p in parts), "bias": sum(p[1] for p in parts)}
        return (None if grad_in is None else grad_in.reshape(self.x_shape)), grads


class ReLU(Layer):
    op = "relu"

    def forward(self, x, params=None):
        self.y = F.relu(x)
        return self.y

    def backward(self, grad_out):
        y = self.y
        g = np.empty(grad_out.shape, np.result_type(grad_out, y))
        go = np.ascontiguousarray(grad_out)
        over_batch(lambda lo, hi: F.relu_grad(go[lo:hi], y[lo:hi], g[lo:hi]), len(g), size=g.size)
        return g, {}


class Sigmoid(Layer):
    op = "sigmoid"

    def forward(self, x, params=None):
        self.y = F.sigmoid(x)
        return self.y

    def backward(self, grad_out):
        return grad_out * self.y * (1 - self.y), {}


class Tanh(Layer):
    op = "tanh"

    def forward(self, x, params=None):
        self.y = F.tanh(x)
        return self.y

    def backward(self, grad_out):
        return grad_out * (1 - self.y * self.y), {}


class Softmax(Layer):
    """Softmax over one non-batch axis (default the last, the channel axis of HWC).

    Training replaces a softmax that produces the graph output by SoftmaxCrossEntropy.
    """

    op = "softmax"

    def __init__(self, name="", axis=-1):
        super().__init__(name)
        self.ir_axis = axis
        self.axis = axis + 1 if axis >= 0 else axis   # the IR's axis does not count the batch

    def forward(self, x, params=None):
        self.y = F.softmax(x, self.ir_axis)
        return self.y

    def backward(self, grad_out):
        y = self.y
        return y * (grad_out - (grad_out * y).sum(self.axis, keepdims=True)), {}


class Reshape(Layer):
    """Flatten / reshape of each sample; HWC order is kept, so this never moves data."""

    op = "reshape"

    def __init__(self, name="", shape=(-1,)):  # shape excludes the batch axis
        super().__init__(name)
        self.shape = tuple(shape)

    def forward(self, x, params=None):
        self.x_shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, grad_out):
        return grad_out.reshape(self.x_shape), {}


class Flatten(Reshape):
    op = "flatten"

    def __init__(self, name=""):
        super().__init__(name, shape=(-1,))


class Transpose(Layer):
    """Permutation of the non-batch axes (transient in the IR; kept so any HWC graph trains)."""

    op = "transpose"

    def __init__(self, name="", perm=(0, 1, 2)):
        super().__init__(name)
        self.perm = (0,) + tuple(p + 1 for p in perm)

    def forward(self, x, params=None):
        return x.transpose(self.perm)

    def backward(self, grad_out):
        return grad_out.transpose(np.argsort(self.perm)), {}


class TransposeHW(Layer):
    """Swap H and W of (N, H, W, C); the gradient is swapped back (the swap is its own inverse)."""

    op = "transpose_hw"

    def forward(self, x, params=None):
        return x.transpose(0, 2, 1, 3)

    def backward(self, grad_out):
        return (grad_out.transpose(0, 2, 1, 3) if self.need_input_grad else None), {}


class MaxPool(Layer):
    """Max over the valid taps of each window (padding never wins); gradient to the first max."""

    op = "maxpool"

    def __init__(self, name="", kernel_shape=(2, 2), strides=None, pads=(0, 0), ceil_mode=0,
                 pads_end=None):
        super().__init__(name)
        self.kernel, self.padding = tuple(kernel_shape), tuple(pads)
        self.stride = self.kernel if strides is None else tuple(strides)
        self.ceil_mode = bool(ceil_mode)
        self.pads_end = None if pads_end is None else tuple(pads_end)

    def forward(self, x, params=None):
        self.x_shape = x.shape
        # the padded input is kept for the backward; padding (0, 0) then makes no copy
        self.xp = pool_pad(x, self.kernel, self.stride, self.padding, self.ceil_mode, -np.inf,
                           self.pads_end)
        self.y = F.max_pool(self.xp, self.kernel, self.stride, (0, 0))
        return self.y

    def backward(self, grad_out):
        gxp = np.zeros(self.xp.shape, grad_out.dtype)
        taken = np.zeros(self.y.shape, bool)
        for _, sl in tap_slices(self.xp.shape, self.kernel, self.stride):
            hit = (self.xp[sl] == self.y) & ~taken
            gxp[sl] += np.where(hit, grad_out, 0)
            taken |= hit
        py, px = self.padding
        self.xp = None
        return gxp[:, py:py + self.x_shape[1], px:px + self.x_shape[2]], {}


class AvgPool(Layer):
    """Average over the valid taps of each window (padding is not counted unless
    count_include_pad)."""

    op = "avgpool"

    def __init__(self, name="", kernel_shape=(2, 2), strides=None, pads=(0, 0), ceil_mode=0,
                 pads_end=None, count_include_pad=0):
        super().__init__(name)
        self.kernel, self.padding = tuple(kernel_shape), tuple(pads)
        self.stride = self.kernel if strides is None else tuple(strides)
        self.ceil_mode = bool(ceil_mode)
        self.pads_end = None if pads_end is None else tuple(pads_end)
        self.include = bool(count_include_pad)

    def forward(self, x, params=None):
        self.x_shape = x.shape
        return F.avg_pool(x, self.kernel, self.stride, self.padding, self.ceil_mode,
                          self.pads_end, self.include)

    def backward(self, grad_out):
        n, h, w, c = self.x_shape
        py, px = self.padding
        gxp = pool_pad(np.zeros((n, h, w, c), grad_out.dtype), self.kernel, self.stride,
                       self.padding, self.ceil_mode, 0, self.pads_end)
        g = grad_out / valid_taps(h, w, self.kernel, self.stride, self.padding, self.ceil_mode,
                                  grad_out.dtype, self.pads_end, self.include)
        for _, sl in tap_slices(gxp.shape, self.kernel, self.stride):
            gxp[sl] += g
        return gxp[:, py:py + h, px:px + w], {}


class Clip(Layer):
    """min(max(x, min), max); the gradient passes where the input is strictly inside the bounds."""

    op = "clip"

    def __init__(self, name="", min=0.0, max=6.0):     # noqa: A002 (the IR's attribute names)
        super().__init__(name)
        self.lo, self.hi = float(min), float(max)

    def forward(self, x, params=None):
        self.inside = (x > self.lo) & (x < self.hi)
        return F.clip(x, self.lo, self.hi)

    def backward(self, grad_out):
        return grad_out * self.inside, {}


class Add(Layer):
    """a + b; each input gets the output's gradient."""

    op = "add"
    n_inputs = 2

    def forward(self, xs, params=None):
        return F.add(*xs)

    def backward(self, grad_out):
        return [grad_out, grad_out], {}


class Concat(Layer):
    """Inputs joined along one non-batch axis; the gradient is split back along it."""

    op = "concat"
    n_inputs = None

    def __init__(self, name="", axis=-1):
        super().__init__(name)
        self.ir_axis = axis
        self.axis = axis + 1 if axis >= 0 else axis

    def forward(self, xs, params=None):
        self.sizes = [x.shape[self.axis] for x in xs]
        return F.concat(xs, self.ir_axis)

    def backward(self, grad_out):
        return np.split(grad_out, np.cumsum(self.sizes)[:-1], self.axis), {}


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels, fused for stability.

    forward(logits, labels) -> loss; backward() -> d loss / d logits = (softmax - target) / N.
    ``smoothing`` e (label smoothing): the target is (1 - e) * onehot + e / classes; 0 = onehot.
    ``mix`` = (labels_b, lam) (mixup): the target is lam * target(labels) + (1 - lam) *
    target(labels_b), the loss the same mix of the two cross-entropies.
    """

    def __init__(self, smoothing=0.0):
        self.smoothing = float(smoothing)

    def forward(self, logits, labels, mix=None):
        z = logits - logits.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        self.p, self.labels, self.mix = np.exp(logp), np.asarray(labels), mix
        nll = -logp[np.arange(len(logits)), self.labels]
        if mix is not None:
            lam = float(mix[1])
            nll = lam * nll - (1 - lam) * logp[np.arange(len(logits)), np.asarray(mix[0])]
        if self.smoothing:
            nll = (1 - self.smoothing) * nll - self.smoothing * logp.mean(-1)
        return float(nll.mean())

    def backward(self):
        g = self.p.copy()
        e = self.smoothing
        if e:
            g -= e / g.shape[-1]
        if self.mix is None:
            g[np.arange(len(g)), self.labels] -= 1 - e
        else:
            lam = float(self.mix[1])
            g[np.arange(len(g)), self.labels] -= (1 - e) * lam
            g[np.arange(len(g)), np.asarray(self.mix[0])] -= (1 - e) * (1 - lam)
        return g / len(g)


LAYERS = {cls.op: cls for cls in (Conv, DepthwiseConv, FC, ReLU, Sigmoid, Tanh, Softmax, Reshape,
                                  Flatten, Transpose, TransposeHW, MaxPool, AvgPool, Clip, Add,
                                  Concat)}
