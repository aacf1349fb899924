"""Image sets for the examples, tests and benchmarks (digits); the KWS set is qsim.kws.dataset."""
