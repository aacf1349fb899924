"""Case generators for relu and the direct-table sigmoid/tanh (semantics doc §5).

int_width 3 with extreme q15 values reaches the table's top entry (h == 127), where 5.7.0 and
5.9.0 differ; negative inputs hit 5.7.0's clamped index.
"""
from ._util import ints


def _size(rng):
    return int(rng.choice([0, int(rng.integers(1, 9)), int(rng.integers(1, 80))], p=[0.05, 0.45, 0.5]))


def _relu(bits):
    def gen(rng, path, version):
        size = _size(rng)
        return ints(rng, (int(rng.integers(1, 4)), size), bits), size
    return gen


def _direct(bits):
    def gen(rng, path, version):
        size = _size(rng)
        int_width = int(rng.choice([0, 1, 2, 3, 3]))
        return (ints(rng, (int(rng.integers(1, 4)), size), bits), size, int_width,
                int(rng.integers(0, 2)))
    return gen


CASES = {
    "arm_relu_q7": _relu(8),
    "arm_relu_q15": _relu(16),
    "arm_nn_activations_direct_q7": _direct(8),
    "arm_nn_activations_direct_q15": _direct(16),
}
