"""results.json's `setup` section: what was audited, against what, with which options."""

from __future__ import annotations

from cpaudit.auditing.engine.stages import AuditRun, described, member_images_mode
from cpaudit.device import describe


def setup_stage(run: AuditRun, _sections: dict) -> dict:
    """`setup`: what was audited, against what, with which options (written first, built last: the attack
    stage names the model's config and the classifier it attacked)."""
    opts, data, split = run.opts, run.data, run.split
    return {
        "setup": {
            "samples": described(opts.samples),
            "data": data.source,
            "data_fingerprint": data.fingerprint(),
            "split": None if opts.split is None else str(opts.split),
            "members": None if opts.members is None else described(opts.members),
            "holdout": None if opts.holdout is None else described(opts.holdout),
            "resize": None if opts.resize is None else list(opts.resize),
            "n_members": int(len(split.member_idx)),
            "n_holdout": int(len(split.holdout_idx)),
            "image_shape": list(data.shape),
            "model": None if opts.model is None else str(opts.model),
            "model_config": run.model_config,
            "classifier": run.classifier,
            "classifier_from_run_json": run.classifier is not None and opts.classifier is None,
            "features": run.spec.label,
            "features_pretrained": run.spec.pretrained,
            "member_images": member_images_mode(run),
            "seed": opts.seed,
            "device": describe(run.device),
            "options": options_section(run),
            "sample_run": run.samples.run and {k: v for k, v in run.samples.run.items() if k != "fired_steps"},
        }
    }


def options_section(run: AuditRun) -> dict:
    """`setup.options`: the audit options that change a figure."""
    opts = run.opts
    return {
        "report_only": opts.report_only,
        "search": opts.search,
        "k": opts.k,
        "permutations": opts.permutations,
        "mia_t": list(opts.mia_t),
        "mia_draws": opts.mia_draws,
        "mia_members": opts.mia_members,
        "mia_holdout": opts.mia_holdout,
        "alpha": opts.alpha,
        "scale": opts.scale,
        "release": opts.release,
        "attack_nulls": opts.attack_nulls,
        "baseline": None if opts.baseline is None else str(opts.baseline),
    }
