"""Size limits that refuse hostile or unusable images before they are decoded in full."""

MIN_SIDE = 4
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 4096
