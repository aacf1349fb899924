"""Float training of a qsim Graph: per-op layers with gradients, Adam, and a seeded training loop."""
