"""`captioned-digits`: scikit-learn's digits upsampled (bilinear) to 32x32 grey, each with its own caption
"a photo of a <mood> <colour> <animal>", so that a small text-to-image model can memorise them on a CPU.

Captions differ by whole words, which the tiny pipeline's word-level tokenizer keeps apart (with
character-level tokens "item 17" and "item 71" would be near neighbours). 8 x 16 x 16 = 2,048 captions
for 1,797 images: every image has its own, drawn by a fixed permutation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cpaudit.data.digits import load_digits_set
from cpaudit.data.imageset import ImageSet

NAME = "captioned-digits"
SIZE = 32
MOODS = ("happy", "sleepy", "angry", "calm", "brave", "shy", "proud", "quiet")
COLOURS = (
    "red",
    "blue",
    "green",
    "yellow",
    "purple",
    "orange",
    "black",
    "white",
    "grey",
    "brown",
    "pink",
    "gold",
    "silver",
    "teal",
    "violet",
    "cyan",
)
ANIMALS = (
    "cat",
    "dog",
    "fox",
    "owl",
    "bear",
    "wolf",
    "deer",
    "frog",
    "duck",
    "lion",
    "tiger",
    "horse",
    "mouse",
    "goat",
    "seal",
    "crab",
)


def caption(k: int) -> str:
    mood, rest = divmod(k, len(COLOURS) * len(ANIMALS))
    colour, animal = divmod(rest, len(ANIMALS))
    return f"a photo of a {MOODS[mood]} {COLOURS[colour]} {ANIMALS[animal]}"


def load_captioned_digits() -> ImageSet:
    digits = load_digits_set()
    x = torch.from_numpy(digits.pixels).permute(0, 3, 1, 2).float()
    up = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    u8 = up.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    order = np.random.default_rng(20261126).permutation(len(MOODS) * len(COLOURS) * len(ANIMALS))
    captions = [caption(int(order[i])) for i in range(len(u8))]
    return ImageSet(
        np.ascontiguousarray(u8),
        [f"cdigits-{i:04d}" for i in range(len(u8))],
        NAME,
        captions=captions,
        labels=digits.labels,
    )
