"""`cpaudit fid`: FID and KID between two image sources (folders, .npz, digits) on a named embedding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cpaudit.auditing.features import embed, parse_features
from cpaudit.auditing.quality import frechet_distance, kernel_inception_distance
from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.device import DEVICE_HELP, resolve_device
from cpaudit.options import option
from cpaudit.seeding import numpy_generator


def _source(value: object) -> str | ImageSet:
    return value if isinstance(value, ImageSet) else str(value)


@dataclass(frozen=True)
class FidOptions:
    """`cpaudit fid`'s options, declared once (cpaudit/options.py): the command's arguments and flags come from here."""

    # a source (folder, .npz, 'digits', ...) or images in memory
    a: str | ImageSet = option(
        help="First image source: a folder, an .npz or digits.", cli=False, config=False, cli_type=str, parse=_source
    )
    b: str | ImageSet = option(help="Second image source.", cli=False, config=False, cli_type=str, parse=_source)
    # FID's TF-Inception from cpaudit[fid]; see auditing/features.py
    features: str = option("inception", help="inception[:WEIGHTS], inception-legacy[:WEIGHTS], pixel, ...")
    seed: int = option(0, min=0, max=2**62, help="Seed of KID's random subsets.")
    device: str = option("auto", help=DEVICE_HELP)


def fid(opts: FidOptions) -> dict:
    spec = parse_features(opts.features)
    device = resolve_device(opts.device)
    feats = []
    for source in (opts.a, opts.b):
        data = source if isinstance(source, ImageSet) else load_data(source)
        feats.append(embed(data.take(np.arange(len(data))), spec, device=device)[1].astype(np.float64))
    fa, fb = feats
    dim = fa.shape[1]
    return {
        "fid": frechet_distance(fa, fb),
        "kid": kernel_inception_distance(fa, fb, numpy_generator(opts.seed)),
        "features": spec.label,
        "weights_sha256": spec.sha256,
        "resize": spec.resize if spec.kind == "inception" else None,
        "n_a": len(fa),
        "n_b": len(fb),
        "feature_dim": dim,
        "warning": None
        if min(len(fa), len(fb)) > dim
        else "fewer images than feature dimensions on a side: FID unreliable",
        "a": _name(opts.a),
        "b": _name(opts.b),
    }


def _name(source: str | ImageSet) -> str:
    return source.source if isinstance(source, ImageSet) else str(Path(source))
