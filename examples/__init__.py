"""Example scripts (run them as files: python examples/cifar_digits.py); _flow holds their shared steps."""
