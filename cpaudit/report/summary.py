"""The report's first section, for a privacy officer: what was tested, what someone with each kind of access
could do, and what to do next, in plain words; and the last, which explains the statistical terms."""

from __future__ import annotations

import shlex

from cpaudit.core.threat_models import RELEASE_WORDS, THREAT_MODELS, in_scope
from cpaudit.report.document import Item, Para, Section, Table
from cpaudit.report.legacy import headline
from cpaudit.report.numbers import odds, pct

ACCESS = {
    "samples": "Someone who sees only the published images",
    "sampler": "Someone who can query the deployed sampler",
    "weights": "Someone who has the model file",
}


def summary_section(results: dict) -> Section:
    setup, nn = results.get("setup", {}), results["nn"]
    release = results.get("release", "samples")
    tested = (
        f"{nn['n_samples']} generated images were compared with the {setup.get('n_members')} training images and "
        f"with {setup.get('n_holdout')} images of the same kind the model never saw"
        + (
            ", and the model itself was attacked for signs of which images it was trained on."
            if setup.get("model")
            else "; the model itself was not examined (no model was given)."
        )
    )
    rows = [
        [ACCESS[tm], _could(results, tm), "yes (released)" if in_scope(tm, release) else "no"]
        for tm in THREAT_MODELS
        if tm in (results.get("threat_models") or {})
    ]
    items: list[Item] = [
        Para("What was tested: " + tested),
        Table(["who", "what they could do", "in scope of this release"], rows),
        Para("What to do next: " + _next_step(results)),
    ]
    return Section("Summary", items)


def _could(results: dict, tm: str) -> str:
    nn = results["nn"]
    parts = []
    if tm == "samples":
        copies, (lo, hi) = nn["replicas"], nn["replica_rate_ci95"] or (None, None)
        base = nn.get("holdout_over_threshold")
        found = f"find {copies} near-cop{'y' if copies == 1 else 'ies'} of training images among {nn['n_samples']} published images"
        if lo is not None:
            found += f" ({pct(nn['replica_rate'])}, 95% interval {pct(lo)}-{pct(hi)})"
        if "members_reached" in nn:  # schema 5: the replica gate's unit, the image reached
            found += (
                f", reaching {nn['members_reached']} of {nn['n_members_reached_of']} training images; samples come as "
                f"close to {nn['holdout_reached']} of {nn['n_holdout_reached_of']} unseen images"
            )
        elif base is not None:
            found += f"; unseen images come as close {base} times in {nn.get('n_holdout')}"
        parts.append(found)
        ext = (results.get("prompted_extraction") or {}).get("captions")
        if ext:
            parts.append(
                f"by prompting with training captions, reproduce {ext['member_captions_extracted']} of "
                f"{ext['n_member_captions']} training images (with captions of unseen images: "
                f"{ext['holdout_captions_extracted']} of {ext['n_holdout_captions']})"
            )
    head = headline(results, tm)  # a schema-2 file's largest single attack stands in for the strongest
    if head is None:
        parts.append("not measured: no attack of this kind was run")
    else:
        lo, hi = head["chance_band95"]
        c_lo, c_hi = head["auc_ci95"]
        beyond = head["auc"] > hi
        parts.append(
            f"tell training images from unseen ones {_odds(head['auc'])} (AUC {head['auc']:.2f}, 95% interval "
            f"{c_lo:.2f}-{c_hi:.2f}{_strongest_words(head)}; guessing scores {lo:.2f}-{hi:.2f} at these sizes)"
            f"{'' if beyond else ', no better than guessing'}"
        )
    return "; ".join(parts)


def _strongest_words(head: dict) -> str:
    """What each interval covers (issue 36): auc_ci95 the attack chosen on one half and scored on the other,
    strongest_auc_ci95 the strongest attack tried. Results written before strongest_auc_ci95 read as they did;
    a schema-2 file's figure is one attack's, the largest, and says so."""
    if "key" in head:  # core.threat_models.headline's stand-in for a schema-2 file
        return ", the largest single attack's, not selection-adjusted"
    if "strongest_auc_ci95" not in head:
        return ""
    s_lo, s_hi = head["strongest_auc_ci95"]
    return (
        f", for the attack chosen on half of the images and scored on the other half; the strongest attack "
        f"tried reaches AUC {s_lo:.2f}-{s_hi:.2f}, 95% interval on all images"
    )


def _odds(auc: float) -> str:
    """An AUC as the chance of ranking a random training image above a random unseen one."""
    return odds(auc)


def _next_step(results: dict) -> str:
    pol = results.get("policy") or {}
    release = results.get("release", "samples")
    if pol.get("failures"):
        sample, audit = protect_commands(results)
        return (
            f"do not release as planned ({RELEASE_WORDS[release].lower()}, a gate failed). Protect sampling "
            f"(`{sample}`) and audit those samples (`{audit}`), retrain with differential privacy, or release less "
            "(samples rather than the sampler or the weights), then audit again."
        )
    if pol.get("report_only") or not pol.get("gates"):
        return "no gate was applied: decide on the figures above, or run the audit with gates (without --report-only)."
    return (
        "the release passed its gates. Keep this results.json as a baseline (--baseline) so that a later model is "
        "held to it, and audit again whenever the model, the data or the sampler changes."
    )


