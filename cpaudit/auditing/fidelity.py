"""Sample quality that does not reward copying: k-NN precision and recall, and authenticity.

FID against held-out images is lowest for a model that returns its training images. Two sample-level figures
say what FID hides:

- precision / recall (Kynkaanniemi, Karras, Laine, Lehtinen, Aila, NeurIPS 2019, "Improved precision and
  recall metric for assessing generative models", Sec. 2): the share of samples inside the manifold of the real
  images, and of real images inside the manifold of the samples; a manifold is the union of balls around each
  of its points with radius the distance to that point's k-th nearest other point (k = 3 in the paper).
  Authors' code: kynkaat/improved-precision-and-recall-metric, precision_recall.py (ManifoldEstimator).
- authenticity (Alaa, van Breugel, Saveliev, van der Schaar, ICML 2022, "How faithful is your synthetic
  data?", Sec. 3): the share of samples NOT closer to their nearest training image x_j than x_j is to its own
  nearest other training image; a copy of a training image is at distance 0, so copying lowers it.
  Authors' code: ahmedmalaa/evaluating-generative-models, metrics/evaluation.py (compute_alpha_precision,
  `authen = real_to_real[synth_to_real_args] < synth_to_real`).

Conventions (the same as the authors' code where it decides):
- Euclidean distances, in float64, computed in row blocks so that 50,000 x 50,000 never builds one matrix.
- The k-th nearest OTHER row: a row is never its own neighbour, but an exact duplicate of it is (at distance 0).
- Ties: a point at exactly a ball's radius is inside the ball (Kynkaanniemi's `distance <= radius`; the prdc
  package of Naeem et al. 2020 uses `<` instead). A sample at exactly its nearest training image's radius is
  therefore not authentic (Alaa et al.'s strict `<`). Where several training images are equally nearest, the
  one with the lowest index is x_j.
- Squared distances come from |a|^2 + |b|^2 - 2 a.b and are compared with squared radii; values below that
  expansion's rounding error (ROUNDING * D * (|a|^2 + max |b|^2)) are set to 0, so an exact copy is at distance
  exactly 0.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from cpaudit.core.stats import wilson_interval

BLOCK_ELEMENTS = 1 << 24  # distances held at once (128 MiB of float64), whatever the sizes
ROUNDING = float(np.finfo(np.float64).eps)


def _as_tensor(x: np.ndarray, device: torch.device | str) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64), device=device)


def _squared_distance_blocks(
    a: np.ndarray, b: np.ndarray, device: torch.device | str = "cpu"
) -> Iterator[tuple[int, torch.Tensor]]:
    """(first row, squared distances of a's rows [first, first + n) to every row of b), BLOCK_ELEMENTS at a time.
    Squared distances all through: comparisons with squared radii decide the same, without a square root of
    every pair."""
    tb = _as_tensor(b, device)
    sq_b = (tb * tb).sum(1)
    rows = max(1, BLOCK_ELEMENTS // max(len(b), 1))
    floor = ROUNDING * max(tb.shape[1], 1)
    sq_b_max = float(sq_b.max()) if len(b) else 0.0
    for start in range(0, len(a), rows):
        ta = _as_tensor(a[start : start + rows], device)
        sq_a = (ta * ta).sum(1)
        d2 = torch.addmm(sq_b[None, :], ta, tb.T, beta=1, alpha=-2).add_(sq_a[:, None])
        # the expansion's rounding error is below floor * (|a|^2 + |b|^2): an exact copy lands on 0
        yield start, d2.masked_fill_(d2 <= (floor * (sq_a + sq_b_max))[:, None], 0.0)


def _knn_radius_squared(features: np.ndarray, k: int, device: torch.device | str) -> torch.Tensor:
    """(N,) squared distance of each row to its k-th nearest other row, on device."""
    n = len(features)
    if k < 1 or n <= k:
        raise ValueError(f"the {k}-th nearest other row needs more than {k} rows, got {n}")
    out = torch.empty(n, dtype=torch.float64, device=device)
    for start, d2 in _squared_distance_blocks(features, features, device):
        rows = torch.arange(len(d2), device=d2.device)
        d2[rows, rows + start] = float("inf")  # not its own neighbour; a duplicate still is
        out[start : start + len(d2)] = d2.topk(k, dim=1, largest=False).values[:, -1]
    return out


def knn_radius(features: np.ndarray, k: int, *, device: torch.device | str = "cpu") -> np.ndarray:
    """(N,) distance of each row to its k-th nearest OTHER row (Kynkaanniemi et al. 2019, Sec. 2: the radius
    of that row's ball in the manifold estimate). Needs N > k."""
    return _knn_radius_squared(features, k, device).sqrt().cpu().numpy()


def _inside(points: np.ndarray, reference: np.ndarray, radii_sq: torch.Tensor) -> np.ndarray:
    out = np.empty(len(points), dtype=bool)
    for start, d2 in _squared_distance_blocks(points, reference, radii_sq.device):
        out[start : start + len(d2)] = (d2 <= radii_sq[None, :]).any(1).cpu().numpy()
    return out


def inside_manifold(
    points: np.ndarray, reference: np.ndarray, radii: np.ndarray, *, device: torch.device | str = "cpu"
) -> np.ndarray:
    """(P,) bool: each point lies in some ball (reference row, radius), the boundary included."""
    return _inside(points, reference, torch.as_tensor(radii, dtype=torch.float64, device=device) ** 2)


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = 3, *, device: torch.device | str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row booleans (fake rows inside the real manifold, real rows inside the fake manifold); precision
    and recall are their means (Kynkaanniemi et al. 2019, Eq. 1-3)."""
    in_real = _inside(fake, real, _knn_radius_squared(real, k, device))
    in_fake = _inside(real, fake, _knn_radius_squared(fake, k, device))
    return in_real, in_fake


def authentic(samples: np.ndarray, train: np.ndarray, *, device: torch.device | str = "cpu") -> np.ndarray:
    """(N,) bool: d(sample, nearest training image x_j) > d(x_j, x_j's nearest other training image)
    (Alaa et al. 2022, Sec. 3; their metrics/evaluation.py compares with a strict `<`)."""
    radius_sq = _knn_radius_squared(train, 1, device)
    out = np.empty(len(samples), dtype=bool)
    for start, d2 in _squared_distance_blocks(samples, train, device):
        nearest, j = d2.min(1)  # the first (lowest index) of equally near training images
        out[start : start + len(d2)] = (nearest > radius_sq[j]).cpu().numpy()
    return out


def _share(flags: np.ndarray | None) -> tuple[float, list[float]]:
    """(mean, Wilson 95% interval); NaN and the uninformative [0, 1] where nothing was measured."""
    if flags is None or len(flags) == 0:
        return float("nan"), [0.0, 1.0]
    hits = int(flags.sum())
    low, high = wilson_interval(hits, len(flags))
    return hits / len(flags), [float(low), float(high)]


def fidelity_figures(
    samples: np.ndarray, holdout: np.ndarray, members: np.ndarray, k: int = 3, *, device: torch.device | str = "cpu"
) -> dict:
    """Precision and recall against the held-out images (the population the model should draw from), and
    authenticity against the members (the images it was trained on), each with its Wilson 95% interval.
    A figure whose sets are too small for the k-th neighbour (k or fewer rows) is NaN."""
    in_real = in_fake = auth = None
    if len(samples) > k and len(holdout) > k:
        in_real, in_fake = precision_recall(holdout, samples, k, device=device)
    if len(members) > 1 and len(samples):
        auth = authentic(samples, members, device=device)
    precision, precision_ci = _share(in_real)
    recall, recall_ci = _share(in_fake)
    authenticity, authenticity_ci = _share(auth)
    return {
        "precision": precision,
        "precision_ci95": precision_ci,
        "recall": recall,
        "recall_ci95": recall_ci,
        "authenticity": authenticity,
        "authenticity_ci95": authenticity_ci,
        "k": int(k),
        "n_samples": int(len(samples)),
        "n_holdout": int(len(holdout)),
        "n_members": int(len(members)),
    }
