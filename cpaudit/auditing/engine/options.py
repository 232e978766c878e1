"""The audit's options, declared once: the Python API's keyword arguments, the command line's flags and the config
file's keys are all read from this dataclass (cpaudit/options.py derives them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cpaudit.auditing.policy import DEFAULT_POLICY, Policy
from cpaudit.auditing.samples import SampleSet
from cpaudit.core.threat_models import THREAT_MODELS
from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import parse_resize
from cpaudit.device import DEVICE_HELP
from cpaudit.options import as_path, comma_joined, int_tuple, option
from cpaudit.similarity.neighbours import SearchMethod

DEFAULT_MIA_TS: tuple[int, ...] = (50, 100, 200, 350, 500)


def _resize(value: object) -> tuple[int, ...] | None:
    """'HxW' from the command line or a config string; (height, width) as given from the API or a config list."""
    if isinstance(value, str):
        return parse_resize(value)
    if not isinstance(value, Iterable):
        raise TypeError(f"{type(value).__name__!r} object is not iterable")  # options.parsed names the flag
    return tuple(value)


def _samples(value: object) -> object:
    return value if isinstance(value, SampleSet) else as_path(value)


def _members_source(value: object) -> object:
    return value if isinstance(value, ImageSet) else str(value)


@dataclass(frozen=True)
class AuditOptions:
    # The samples: a samples folder, or samples already in memory (the Python API's first argument).
    samples: Path | SampleSet = option(
        help="Samples folder (samples.npz, or images).", cli_type=Path, config=False, parse=_samples
    )
    # Which images were trained on: DATA with split.json, split.json alone (it names its data), or a pair of
    # sources (folders, .npz files, metadata.jsonl listings, or images in memory) of members and held-out images.
    data: str | None = option(
        None,
        help="The images the split names ('digits', an image folder, an .npz, a metadata.jsonl listing, CIFAR-10 "
        "batches) [default: the data split.json names].",
    )
    split: Path | None = option(
        None,
        help="split.json naming the members and the held-out images (cpaudit split writes one from your folders or "
        "a listing).",
        parse=as_path,
    )
    members: str | ImageSet | None = option(
        None,
        help="Instead of --data/--split: the training images (a folder, an .npz or a metadata.jsonl listing).",
        cli_type=str | None,
        parse=_members_source,
    )
    holdout: str | ImageSet | None = option(
        None,
        help="With --members: images of the same kind the model never saw (folder, .npz or metadata.jsonl listing).",
        cli_type=str | None,
        parse=_members_source,
    )
    # Read the data's images at this (H, W); the samples are resized to it too.
    resize: tuple[int, int] | None = option(
        None,
        help="Read the images at this size (and resize the samples to it), e.g. 32x32.",
        metavar="HxW",
        cli_type=str | None,
        parse=_resize,
    )
    # None: write nothing, return the results (the Python API); the command line requires it.
    out: Path | None = option(
        None,
        help="Folder for results.json and the reports [required unless the config file sets it].",
        parse=as_path,
    )
    model: Path | None = option(None, help="Model folder: run membership inference on its denoiser.", parse=as_path)
    classifier: str | None = option(None, help="Classifier folder or 'exact': also attack the protected denoiser.")
    features: str = option(
        "pixel",
        help="Embedding for replication and FID: pixel | inception[:WEIGHTS] | timm:NAME[:WEIGHTS] | "
        "torchscript:PATH (a copy-detection model such as SSCD) | latent:PIPELINE (a latent model's autoencoder).",
    )
    threshold: float | None = option(
        None,
        help="Replica similarity threshold [default: the embedding's, 0.97 for pixel].",
        min=-1.0,
        max=1.0,
        parse=float,
    )
    search: SearchMethod = option(
        "auto",
        help="Nearest-neighbour search: auto (exact below 300,000 members, else IVF with its recall reported) | "
        "exact | ivf.",
        metavar="auto|exact|ivf",
        choices=("auto", "exact", "ivf"),
        cli_type=str,
    )
    cache_dir: Path | None = option(
        None,
        help="Folder for cached network features and the members' memory-mapped embeddings (default: a temporary "
        "folder).",
        parse=as_path,
    )
    k: int = option(
        5,
        help="Nearest training images kept per sample (audit_data.npz's sample_nn; the replica figures use the nearest).",
        min=1,
    )
    permutations: int = option(
        1000,
        help="Relabellings of the permutation test (samples nearer members than held-out images).",
        min=1,
        max=1_000_000,
    )
    mia_t: tuple[int, ...] = option(
        DEFAULT_MIA_TS,
        help="Diffusion timesteps at which every model-based membership attack queries the denoiser.",
        cli_type=str,
        parse=int_tuple,
        shown=comma_joined,
    )
    mia_draws: int = option(8, help="Noise draws per image and timestep in the model-based attacks.", min=1, max=1000)
    mia_members: int = option(
        10_000,
        help="Members the attacks score: all up to this many, else a seeded random subset (and as many held-out "
        "images).",
        min=4,
    )
    mia_holdout: int | None = option(
        None,
        help="Held-out images the attacks score [default: as many as the members scored].",
        min=4,
    )
    # Protection settings for the protected attack; default: the samples' run.json.
    alpha: float | None = option(
        None,
        help="Protection alpha for the protected attack (default: the samples' run.json).",
        min=0.0,
        max=0.5,
        parse=float,
    )
    scale: float | None = option(
        None,
        help="Protection scale for the protected attack (default: the samples' run.json).",
        min=0.0,
        max=1e9,
        parse=float,
    )
    seed: int = option(
        0, help="Seed of the audit's own draws (attack noise, relabellings, subsets).", min=0, max=2**63 - 1
    )
    # Gates: by default, fail on evidence of leakage under the released threat model (auditing/policy.py).
    policy: Policy = option(DEFAULT_POLICY, help="The gates.", nested=True)
    report_only: bool = option(
        False,
        help="Measure and report, gate nothing (exit 0 unless the input is bad). Without it the default gates "
        "apply, at levels summing to 0.05: training images reached above the held-out base rate (Fisher, 0.025) "
        "and the strongest attack above its chance band (0.025).",
    )
    release: str = option(
        "samples",
        help="What is deployed: samples (only generated images are published) | sampler (the deployed denoiser "
        "can be queried) | weights (the model file is released). Gates and the verdict apply to it and to every "
        "weaker threat model.",
        metavar="samples|sampler|weights",
        choices=THREAT_MODELS,
    )
    attack_nulls: int = option(200, help="Relabellings for each attack's chance band and p-value.", min=19, max=100_000)
    # Training images in the report (pairs figure, audit_data.npz): a report is shared, the data may be private.
    member_images: str = option(
        "auto",
        help="Training images in the report: show | blur | hide [default: auto, show for the bundled digits and "
        "hide for your data].",
        metavar="auto|show|blur|hide",
        choices=("auto", "show", "blur", "hide"),
    )
    baseline: Path | None = option(
        None,
        help="A stored results.json: fail where the replica rate or the strongest attack's membership AUC rose "
        "against that run's, beyond both runs' sampling noise (one-sided two-sample tests at 0.025: Fisher's exact "
        "test on the replica counts, a z-test on the AUC difference; a privacy regression test).",
        parse=as_path,
    )
    prompts: Path | None = option(
        None,
        help="Text-to-image models, with --model: prompts to screen with the memorisation detector (one per line, "
        "or a metadata.jsonl); the flagged ones are listed.",
        parse=as_path,
    )
    junit: Path | None = option(
        None,
        help="Also write the policy gates as JUnit XML (one test case per gate) to this file.",
        parse=as_path,
    )
    device: str = option("auto", help=DEVICE_HELP)
