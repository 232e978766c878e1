"""The audit engine: from samples, images and a model to results (no files read or written here)."""
