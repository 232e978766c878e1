"""cpaudit: privacy audits and CPSample protection for image diffusion models."""

from cpaudit.version import __version__

__all__ = ["__version__"]
