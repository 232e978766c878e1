"""Training loops: the diffusion model (plain) and the random-label classifier."""
