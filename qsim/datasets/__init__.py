"""Datasets qsim can synthesize or load (KWS)."""
