"""Fit p_phi(y | x_t, t) to random member labels on noised inputs at uniform t (CPSample, Kazdan et al.
2025), until it overfits; report member accuracy beside the Bayes-optimal accuracy at fixed t."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cpaudit.core.flow import FlowSchedule
from cpaudit.core.paths import GaussianPath, noise_to
from cpaudit.core.posterior import exact_logit
from cpaudit.core.schedules import Schedule
from cpaudit.distributed import World, sum_gradients
from cpaudit.models.classifier import TimeClassifier

EVAL_TS: tuple[int, ...] = (50, 150, 300, 600)
Progress = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class ClassifierTrainConfig:
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-3
    eval_every: int = 500
    eval_draws: int = 8  # noise draws per member when measuring accuracy
    early_stop_gap: float = 0.02  # stop once accuracy is within this of the Bayes limit at every eval t


@dataclass
class AccuracyTable:
    t: list[int]
    learned: list[float]
    bayes: list[float]

    def to_dict(self) -> dict:
        return {"t": self.t, "learned": self.learned, "bayes": self.bayes}


@torch.no_grad()
def accuracy_vs_bayes(
    model: TimeClassifier | None,
    members: torch.Tensor,
    labels: torch.Tensor,
    path: GaussianPath,
    ts: tuple[int, ...],
    draws: int,
    gen: torch.Generator,
) -> AccuracyTable:
    """Member accuracy of `model` and of the exact posterior on the same noised inputs (paired).

    Computes on the device of `members`; the noise comes from the CPU generator `gen`.
    """
    learned, bayes = [], []
    x0 = members.repeat(draws, 1, 1, 1)
    y = labels.repeat(draws)
    for t in ts:
        eps = torch.randn(x0.shape, generator=gen).to(x0.device)
        alpha, sigma = path.at(t)
        x_t = noise_to(x0, eps, alpha, sigma)
        bayes.append(float(((exact_logit(x_t, members, labels, alpha, sigma) > 0).long() == y).float().mean()))
        if model is not None:
            tt = path.times(t, x0.shape[0], x0.device)
            learned.append(float(((model(x_t, tt) > 0).long() == y).float().mean()))
    return AccuracyTable(list(ts), learned, bayes)


def train_random_label_classifier(
    model: TimeClassifier,
    members: torch.Tensor,
    labels: torch.Tensor,
    schedule: Schedule | FlowSchedule,
    cfg: ClassifierTrainConfig,
    gen: torch.Generator,
    eval_gen_seed: int,
    *,
    progress: Progress | None = None,
    world: World = World(),
    device: torch.device | str = "cpu",
) -> tuple[TimeClassifier, int, AccuracyTable]:
    """Binary cross-entropy on x_t = alpha_t x_i + sigma_t eps, t ~ U{0..T-1} on the model's own path
    (`schedule.path()`: sqrt(abar_t) and sqrt(1 - abar_t) on a VP schedule).

    Across ranks every process draws the whole batch from the same generator and back-propagates only its
    own rows, scaled by 1/batch_size; summing the gradients gives the one-process gradient. The draws come
    from the CPU generator `gen` and move to `device`, where the model, members and labels are put.
    """
    model = model.to(device)
    members, labels = members.to(device), labels.to(device)
    path = schedule.path()
    alpha, sigma = path.alpha.float().to(device), path.sigma.float().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    m = members.shape[0]
    table = AccuracyTable(list(EVAL_TS), [], [])
    step, correct, seen = 0, 0.0, 0
    while step < cfg.steps:
        model.train()
        idx = torch.randint(m, (cfg.batch_size,), generator=gen)
        t = torch.randint(schedule.T, (cfg.batch_size,), generator=gen)
        eps = torch.randn((cfg.batch_size, *members.shape[1:]), generator=gen)
        rows = world.shard(cfg.batch_size)
        idx, t, eps = idx[rows].to(device), t[rows].to(device), eps[rows].to(device)
        logit = model(noise_to(members[idx], eps, alpha[t], sigma[t]), path.time_inputs(t))  # 1000 sigma on a flow
        loss = F.binary_cross_entropy_with_logits(logit, labels[idx].float(), reduction="sum") / cfg.batch_size
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sum_gradients(model, world)
        opt.step()
        step += 1
        correct += float(((logit.detach() > 0).long() == labels[idx]).float().sum())
        seen += len(idx)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            model.eval()
            # The same evaluation noise at every check, so successive tables are comparable.
            eval_gen = torch.Generator().manual_seed(eval_gen_seed)
            table = accuracy_vs_bayes(model, members, labels, path, EVAL_TS, cfg.eval_draws, eval_gen)
            if all(b - a <= cfg.early_stop_gap for a, b in zip(table.learned, table.bayes)):
                break
        if progress is not None:
            shown = float(loss.detach()) * cfg.batch_size / max(len(idx), 1)  # this rank's mean loss
            progress(step, cfg.steps, {"loss": shown, "acc": correct / max(seen, 1)})
            if step % 50 == 0:
                correct, seen = 0.0, 0
    model.eval()
    return model, step, table