# A placeholder a printed command holds where the audit does not know the value: the model, when no model was
# given and the samples carry no run.json; the members, when they were images in memory (the Python API).
MODEL, MEMBERS, HOLDOUT = "MODEL", "MEMBERS", "HOLDOUT"


def protect_commands(results: dict) -> tuple[str, str]:
    """The commands that protect this audit's sampling and audit the result, as the user runs them: the same
    model and members (--split, with --data where the split's data is a source one can name, or --members and
    --holdout), the same sampler (steps, and n for unprompted models), prompted with the split's captions
    (--extraction) for a text-to-image model, and the same release. The exact posterior reads the members from
    the same options, so a model trained elsewhere needs nothing else."""
    setup = results.get("setup") or {}
    run = setup.get("sample_run") or {}
    model = setup.get("model") or run.get("model") or MODEL
    members: list[str] = []
    if setup.get("split"):
        members = ["--split", setup["split"]]
        data = setup.get("data")
        if isinstance(data, str) and data and not data.startswith("members=") and "in memory" not in data:
            members += ["--data", data]
    elif setup.get("members") and setup.get("holdout"):
        members = ["--members", _path_or(setup["members"], MEMBERS), "--holdout", _path_or(setup["holdout"], HOLDOUT)]
        if setup.get("resize"):
            members += ["--resize", "x".join(str(v) for v in setup["resize"])]
    else:
        members = ["--members", MEMBERS, "--holdout", HOLDOUT]
    samples = str(setup.get("samples") or "")
    out = samples.rstrip("/") + "-protected" if samples and not samples.startswith("<") else "runs/protected"
    sampler: list[str] = []
    if run.get("conditioning") == "text":
        sampler.append("--extraction")
    elif isinstance(run.get("n"), int):
        sampler += ["--n", str(run["n"])]
    for label in _class_labels(run, (setup.get("model_config") or {}).get("num_classes")):
        sampler += ["--class-label", str(label)]
    steps = (run.get("sampler") or {}).get("steps")
    if isinstance(steps, int):
        sampler += ["--steps", str(steps)]
    sample = ["cpaudit", "sample", "--model", model, *sampler, *members, "--protect", "--out", out]
    release = results.get("release", "samples")
    audit = [
        "cpaudit",
        "audit",
        "--samples",
        out,
        *members,
        *(["--model", model] if setup.get("model") else []),
        *(["--release", release] if release != "samples" else []),
        "--out",
        out + "-audit",
    ]
    return shlex.join(sample), shlex.join(audit)


def _class_labels(run: dict, num_classes: int | None) -> list[int]:
    """The classes a class-conditional run drew, in the order it cycled through them; none where it drew every
    class in order (sample's default without --class-label), or was not class-conditional."""
    of_seed = (run.get("conditions") or {}).get("class_of_seed") or {}
    labels = list(dict.fromkeys(of_seed[k] for k in sorted(of_seed, key=int)))
    return [] if labels == list(range(num_classes or 0)) else labels


def _path_or(source: str, placeholder: str) -> str:
    """A source results.json names: its path, or the placeholder where it was images in memory."""
    return placeholder if "in memory" in source else source


GLOSSARY = [
    ["AUC", "How well an attack ranks training images above unseen ones: 0.5 is guessing, 1.0 is always right."],
    [
        "chance band",
        "The AUCs pure guessing reaches with these numbers of images (95% of relabelled runs fall inside).",
    ],
    [
        "95% interval (Wilson, Clopper-Pearson, bootstrap)",
        "The range the true rate or AUC lies in, 19 times in 20; "
        "Wilson and Clopper-Pearson are the standard intervals for a proportion, the bootstrap resamples the images.",
    ],
    [
        "Fisher exact test",
        "Whether training images have a sample at the replica threshold more often than unseen images "
        "do (the unit is the image, so a sampler that repeats a few images cannot fake it); a small p (below the gate's "
        "level) says they do.",
    ],
    [
        "cross-fitted",
        "An attack's settings (its variant, and the sign of its score: sign flipped = lower scores mean "
        "member) are chosen on one half of the images and scored on the other, so the figure is not flattered by the choice.",
    ],
    [
        "selection-adjusted",
        "The strongest of several attacks, with its chance band widened for having picked the best.",
    ],
    [
        "one-run epsilon",
        "A lower bound on the differential-privacy epsilon this single training run can have (Steinke et al. 2023).",
    ],
    ["threat model", "What an attacker has: published samples only, queries to the sampler, or the model weights."],
]


def glossary_section() -> Section:
    return Section("How to read this report", [Table(["term", "meaning"], GLOSSARY)], collapsed=True)
