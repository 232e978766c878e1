"""Build the classifier logit function p(y=1 | x_t, t) that CPSample guidance needs for a model."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cpaudit.core.posterior import exact_logit
from cpaudit.errors import InputError
from cpaudit.data.members import data_and_split_of
from cpaudit.models.load import LoadedModel, load_classifier
from cpaudit.sampling.protection import LogitFn
from cpaudit.train.random_labels import label_seed_for, random_labels


def exact_logit_fn(model: LoadedModel, label_seed: int | None = None, device: torch.device | str = "cpu") -> tuple[LogitFn, dict]:
    """The Gaussian-mixture posterior over the model's own members (the model owner has them), on `device`."""
    if model.data_fingerprint is None:
        raise InputError(model.folder, "records no training data (a model trained elsewhere); --classifier exact needs a "
                         "cpaudit model: train a classifier with `cpaudit train-classifier DATA --model` and pass its folder")
    data, split = data_and_split_of(model.folder, model.config)
    seed = label_seed_for(int(model.config.get("seed", 0)), label_seed)
    # In the model's own space: a latent model's members are their latents (the codec's posterior mean).
    members = model.codec.to(device).encode(data.take(split.member_idx).to(device)).to(device)
    labels = random_labels(len(members), seed).to(device)
    abar = model.schedule.alphas_cumprod().to(device)

    def logit_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return exact_logit(x_t, members, labels, abar[t])

    return logit_fn, {"classifier": "exact", "label_seed": seed, "n_members": len(members)}


def learned_logit_fn(model: LoadedModel, folder: Path, device: torch.device | str = "cpu") -> tuple[LogitFn, dict]:
    """A trained random-label classifier; refuses one trained for other data, members or schedule."""
    clf = load_classifier(folder)
    cfg_path = Path(folder) / "config.json"
    # A diffusers model records no data; then the classifier's members are the user's word (its split.json).
    if model.data_fingerprint is not None and clf.config["data_fingerprint"] != model.data_fingerprint:
        raise InputError(cfg_path, "classifier was trained on other data than the model (data fingerprint differs)")
    if clf.schedule != model.schedule:
        raise InputError(cfg_path, f"classifier schedule {clf.schedule} differs from the model's {model.schedule}")
    if tuple(clf.config["image_shape"]) != model.space_shape:
        raise InputError(cfg_path, f"classifier input shape {clf.config['image_shape']} differs from the model's {list(model.space_shape)} "
                         "(a latent model's classifier reads its latents: train it with --model)")
    try:
        model_members = {r["id"] for r in json.loads((model.folder / "split.json").read_text())["members"]}
    except (OSError, ValueError, KeyError, TypeError):
        model_members = None
    if model_members is not None and set(clf.labels) != model_members:
        raise InputError(Path(folder) / "labels.json", "classifier was trained on other members than the model's split.json")
    net = clf.model.to(device)
    return (lambda x_t, t: net(x_t, t)), {"classifier": str(folder), "label_seed": clf.config.get("label_seed")}


def resolve_guide(model: LoadedModel, classifier: str, label_seed: int | None = None,
                  device: torch.device | str = "cpu") -> tuple[LogitFn, dict]:
    """'exact' -> the exact posterior over the model's members; otherwise a classifier folder."""
    if classifier == "exact":
        return exact_logit_fn(model, label_seed, device)
    return learned_logit_fn(model, Path(classifier), device)
