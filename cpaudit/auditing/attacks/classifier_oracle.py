"""CPSample's classifier as a membership oracle.

The random-label classifier p_phi(y | x_t, t) is fitted to the members, so it is confident near them and
unsure elsewhere: |logit p_phi(y = 1 | x_t, t)| of a noised candidate, x_t = alpha_t x_0 +
sigma_t eps, is a membership score that needs no labels. The deployed sampler exposes the
classifier only through the protected eps_hat, so this attack belongs to the `weights` threat model: it
applies where the classifier's file (or a query interface to it) is released with the model.
One classifier query per image and t; noise per image from its own generator (loss.image_noise).
"""

from __future__ import annotations

import torch

from cpaudit.auditing.attacks.base import AttackContext, AttackScores, AttackTarget, Denoiser, score_images
from cpaudit.auditing.attacks.loss import image_noise
from cpaudit.core.paths import noise_to
from cpaudit.seeding import derive_seed


class ClassifierOracleAttack:
    name = "classifier_oracle"
    title = "random-label classifier as an oracle"
    target: AttackTarget = "classifier"

    def scores(self, ctx: AttackContext, denoiser: Denoiser | None) -> AttackScores:
        assert (
            denoiser is not None
            and denoiser.logit_fn is not None
            and ctx.members is not None
            and ctx.holdout is not None
        )
        ctx.step("classifier oracle")
        logit_fn = denoiser.logit_fn
        shape = tuple(ctx.members.shape[1:])

        def scorer(role: str):
            def score(x: torch.Tensor, idx: range) -> torch.Tensor:
                rows = []
                for t in ctx.mia_t:
                    eps = image_noise(derive_seed(ctx.seed, f"oracle-{t}-{role}"), idx, 1, shape)[0].to(x.device)
                    tt = denoiser.path.times(t, x.shape[0], x.device)
                    rows.append(logit_fn(noise_to(x, eps, *denoiser.path.at(t)), tt).abs())
                return torch.stack(rows)

            return score

        pos = score_images(ctx.members, scorer("members"), denoiser.device)
        neg = score_images(ctx.holdout, scorer("holdout"), denoiser.device)
        return AttackScores([f"t={t}" for t in ctx.mia_t], pos, neg, queries_per_image=len(ctx.mia_t))
