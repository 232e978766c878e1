"""Nearest-neighbour search: FAISS (exact and IVF) vs a numpy matrix product vs scikit-learn, side by side.

python benchmarks/bench_search.py [--queries 256] [--sizes 10000,50000,200000] [--dims 64,512]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._util import best_of, machine  # noqa: E402
from cpaudit.similarity.neighbours import nearest  # noqa: E402


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=256)
    ap.add_argument("--sizes", default="10000,50000,200000")
    ap.add_argument("--dims", default="64,512")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"machine: {machine()}")
    print(f"{a.queries} queries, top-5 by inner product on unit vectors; best of 3 (sklearn: 1 run above 50k)")
    print(
        f"{'refs':>8} {'dim':>4} {'faiss flat':>11} {'numpy':>9} {'sklearn':>9} {'faiss IVF':>10} {'IVF recall@1':>13}  numpy/faiss  sklearn/faiss"
    )
    for d in (int(v) for v in a.dims.split(",")):
        for n in (int(v) for v in a.sizes.split(",")):
            refs = unit(rng.normal(size=(n, d)))
            q = unit(rng.normal(size=(a.queries, d)))
            t_faiss = best_of(lambda: nearest(q, refs, 5, exact=True))
            t_np = best_of(lambda: np.argpartition(-(q @ refs.T), 5, axis=1)[:, :5])
            nn = NearestNeighbors(n_neighbors=5, algorithm="brute", metric="cosine").fit(refs)
            t_sk = best_of(lambda: nn.kneighbors(q), 1 if n > 50_000 else 3)
            t_ivf = best_of(lambda: nearest(q, refs, 5, exact=False), 1)
            exact = nearest(q, refs, 1, exact=True).index[:, 0]
            recall = float(np.mean(nearest(q, refs, 1, exact=False).index[:, 0] == exact))
            print(
                f"{n:>8} {d:>4} {t_faiss:10.3f}s {t_np:8.3f}s {t_sk:8.3f}s {t_ivf:9.3f}s {recall:13.3f}  "
                f"{t_np / t_faiss:10.2f}x {t_sk / t_faiss:12.2f}x"
            )


if __name__ == "__main__":
    main()
