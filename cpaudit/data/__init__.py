"""Image sources, member/holdout splits and image files."""

from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data

__all__ = ["ImageSet", "load_data"]
