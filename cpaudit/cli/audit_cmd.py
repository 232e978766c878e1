"""`cpaudit audit`."""

from __future__ import annotations

from pathlib import Path

import typer
from typer._click.core import ParameterSource

from cpaudit.auditing.engine.options import DEFAULT_MIA_TS
from cpaudit.cli.common import console, info, print_json, progress_bar, state, user_errors
from cpaudit.cli.options import Device, Quiet, number_list
from cpaudit.config import find_config, read_config
from cpaudit.errors import InputError
from cpaudit.pipelines.audit import audit
from cpaudit.pipelines.audit_settings import audit_options


def audit_cmd(
    ctx: typer.Context,
    samples: Path = typer.Option(..., "--samples", help="Samples folder (samples.npz, or images)."),
    data: str | None = typer.Option(
        None,
        "--data",
        help="The images the split names ('digits', an image folder, an "
        ".npz, a metadata.jsonl listing, CIFAR-10 batches) [default: the data split.json names].",
    ),
    split: Path | None = typer.Option(
        None,
        "--split",
        help="split.json naming the members and the held-out images "
        "(cpaudit split writes one from your folders or a listing).",
    ),
    members: str | None = typer.Option(
        None,
        "--members",
        help="Instead of --data/--split: the training images (a folder, an .npz or a metadata.jsonl listing).",
    ),
    holdout: str | None = typer.Option(
        None,
        "--holdout",
        help="With --members: images of the same kind the model never saw (folder, .npz or metadata.jsonl listing).",
    ),
    resize: str | None = typer.Option(
        None, "--resize", metavar="HxW", help="Read the images at this size (and resize the samples to it), e.g. 32x32."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for results.json and the reports [required unless the config file sets it]."
    ),
    model: Path | None = typer.Option(None, "--model", help="Model folder: run membership inference on its denoiser."),
    classifier: str | None = typer.Option(
        None, "--classifier", help="Classifier folder or 'exact': also attack the protected denoiser."
    ),
    features: str = typer.Option(
        "pixel",
        "--features",
        help="Embedding for replication and FID: pixel | "
        "inception[:WEIGHTS] | timm:NAME[:WEIGHTS] | torchscript:PATH (a copy-detection model such as SSCD) | latent:PIPELINE (a latent model's autoencoder).",
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=-1.0,
        max=1.0,
        help="Replica similarity threshold [default: the embedding's, 0.97 for pixel].",
    ),
    search: str = typer.Option(
        "auto",
        "--search",
        metavar="auto|exact|ivf",
        help="Nearest-neighbour search: auto (exact below 300,000 members, else IVF with its recall reported) | exact | ivf.",
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Folder for cached network features and the members' memory-mapped embeddings (default: a temporary folder).",
    ),
    permutations: int = typer.Option(
        1000,
        "--permutations",
        min=1,
        max=1_000_000,
        help="Relabellings of the permutation test (samples nearer members than held-out images).",
    ),
    mia_t: str = typer.Option(
        ",".join(map(str, DEFAULT_MIA_TS)),
        "--mia-t",
        help="Diffusion timesteps at which every model-based membership attack queries the denoiser.",
    ),
    mia_draws: int = typer.Option(
        8, "--mia-draws", min=1, max=1000, help="Noise draws per image and timestep in the model-based attacks."
    ),
    mia_members: int = typer.Option(
        10_000,
        "--mia-members",
        min=2,
        help="Members the attacks score: all up to this many, else a seeded random subset (and as many held-out images).",
    ),
    alpha: float | None = typer.Option(
        None,
        "--alpha",
        min=0.0,
        max=0.5,
        help="Protection alpha for the protected attack (default: the samples' run.json).",
    ),
    scale: float | None = typer.Option(
        None,
        "--scale",
        min=0.0,
        max=1e9,
        help="Protection scale for the protected attack (default: the samples' run.json).",
    ),
    seed: int = typer.Option(
        0, "--seed", min=0, max=2**63 - 1, help="Seed of the audit's own draws (attack noise, relabellings, subsets)."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="cpaudit.toml, or pyproject.toml with [tool.cpaudit]: any "
        "option and a policy table (default: ./cpaudit.toml, else ./pyproject.toml's [tool.cpaudit]).",
    ),
    max_replica_rate: float | None = typer.Option(
        None, "--max-replica-rate", min=0.0, max=1.0, help="Fail when more than this fraction of samples are replicas."
    ),
    max_mia_auc: float | None = typer.Option(
        None,
        "--max-mia-auc",
        min=0.0,
        max=1.0,
        help="Fail when the released threat model's strongest attack (selection-adjusted) has a higher AUC.",
    ),
    min_permutation_p: float | None = typer.Option(
        None, "--min-permutation-p", min=0.0, max=1.0, help="Fail when the permutation test's p-value is below this."
    ),
    replica_excess_level: float | None = typer.Option(
        None,
        "--replica-excess-level",
        min=0.0,
        max=1.0,
        help="Fail when training images have a sample at the replica threshold more often than held-out images do, at this "
        "level (one-sided Fisher exact test; on a text audit shared in half with prompted extraction) [default: 0.025; "
        "0 switches it off].",
        show_default=False,
    ),
    mia_excess_level: float | None = typer.Option(
        None,
        "--mia-excess-level",
        min=0.0,
        max=1.0,
        help="Fail when the released threat model's strongest attack, selection-adjusted, beats chance at this level "
        "[default: 0.025; 0 switches it off].",
        show_default=False,
    ),
    report_only: bool = typer.Option(
        False,
        "--report-only",
        help="Measure and report, gate nothing (exit 0 unless the input is bad). "
        "Without it the default gates apply, at levels summing to 0.05: training images reached above the "
        "held-out base rate (Fisher, 0.025) and the strongest attack above its chance band (0.025).",
    ),
    release: str = typer.Option(
        "samples",
        "--release",
        metavar="samples|sampler|weights",
        help="What is deployed: samples (only generated images are published) | "
        "sampler (the deployed denoiser can be queried) | weights (the model file is released). "
        "Gates and the verdict apply to it and to every weaker threat model.",
    ),
    attack_nulls: int = typer.Option(
        200, "--attack-nulls", min=19, max=100_000, help="Relabellings for each attack's chance band and p-value."
    ),
    member_images: str = typer.Option(
        "auto",
        "--member-images",
        metavar="auto|show|blur|hide",
        help="Training images in the report: show | blur | hide "
        "[default: auto, show for the bundled digits and hide for your data].",
    ),
    baseline: Path | None = typer.Option(
        None,
        "--baseline",
        help="A stored results.json: fail where the replica rate or the "
        "strongest attack's membership AUC rose against that run's, beyond both runs' sampling noise (one-sided "
        "two-sample tests at 0.025: Fisher's exact test on the replica counts, a z-test on the AUC difference; "
        "a privacy regression test).",
    ),
    prompts: Path | None = typer.Option(
        None,
        "--prompts",
        help="Text-to-image models, with --model: prompts to screen "
        "with the memorisation detector (one per line, or a metadata.jsonl); the flagged ones are listed.",
    ),
    junit: Path | None = typer.Option(
        None, "--junit", help="Also write the policy gates as JUnit XML (one test case per gate) to this file."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print results.json to stdout."),
    device: str = Device,
    quiet: bool = Quiet,
) -> None:
    """Audit samples for replication and a model for membership leakage; exit 1 if a policy gate fails.

    Example: cpaudit audit --samples runs/plain --split runs/model/split.json --model runs/model --out runs/audit
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        given = {
            name: value
            for name, value in ctx.params.items()
            if ctx.get_parameter_source(name) != ParameterSource.DEFAULT and name not in ("json_out", "quiet", "config")
        }
        if "mia_t" in given:
            given["mia_t"] = number_list(mia_t, "--mia-t")
        path = config if config is not None else find_config()
        opts = audit_options(given, read_config(path) if path is not None else None)
        if opts.out is None:
            raise InputError(
                "--out", "give the folder for results.json and the reports (or set out in the config file)"
            )
        with progress_bar("audit") as advance:
            result = audit(opts, progress=lambda stage: advance(description=f"audit: {stage}"))
    r = result.results
    if json_out:
        print_json(r)
    nn = r["nn"]
    info(
        f"replicas: {nn['replicas']}/{nn['n_samples']} = {nn['replica_rate']:.1%} "
        f"(95% CI {nn['replica_rate_ci95'][0]:.1%}-{nn['replica_rate_ci95'][1]:.1%}) at similarity >= {nn['threshold']}; "
        f"training images reached {nn['members_reached']}/{nn['n_members_reached_of']}, held-out images "
        f"{nn['holdout_reached']}/{nn['n_holdout_reached_of']} (excess p = {nn['reach_excess_p']:.3g})"
    )
    search = nn.get("search") or {}
    if search.get("method") == "ivf":
        info(
            f"nearest neighbours by IVF ({search['nlist']} lists, {search['nprobe']} probed): recall@1 "
            f"{search['recall_at_1']:.3f} against exact search on {search['recall_queries']} queries"
        )
    info(
        f"permutation test: p = {r['permutation']['p_value']:.4g}; {r['quality']['features']} FID {r['quality']['fid']:.3f}"
    )
    for a in r["attacks"].values():
        lo, hi = a["auc_ci95"]
        blo, bhi = a["chance_band95"]
        info(
            f"{a['threat_model']:8s} {a['title']}: AUC {a['auc']:.3f} (95% CI {lo:.3f}-{hi:.3f}, chance {blo:.3f}-{bhi:.3f}), "
            f"one-run epsilon >= {a['epsilon_lb']:.2f}" + ("" if a["deployed"] else "  [not deployed]")
        )
    for tm, t in r["threat_models"].items():
        h = t["strongest"]
        if h is not None:
            info(
                f"{tm:8s} strongest attack, selection-adjusted: AUC {h['auc']:.3f} (95% CI {h['auc_ci95'][0]:.3f}-"
                f"{h['auc_ci95'][1]:.3f}, chance {h['chance_band95'][0]:.3f}-{h['chance_band95'][1]:.3f}, p = {h['p_value']:.3g})"
                + ("" if t["deployed"] else "  [not deployed]")
            )
    for p in (r.get("detector") or {}).get("prompts") or []:
        if p["flagged"]:
            info(f"memorisation detector flags the prompt: {p['prompt']} (score {p['score']:.3f})")
    info(r["verdict"])
    info(f"-> {result.out / 'results.json'}")
    if not result.passed:
        for failure in r["policy"]["failures"]:
            console.print(f"[red]FAILED[/red] {failure}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
