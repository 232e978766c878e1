"""The rejection baseline: sample, drop samples whose nearest member is a replica, resample until N are kept.

Replacement samples take the next unused seeds, so the kept set is deterministic; the cost is the number
of extra samples drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from cpaudit.similarity.neighbours import nearest
from cpaudit.similarity.pixel import pixel_embedding


class RejectionExhausted(RuntimeError):
    """Fewer than n samples were kept within the rounds allowed: the threshold rejects nearly everything."""


@dataclass
class RejectionResult:
    images: torch.Tensor  # (N, C, H, W) kept samples
    seeds: list[int]  # their seeds
    drawn: int  # total samples drawn
    rejected_seeds: list[int]
    positions: list[int] | None = None  # per-condition rejection: the condition of each kept sample
    refused: list[int] | None = None  # per-condition rejection: conditions left without a non-replica

    @property
    def extra(self) -> int:
        return self.drawn - len(self.seeds)


def reject_replicas(
    draw: Callable[[list[int]], torch.Tensor],
    members: torch.Tensor,
    n: int,
    first_seed: int,
    *,
    threshold: float,
    max_rounds: int = 20,
) -> RejectionResult:
    """draw(seeds) -> images; keeps drawing fresh seeds until n samples below `threshold` are kept."""
    ref = pixel_embedding(members)
    kept_imgs: list[torch.Tensor] = []
    kept_seeds: list[int] = []
    rejected: list[int] = []
    next_seed = first_seed
    drawn = 0
    for _ in range(max_rounds):
        need = n - len(kept_seeds)
        if need == 0:
            break
        # Ask for a few more than needed, scaled by the rejection rate so far, to save rounds.
        rate = len(rejected) / drawn if drawn else 0.0
        k = int(np.ceil(need / max(1 - rate, 0.01)))
        seeds = list(range(next_seed, next_seed + k))
        next_seed += k
        imgs = draw(seeds)
        drawn += k
        sim = nearest(pixel_embedding(imgs), ref, 1).similarity[:, 0]
        for img, s, r in zip(imgs, seeds, sim):
            if r >= threshold:
                rejected.append(s)
            elif len(kept_seeds) < n:
                kept_imgs.append(img)
                kept_seeds.append(s)
    if len(kept_seeds) < n:
        raise RejectionExhausted(f"rejection sampling kept only {len(kept_seeds)} of {n} after {drawn} draws")
    return RejectionResult(torch.stack(kept_imgs), kept_seeds, drawn, rejected)


def reject_replicas_per_condition(
    draw: Callable[[list[int], list[int]], torch.Tensor],
    members: torch.Tensor,
    seeds: list[int],
    *,
    threshold: float,
    max_rounds: int = 20,
    allow_refusal: bool = False,
) -> RejectionResult:
    """Rejection for prompted or class-conditional runs: sample k keeps its condition (position k) and a
    replica is redrawn under seed seeds[k] + r * len(seeds) in round r, so every prompt gets its sample.
    draw(seeds, positions) -> images. A memorised caption may give a replica at nearly every seed: after
    max_rounds its prompt is refused (allow_refusal: listed in `refused`, the other samples kept; else
    RejectionExhausted), which is what a deployment that rejects replicas would have to do."""
    ref = pixel_embedding(members)
    n = len(seeds)
    kept: dict[int, tuple[torch.Tensor, int]] = {}
    pending = list(range(n))
    rejected: list[int] = []
    drawn = 0
    for r in range(max_rounds):
        if not pending:
            break
        round_seeds = [seeds[k] + r * n for k in pending]
        imgs = draw(round_seeds, pending)
        drawn += len(pending)
        sim = nearest(pixel_embedding(imgs), ref, 1).similarity[:, 0]
        still = []
        for k, s, img, sk in zip(pending, round_seeds, imgs, sim):
            if sk >= threshold:
                rejected.append(s)
                still.append(k)
            else:
                kept[k] = (img, s)
        pending = still
    if pending and not allow_refusal:
        raise RejectionExhausted(
            f"rejection sampling found no non-replica for {len(pending)} of {n} conditions after {max_rounds} rounds"
        )
    order = sorted(kept)
    images = torch.stack([kept[k][0] for k in order]) if order else torch.empty(0, *members.shape[1:])
    return RejectionResult(images, [kept[k][1] for k in order], drawn, rejected, positions=order, refused=pending)
