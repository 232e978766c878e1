"""cpaudit: privacy audits and CPSample protection for image diffusion models."""

from cpaudit.api import sample, train_classifier, train_diffusion
from cpaudit.sampling.protection import Protection
from cpaudit.version import __version__

__all__ = ["Protection", "__version__", "sample", "train_classifier", "train_diffusion"]
