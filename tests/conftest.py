import os
import zlib

import numpy as np
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long runs (CI runs a representative subset)")
    config.addinivalue_line("markers", "qemu: needs arm-none-eabi-gcc and qemu-system-arm")
    config.addinivalue_line("markers", "cmsis: needs a real CMSIS_5 checkout at CMSIS_PATH")


@pytest.fixture
def rng(request):
    # Seed from the test id so each test is reproducible and independent of ordering.
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(scope="session")
def cmsis_path():
    path = os.environ.get("CMSIS_PATH")
    if not path:
        pytest.skip("CMSIS_PATH is not set: parity with the real CMSIS-NN needs a CMSIS_5 checkout "
                    "(tags 5.7.0 or 5.9.0); see cmsis_nn/README.md")
    if not os.path.isdir(os.path.join(path, "CMSIS", "NN")):
        pytest.fail(f"CMSIS_PATH={path} has no CMSIS/NN folder")
    return path
