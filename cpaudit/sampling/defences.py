"""Every defence a user could pick, as one drawable setting: a model (the memorising one, or a DP-SGD run
or its non-DP control), optional sampling-time guidance (CPSample or nearest-member repulsion) and optional
rejection of replicas. `draw_setting` turns a setting and seeds into images, one seed per sample."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cpaudit.data.imageset import to_uint8, to_unit_range
from cpaudit.data.members import Membership
from cpaudit.models.load import LoadedModel
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.draw import draw_run
from cpaudit.sampling.guides import resolve_logit_fn
from cpaudit.sampling.protection import Protection, protection_guide
from cpaudit.sampling.rejection import reject_replicas, reject_replicas_per_condition
from cpaudit.sampling.repulsion import Repulsion, centred_unit, repel_pred
from cpaudit.sampling.sampler import Guide, SamplerConfig, compose_guides


@dataclass(frozen=True)
class Setting:
    defence: str  # the family on the frontier, e.g. "CPSample, learned classifier"
    label: str  # this point's settings, e.g. "alpha 0.4, scale 100"
    model: str = "memorising"  # key into the models a sweep trained
    protection: Protection | None = None
    repulsion: Repulsion | None = None
    reject_at: float | None = None  # resample samples whose nearest member reaches this correlation

    def to_dict(self) -> dict:
        return {
            "defence": self.defence,
            "label": self.label,
            "model": self.model,
            "protection": None if self.protection is None else self.protection.to_dict(),
            "repulsion": None if self.repulsion is None else self.repulsion.to_dict(),
            "reject_at": self.reject_at,
        }


@dataclass
class Drawn:
    images: torch.Tensor  # (N, C, H, W) as written (uint8 levels), in [-1, 1]
    seeds: list[int]
    fired_fraction: float  # sample-steps where guidance fired, over all drawn samples
    drawn: int  # samples drawn, rejected ones included
    positions: list[int] | None = None  # per-condition rejection: each kept sample's condition (None: all, in order)
    refused: list[int] | None = None  # conditions rejection could not serve (allow_refusal)


@dataclass
class Guides:
    """Logit functions built once per classifier and reused by every point of a sweep."""

    members: torch.Tensor  # (M, C, H, W) the members as images, for rejection (judged on decoded images)
    device: torch.device
    _logits: dict = field(default_factory=dict)
    # The members in the model's own space, where repulsion pushes: their latents for a latent model.
    space_members: torch.Tensor | None = None
    membership: Membership = None  # whose members the exact posterior sums over, where the user names them

    def guide(self, model: LoadedModel, s: Setting) -> Guide | None:
        """The setting's guidance: CPSample's, repulsion's, or both composed (CPSample's first, then repulsion's:
        sampler.compose_guides says why); None where neither changes the sampler."""
        cpsample = self._cpsample(model, s)
        repel = self._repulsion(s)
        if cpsample is not None and repel is not None:
            return compose_guides(cpsample, repel)
        return cpsample if cpsample is not None else repel

    def _repulsion(self, s: Setting) -> Guide | None:
        if s.repulsion is None:
            return None
        members = self.members if self.space_members is None else self.space_members
        unit, _ = centred_unit(members.to(self.device))
        rep = s.repulsion
        return lambda pred, x_t, t, at: repel_pred(pred, x_t, at, unit, rep)

    def _cpsample(self, model: LoadedModel, s: Setting) -> Guide | None:
        if s.protection is None or s.protection.inactive:
            return None
        key = (str(model.folder), s.protection.classifier)
        if key not in self._logits:
            self._logits[key] = resolve_logit_fn(
                model, s.protection.classifier, device=self.device, membership=self.membership
            )[0]
        logit_fn, p = self._logits[key], s.protection.in_space(model.codec.latent, model.prediction == "flow")
        return protection_guide(logit_fn, p)


def draw_setting(
    model: LoadedModel,
    s: Setting,
    guides: Guides,
    first_seed: int,
    n: int,
    cfg: SamplerConfig = SamplerConfig(),
    batch_size: int = 256,
    conditions: Conditions = Conditions(),
    allow_refusal: bool = False,
    max_rounds: int = 20,
) -> Drawn:
    """n samples of the setting from seeds first_seed on (rejection replaces with the next unused seeds; under
    prompts or classes a replica is redrawn with its own condition, see rejection.py)."""
    guide = guides.guide(model, s)
    model.to(guides.device)
    fired = [0, 0]  # fired sample-steps, sample-steps

    def draw(seeds: list[int], positions: list[int] | None = None) -> torch.Tensor:
        b = draw_run(
            model,
            seeds,
            cfg,
            conditions=conditions,
            positions=positions,
            batch_size=batch_size,
            guide=guide,
            device=guides.device,
        )
        fired[0] += int(b.fired.sum())
        fired[1] += len(b.fired) * cfg.steps
        return to_unit_range(to_uint8(b.images))  # judged as written

    seeds = list(range(first_seed, first_seed + n))
    if s.reject_at is None:
        images, drawn = draw(seeds), n
    else:
        if conditions.prompts is not None or conditions.class_labels is not None:
            res = reject_replicas_per_condition(
                draw, guides.members, seeds, threshold=s.reject_at, allow_refusal=allow_refusal, max_rounds=max_rounds
            )
            return Drawn(res.images, res.seeds, fired[0] / max(fired[1], 1), res.drawn, res.positions, res.refused)
        res = reject_replicas(draw, guides.members, n, first_seed, threshold=s.reject_at)
        images, seeds, drawn = res.images, res.seeds, res.drawn
    return Drawn(images, seeds, fired[0] / max(fired[1], 1), drawn)
