"""Networks (UNet denoiser, time-conditioned classifier) and their safetensors checkpoints."""
