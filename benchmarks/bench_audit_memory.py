"""Peak memory and time of a whole `cpaudit audit` of a large 32x32 RGB image set, images to report.

    python benchmarks/bench_audit_memory.py [--images 200000] [--holdout 1000] [--samples 256]
                                            [--work DIR] [--root REPO]

Writes an .npz of --images random 32x32 RGB images (uint8), a split.json with all but --holdout of them as
members, and --samples images as the samples to audit; then runs `python -m cpaudit audit` (pixel
features, the default search) in a subprocess and prints its wall time and peak RSS. --root runs the
cpaudit found in another checkout, so two versions are compared on the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_inputs(work: Path, n: int, holdout: int, samples: int) -> None:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from cpaudit.data.imageio import save_samples_npz
    from cpaudit.data.imageset import ImageSet
    from cpaudit.data.split import make_split, write_split

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    np.savez(work / "data.npz", images=images)
    data = ImageSet(images, [f"{i:06d}" for i in range(n)], str(work / "data.npz"))
    write_split(work / "split.json", data, make_split(data, members=n - holdout, seed=0))
    (work / "samples").mkdir(exist_ok=True)
    save_samples_npz(work / "samples" / "samples.npz", images[:samples], np.arange(samples))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200_000)
    ap.add_argument("--holdout", type=int, default=1_000)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--work", type=Path)
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose cpaudit runs the audit")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not (work / "split.json").is_file():
            make_inputs(work, a.images, a.holdout, a.samples)
        cmd = [
            sys.executable,
            "-m",
            "cpaudit",
            "--quiet",
            "audit",
            "--samples",
            str(work / "samples"),
            "--data",
            str(work / "data.npz"),
            "--split",
            str(work / "split.json"),
            "--out",
            str(work / "audit"),
            "--permutations",
            "100",
            "--json",
        ]
        env = {**os.environ, "PYTHONPATH": str(a.root), "HF_HUB_OFFLINE": "1"}
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=a.root)
        seconds = time.perf_counter() - t0
        peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        if r.returncode not in (0, 1):
            print(r.stderr[-2000:])
            sys.exit(f"audit exited {r.returncode}")
        nn = json.loads(r.stdout)["nn"]
        print(
            f"{a.images:,} 32x32 RGB images ({a.images * 3072 / 2**30:.2f} GiB as uint8, {a.images * 3072 * 4 / 2**30:.2f} GiB "
            f"as float32), {a.images - a.holdout:,} members, {a.samples} samples; cpaudit from {a.root}"
        )
        print(
            f"audit: {seconds:.1f} s, peak RSS {peak_gib:.2f} GiB, search {nn['search']['method']}, replicas {nn['replicas']}"
        )


if __name__ == "__main__":
    main()
