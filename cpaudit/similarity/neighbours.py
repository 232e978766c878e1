"""Nearest references by inner product on L2-normalised embeddings (cosine similarity), with FAISS.

References may be a memory-mapped .npy (see embedding_store.py): both searches read them in blocks of
CHUNK_ROWS rows, so only the index (IVF) or one block (exact) is ever in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import faiss
import numpy as np

# Exact search below this many references, an IVF index above. Measured (benchmarks/RESULTS.md,
# bench_large_search.py: clustered dim-512 embeddings, 11,000 queries = 1,000 samples + 10,000 held-out,
# 2 cores): exact 6.6 s vs IVF 9.7 s at 100,000 references, 20.4 vs 19.1 s at 300,000, 67.5 vs 42.7 s
# at 1,000,000 (IVF recall@1 1.000 throughout). The crossover is near 300,000.
IVF_MIN_REFERENCES = 300_000
CHUNK_ROWS = 131_072  # 256 MiB of float32 at dim 512
RECALL_QUERIES = 256  # queries searched both ways to report IVF's recall
SearchMethod = Literal["auto", "exact", "ivf"]


@dataclass
class Neighbours:
    similarity: np.ndarray  # (N, k) float32, descending
    index: np.ndarray  # (N, k) int64 into the references
    search: dict = field(default_factory=dict)  # method, and for IVF its lists, probes and measured recall


def _queries(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim != 2 or references.ndim != 2 or q.shape[1] != references.shape[1]:
        raise ValueError(f"queries {q.shape} and references {references.shape} must be 2-d with equal width")
    return q


def _block(references: np.ndarray, start: int, stop: int) -> np.ndarray:
    return np.ascontiguousarray(references[start:stop], dtype=np.float32)


def exact_nearest(
    queries: np.ndarray, references: np.ndarray, k: int = 1, *, chunk_rows: int | None = None
) -> Neighbours:
    """Brute-force top-k (IndexFlatIP) over blocks of references, merged; equals one flat index."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    q = _queries(queries, references)
    n, k = references.shape[0], min(k, references.shape[0])
    best_s = np.full((q.shape[0], k), -np.inf, dtype=np.float32)
    best_i = np.full((q.shape[0], k), -1, dtype=np.int64)
    for start in range(0, n, chunk_rows):
        index = faiss.IndexFlatIP(references.shape[1])
        index.add(_block(references, start, start + chunk_rows))
        s, i = index.search(q, k)
        cat_s = np.concatenate([best_s, s], axis=1)
        cat_i = np.concatenate([best_i, i.astype(np.int64) + start], axis=1)
        # Stable sort keeps the earlier (lower-index) reference first on ties, as a single flat index does.
        order = np.argsort(-cat_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(cat_s, order, 1), np.take_along_axis(cat_i, order, 1)
    return Neighbours(best_s, best_i, {"method": "exact", "n_references": int(n)})


def ivf_nearest(
    queries: np.ndarray,
    references: np.ndarray,
    k: int = 1,
    *,
    nprobe: int = 32,
    seed: int = 0,
    chunk_rows: int | None = None,
    recall_queries: int = RECALL_QUERIES,
) -> Neighbours:
    """Approximate top-k with an inverted-file index (sqrt(n) lists), and its recall@1 against exact search
    measured on up to `recall_queries` of the queries."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    q = _queries(queries, references)
    n, d = references.shape
    k = min(k, n)
    nlist = max(1, int(np.sqrt(n)))
    rng = np.random.default_rng(seed)
    train_rows = np.sort(rng.choice(n, min(n, 40 * nlist), replace=False))  # FAISS asks for >= 39 per list
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(references[train_rows], dtype=np.float32))
    for start in range(0, n, chunk_rows):
        index.add(_block(references, start, start + chunk_rows))
    index.nprobe = min(nprobe, nlist)
    s, i = index.search(q, k)
    s = np.where(i < 0, -np.inf, s).astype(np.float32)  # fewer than k found in the probed lists
    check = np.sort(rng.choice(q.shape[0], min(q.shape[0], recall_queries), replace=False))
    exact = exact_nearest(q[check], references, 1, chunk_rows=chunk_rows)
    # A hit: IVF's top-1 is exact's, or ties with it in similarity.
    hit = (i[check, 0] == exact.index[:, 0]) | (np.abs(s[check, 0] - exact.similarity[:, 0]) <= 1e-6)
    info = {
        "method": "ivf",
        "n_references": int(n),
        "nlist": nlist,
        "nprobe": int(index.nprobe),
        "recall_at_1": float(hit.mean()),
        "recall_queries": int(len(check)),
    }
    return Neighbours(s, i.astype(np.int64), info)


def nearest(
    queries: np.ndarray,
    references: np.ndarray,
    k: int = 1,
    *,
    exact: bool | None = None,
    method: SearchMethod = "auto",
    nprobe: int = 32,
) -> Neighbours:
    """Top-k references for each query by inner product: exact below IVF_MIN_REFERENCES, else IVF
    ('auto'), or as `method` / `exact` says."""
    if exact is not None:
        method = "exact" if exact else "ivf"
    if method not in ("auto", "exact", "ivf"):
        raise ValueError(f"method must be auto, exact or ivf, got {method!r}")
    if method == "auto":
        method = "exact" if references.shape[0] < IVF_MIN_REFERENCES else "ivf"
    if method == "exact":
        return exact_nearest(queries, references, k)
    return ivf_nearest(queries, references, k, nprobe=nprobe)
