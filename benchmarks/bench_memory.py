"""Peak memory of the audit's replication search against many references (default 200,000 of dim 512).

    python benchmarks/bench_memory.py [--references 200000] [--dim 512] [--samples 1000]

Each configuration runs in a fresh subprocess so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(n: int, d: int, s: int) -> None:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from cpaudit.auditing.replication import replication

    rng = np.random.default_rng(0)

    def unit(k: int) -> np.ndarray:
        x = rng.standard_normal((k, d), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    members, holdout, samples = unit(n), unit(min(n, 10_000)), unit(s)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    r = replication(samples, members, holdout, threshold=0.97)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - t0,
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "data_mib": (members.nbytes + holdout.nbytes + samples.nbytes) / 2**20,
                "before_search_mib": base / 1024,
                "replicas": r.replicas,
            }
        )
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--references", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--samples", type=int, default=1000)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks._util import machine

    out = subprocess.run(
        [sys.executable, __file__, "--child", str(a.references), str(a.dim), str(a.samples)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    print(f"machine: {machine()}")
    print(f"{a.samples} samples vs {a.references} member references (+10,000 held-out), dim {a.dim}")
    print(
        f"  search {r['seconds']:.2f} s; peak RSS {r['peak_mib']:.0f} MiB (embeddings alone {r['data_mib']:.0f} MiB, "
        f"ratio peak/embeddings {r['peak_mib'] / r['data_mib']:.2f})"
    )


if __name__ == "__main__":
    main()
