"""Build the classifier logit function p(y=1 | x_t, t) that CPSample guidance needs for a model (the logit
function; the Guide that modifies each prediction with it is sampling/sampler.py's)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import torch

from cpaudit.core.paths import GaussianPath
from cpaudit.core.posterior import exact_logit, nearest_member_logit
from cpaudit.data.imageset import ImageSet
from cpaudit.data.members import (
    Membership,
    MemberSource,
    as_member_source,
    membership_given,
    membership_names,
    model_member_ids,
    model_members,
    require_model_shape,
)
from cpaudit.errors import InputError
from cpaudit.models.load import LoadedModel, load_classifier
from cpaudit.sampling.protection import LogitFn
from cpaudit.train.random_labels import label_seed_for, random_labels


@dataclass(frozen=True, eq=False)
class ExactPosterior:
    """The Gaussian-mixture posterior over members as a LogitFn (the random label's logit), which also gives
    its most probable member's logit (member_logit) for the rule away-from-member (core/guidance.py)."""

    members: torch.Tensor  # (M, ...) in the model's own space
    labels: torch.Tensor  # (M,) random labels in {0, 1}
    path: GaussianPath

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # t: the network's time input (on a flow 1000 sigma, so the sampling sigmas off the grid read right)
        return exact_logit(x_t, self.members, self.labels, *self.path.coefficients(t))

    def member_logit(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return nearest_member_logit(x_t, self.members, *self.path.coefficients(t))


def exact_logit_fn(
    model: LoadedModel, label_seed: int | None = None, device: torch.device | str = "cpu", membership: Membership = None
) -> tuple[LogitFn, dict]:
    """The Gaussian-mixture posterior over the model's members, on `device`: the user's (`membership`: a
    split.json or a pair of sources, or images already loaded) where given, else those a cpaudit model records
    (data/members.py, model_members); a model trained elsewhere given none is refused in one line."""
    data, split = model_members(model.folder, model.config, membership)
    require_model_shape(data, model.image_shape, membership_names(membership, data.source))
    seed = label_seed_for(int(model.config.get("seed", 0)), label_seed)
    # In the model's own space: a latent model's members are their latents (the codec's posterior mean).
    members = model.codec.to(device).encode(data.take(split.member_idx).to(device)).to(device)
    labels = random_labels(len(members), seed).to(device)
    logit_fn = ExactPosterior(members, labels, model.path)

    source = as_member_source(membership)
    named = source.to_dict() if isinstance(source, MemberSource) and source.given else None
    return logit_fn, {
        "classifier": "exact",
        "label_seed": seed,
        "n_members": len(members),
        **({"members_from": named} if named is not None else {}),
    }


def learned_logit_fn(
    model: LoadedModel, folder: Path, device: torch.device | str = "cpu", membership: Membership = None
) -> tuple[LogitFn, dict]:
    """A trained random-label classifier; refuses one trained for other data, members or schedule. The
    members it is checked against: the user's (`membership`) where given, else the model folder's split.json;
    a diffusers model given none records no members, and the classifier's own split.json is the user's word."""
    clf = load_classifier(folder)
    cfg_path = Path(folder) / "config.json"
    if model.data_fingerprint is not None and clf.config["data_fingerprint"] != model.data_fingerprint:
        raise InputError(cfg_path, "classifier was trained on other data than the model (data fingerprint differs)")
    if clf.schedule != model.schedule:
        raise InputError(cfg_path, f"classifier schedule {clf.schedule} differs from the model's {model.schedule}")
    if tuple(clf.config["image_shape"]) != model.space_shape:
        raise InputError(
            cfg_path,
            f"classifier input shape {clf.config['image_shape']} differs from the model's "
            f"{list(model.space_shape)} (a latent model's classifier reads its latents: train it with "
            f"`{train_classifier_command(model, membership)}`)",
        )
    model_members_ids = model_member_ids(model.folder, membership)
    if model_members_ids is not None and set(clf.labels) != model_members_ids:
        named = "the split given" if membership_given(membership) else "the model's split.json"
        raise InputError(Path(folder) / "labels.json", f"classifier was trained on other members than {named}")
    net = clf.model.to(device)
    return (lambda x_t, t: net(x_t, t)), {"classifier": str(folder), "label_seed": clf.config.get("label_seed")}


def train_classifier_command(model: LoadedModel, membership: Membership = None) -> str:
    """The train-classifier command for this model's members, as the user types it: the members as given
    (--split, or --members and --holdout), none for a cpaudit model (it records them), else --split SPLIT."""
    args = ["cpaudit", "train-classifier", "--model", str(model.folder)]
    membership = as_member_source(membership)
    if isinstance(membership, MemberSource) and membership.given:
        if membership.split is not None:
            args += [*([str(membership.data)] if membership.data is not None else []), "--split", str(membership.split)]
        else:
            args += [
                "--members",
                _named(membership.members, "MEMBERS"),
                "--holdout",
                _named(membership.holdout, "HOLDOUT"),
            ]
            if membership.resize is not None:
                args += ["--resize", f"{membership.resize[0]}x{membership.resize[1]}"]
    elif model.data_fingerprint is None:
        args += ["--split", "SPLIT"]
    return shlex.join([*args, "--out", "DIR"])


def _named(source: object, placeholder: str) -> str:
    return placeholder if source is None or isinstance(source, ImageSet) else str(source)


def resolve_logit_fn(
    model: LoadedModel,
    classifier: str,
    label_seed: int | None = None,
    device: torch.device | str = "cpu",
    membership: Membership = None,
) -> tuple[LogitFn, dict]:
    """The classifier's logit function CPSample guides with: 'exact' -> the exact posterior over the model's
    members; otherwise a classifier folder. `membership`: which images the model was trained on where the user
    says (data/members.py, model_members). (A Guide is the prediction modifier built on it: sampling/sampler.py.)"""
    if classifier == "exact":
        return exact_logit_fn(model, label_seed, device, membership)
    return learned_logit_fn(model, Path(classifier), device, membership)
