"""assert_bit_exact: integer comparison that reports like CMSIS's validate()."""
import numpy as np


def assert_bit_exact(actual, expected, what=""):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    bad = np.argwhere(actual != expected)
    if len(bad):
        first = tuple(int(i) for i in bad[0])
        raise AssertionError(f"{what}: {len(bad)} of {actual.size} values differ; first at {first}: "
                             f"expected {expected[first]}, got {actual[first]}")
