"""The audit's options, declared once: the Python API's keyword arguments, the command line's flags and the config
file's keys are all read from this dataclass (cpaudit/options.py derives them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpaudit.auditing.policy import DEFAULT_POLICY, Policy
from cpaudit.auditing.samples import SampleSet
from cpaudit.data.imageset import ImageSet
from cpaudit.similarity.neighbours import SearchMethod

DEFAULT_MIA_TS: tuple[int, ...] = (50, 100, 200, 350, 500)


@dataclass(frozen=True)
class AuditOptions:
    samples: Path | SampleSet  # a samples folder, or samples already in memory (the Python API)
    out: Path | None  # None: write nothing, return the results (the Python API)
    # Which images were trained on: DATA with split.json, split.json alone (it names its data), or a pair of
    # sources (folders, .npz files, metadata.jsonl listings) of members and held-out images.
    data: str | None = None
    split: Path | None = None
    members: str | Path | ImageSet | None = None
    holdout: str | Path | ImageSet | None = None
    resize: tuple[int, int] | None = None  # read the data's images at this (H, W); samples are resized to it too
    model: Path | None = None
    classifier: str | None = None  # folder or "exact": also attack the protected denoiser
    features: str = "pixel"
    threshold: float | None = None  # default per embedding (0.97 for pixel)
    k: int = 5
    permutations: int = 1000
    mia_t: tuple[int, ...] = DEFAULT_MIA_TS
    mia_draws: int = 8
    mia_members: int = 10_000  # members attacked: all up to this many, else a seeded random subset
    mia_holdout: int | None = None  # held-out images for the attack; default = number of members attacked
    alpha: float | None = None  # protection settings for the protected attack; default: the samples' run.json
    scale: float | None = None
    seed: int = 0
    # Gates: by default, fail on evidence of leakage under the released threat model (auditing/policy.py).
    policy: Policy = DEFAULT_POLICY
    report_only: bool = False  # measure and report, gate nothing (the verdict says so)
    cache_dir: Path | None = None
    search: SearchMethod = "auto"  # nearest-neighbour search: exact below IVF_MIN_REFERENCES, else IVF
    device: str = "auto"  # for the denoiser, classifier and feature network (see device.py)
    release: str = "samples"  # what is deployed: samples | sampler | weights
    junit: Path | None = None  # also write the gates as JUnit XML here
    # Training images in the report (pairs figure, audit_data.npz): a report is shared, the data may be
    # private. auto = show for the bundled digits, hide for anything else.
    member_images: str = "auto"  # auto | show | blur | hide
    baseline: Path | None = None  # a stored results.json: fail where a gated figure is worse beyond its interval
    attack_nulls: int = 200  # relabellings for each attack's chance band and p-value
    prompts: Path | None = None  # text-to-image: prompts to screen with the memorisation detector (one per line)
