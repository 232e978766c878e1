"""The audit's search stage against many references held in a memory-mapped embedding store.

    python benchmarks/bench_large_search.py [--references 100000,300000,1000000] [--dim 512]
                                            [--samples 1000] [--holdout 10000] [--permutations 1000]

References are clustered unit vectors (a Gaussian mixture of 1,000 centres, as image embeddings cluster
by content), written in blocks to a .npy and opened memory-mapped, as `cpaudit audit` does with its
members' embeddings. For each size, exact (blockwise flat) and IVF search run in fresh subprocesses, so
each peak RSS is its own; both run replication() (samples and held-out images as queries) and the
permutation test, i.e. everything the audit does after embedding.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CENTRES = 1000


def _unit(x):
    import numpy as np

    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_store(path: Path, n: int, d: int, seed: int = 0, block: int = 100_000) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CENTRES, d)).astype(np.float32)
    store = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, block):
        m = min(block, n - start)
        store[start : start + m] = _unit(
            centres[rng.integers(CENTRES, size=m)] + 0.7 * rng.standard_normal((m, d), dtype=np.float32)
        )
    store.flush()


def child(path: str, method: str, samples: int, holdout: int, permutations: int) -> None:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from cpaudit.auditing.replication import replication
    from cpaudit.core.stats import permutation_test

    members = np.load(path, mmap_mode="r")
    n, d = members.shape
    rng = np.random.default_rng(1)
    centres = np.random.default_rng(0).standard_normal((CENTRES, d)).astype(np.float32)  # the store's centres
    q = lambda m: _unit(centres[rng.integers(CENTRES, size=m)] + 0.7 * rng.standard_normal((m, d), dtype=np.float32))  # noqa: E731
    e_s, e_h = q(samples), q(holdout)
    t0 = time.perf_counter()
    rep = replication(e_s, members, e_h, threshold=0.97, k=5, method=method)
    t_search = time.perf_counter() - t0
    t1 = time.perf_counter()
    if permutations:  # as the audit does: equal-size member and held-out reference sets
        m = min(n, holdout)
        ref_m = members[rng.choice(n, m, replace=False)]
        permutation_test(e_s @ ref_m.T, e_s @ e_h.T, permutations, rng)
    print(
        json.dumps(
            {
                "search_s": t_search,
                "permutation_s": time.perf_counter() - t1,
                "search": rep.search,
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--references", default="100000,300000,1000000")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--holdout", type=int, default=10_000)
    ap.add_argument("--permutations", type=int, default=1000, help="0 skips the permutation test (search only)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks._util import machine

    print(f"machine: {machine()}")
    print(
        f"{a.samples} samples + {a.holdout} held-out queries, top-5, dim {a.dim}, references memory-mapped; "
        f"permutation test with {a.permutations} permutations (run once per size, with exact search)"
    )
    print(
        "| references | store on disk | exact search | IVF search (train + add + search) | exact / IVF | IVF recall@1 "
        "| permutation test | peak RSS, exact | peak RSS, IVF |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in a.references.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "members.npy"
            make_store(path, n, a.dim)
            r = {}
            for method, perms in (("exact", a.permutations), ("ivf", 0)):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        str(path),
                        method,
                        str(a.samples),
                        str(a.holdout),
                        str(perms),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                r[method] = json.loads(out.strip().splitlines()[-1])
            e, i = r["exact"], r["ivf"]
            perm = f"{e['permutation_s']:.1f} s" if a.permutations else "-"
            print(
                f"| {n:,} | {path.stat().st_size / 2**30:.2f} GiB | {e['search_s']:.1f} s | {i['search_s']:.1f} s | "
                f"{e['search_s'] / i['search_s']:.2f}x | {i['search']['recall_at_1']:.3f} | {perm} | "
                f"{e['peak_mib'] / 1024:.2f} GiB | {i['peak_mib'] / 1024:.2f} GiB |",
                flush=True,
            )


if __name__ == "__main__":
    main()
