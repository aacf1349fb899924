"""Case generators (being written)."""
CASES = {}
