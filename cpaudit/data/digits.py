"""scikit-learn's bundled handwritten digits: 1,797 real 8x8 grayscale images, no download."""

from __future__ import annotations

import numpy as np

from cpaudit.data.imageset import ImageSet
from cpaudit.extras import require


def load_digits_set() -> ImageSet:
    bunch = require("sklearn.datasets").load_digits()
    raw = bunch.images  # (1797, 8, 8), integer values 0..16
    u8 = np.round(raw / 16.0 * 255.0).astype(np.uint8)[..., None]
    return ImageSet(
        u8,
        [f"digits-{i:04d}" for i in range(len(u8))],
        "digits",
        labels=bunch.target.astype(np.int64),
        class_names=[str(d) for d in range(10)],
    )
