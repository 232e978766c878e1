"""`cpaudit train-diffusion` and `cpaudit train-classifier`: the options TrainDiffusionRequest and
TrainClassifierRequest declare (pipelines/train_request.py, classifier_request.py), trained by the library; this
module wires them to the command line and prints."""

from __future__ import annotations

from typing import Any

from cpaudit.cli.common import info, progress_bar, state, user_errors
from cpaudit.cli.options import QUIET
from cpaudit.options import command_with_arguments, resolve
from cpaudit.pipelines.classifier_request import TrainClassifierRequest, classifier_options
from cpaudit.pipelines.train_classes import TrainClassesResult
from cpaudit.pipelines.train_classifier import train_classifier
from cpaudit.pipelines.train_request import TrainDiffusionRequest, TrainResult, train_model
from cpaudit.pipelines.train_text import TrainTextResult
from cpaudit.train.dp import dp_summary

TRAIN_DIFFUSION_DOC = """Train a DDPM denoiser on a member subset of DATA (optionally with differential privacy), or a small
text-to-image (--text) or class-conditional (--classes) model.

Example: cpaudit train-diffusion digits --out runs/model --n-members 64 --steps 4000

Example: cpaudit train-diffusion digits --out runs/dp --dp --epsilon 10 --delta 1e-3

Example: cpaudit train-diffusion captioned-digits --text --out runs/sd

Example: cpaudit train-diffusion captioned-digits --text --arch sdxl --out runs/sdxl

Example: cpaudit train-diffusion captioned-digits --text --arch flux --out runs/flux
"""

TRAIN_CLASSIFIER_DOC = """Train CPSample's random-label classifier p(y | x_t, t) on the members.

Example: cpaudit train-classifier digits --model runs/model --out runs/classifier

Example: cpaudit train-classifier --model sd-finetune --split split.json --out runs/classifier   # a model trained elsewhere
"""

TEXT_NETWORKS = {
    "sd": "SD-architecture UNet",
    "sdxl": "SDXL-architecture UNet",
    "sd3": "SD3-architecture transformer",
    "flux": "FLUX-architecture transformer",
}


def _train_diffusion(given: dict[str, Any], quiet: bool) -> None:
    state.quiet = state.quiet or quiet
    with user_errors():
        req = resolve(TrainDiffusionRequest, given)
        with progress_bar("train diffusion steps") as advance:
            result = train_model(req, lambda stage, s, n, m: advance(s, n, m, description=f"{stage} steps"))
    print_trained(req, result)


def print_trained(req: TrainDiffusionRequest, result: TrainResult) -> None:
    """One line on what was trained, and the privacy spent under --dp."""
    if isinstance(result, TrainTextResult):
        info(
            f"trained a {result.n_parameters:,}-parameter {TEXT_NETWORKS.get(req.arch, req.arch)} on "
            f"{result.n_members} captioned members in {result.seconds:.0f} s (autoencoder {result.vae_source}) "
            f"-> {result.out}"
        )
    elif isinstance(result, TrainClassesResult):
        info(
            f"trained a {result.n_parameters:,}-parameter class-conditional UNet ({result.n_classes} classes) on "
            f"{result.n_members} members in {result.seconds:.0f} s -> {result.out}"
        )
    else:
        info(
            f"trained {result.n_parameters:,} parameters on {result.n_members} members for {result.steps} steps "
            f"in {result.seconds:.0f} s -> {result.out}"
        )
        if result.dp is not None:
            info(dp_summary(result.dp))


def _train_classifier(given: dict[str, Any], quiet: bool) -> None:
    state.quiet = state.quiet or quiet
    with user_errors():
        opts = classifier_options(resolve(TrainClassifierRequest, given))
        with progress_bar("train classifier steps", opts.train.steps) as advance:
            result = train_classifier(opts, progress=advance)
    acc = result.accuracy
    info(f"trained for {result.steps} steps in {result.seconds:.0f} s -> {result.out}")
    info(
        "member accuracy by t (learned / Bayes-optimal): "
        + ", ".join(f"t={t}: {a:.3f} / {b:.3f}" for t, a, b in zip(acc.t, acc.learned, acc.bayes))
    )


train_diffusion_cmd = command_with_arguments(
    TrainDiffusionRequest, _train_diffusion, arguments=("data",), extra=QUIET, doc=TRAIN_DIFFUSION_DOC
)
train_classifier_cmd = command_with_arguments(
    TrainClassifierRequest, _train_classifier, arguments=("data",), extra=QUIET, doc=TRAIN_CLASSIFIER_DOC
)
