"""The text demo's figures in Markdown, as README.md shows them (tests/test_readme_figures.py keeps them equal):
the defences' table, the white-box attacks' sentence and the summary, from the record `cpaudit demo --text`
writes (reports/demo-text/text_demo.json; pipelines/demo_text.py)."""

from __future__ import annotations


def demo_table_markdown(record: dict) -> str:
    """The demo's table as README.md shows it (tests/test_readme_figures.py keeps them equal). A record with the
    audit's quality block (issue 39) adds precision, recall, authenticity, the FID ratio to the reference model
    where one was sampled, and whether every samples gate held."""
    quality = "precision" in record["table"][0]
    reference = "fid_ratio_reference" in record["table"][0]
    head = (
        "| defence | prompted-extraction AUC (95% CI) [chance band] | training captions extracted (95% CI) | held-out "
        "captions extracted | Fisher p | prompts refused | pixel FID ratio |"
    )
    rule = "|---|---|---|---|---|---|---|"
    if quality:
        head += (" FID x reference |" if reference else "") + " precision | recall | authenticity | samples gates |"
        rule += ("---|" if reference else "") + "---|---|---|---|"
    lines = [head, rule]
    for r in record["table"]:
        c, lo, hi = r["captions"], r["extraction_auc_ci95"][0], r["extraction_auc_ci95"][1]
        line = (
            f"| {r['defence']} | {r['extraction_auc']:.3f} ({lo:.3f}-{hi:.3f}) [{r['chance_band95'][0]:.3f}-"
            f"{r['chance_band95'][1]:.3f}] | {c['member_captions_extracted']} of {c['n_member_captions']} "
            f"({c['rate_ci95'][0]:.0%}-{c['rate_ci95'][1]:.0%}) | {c['holdout_captions_extracted']} of "
            f"{c['n_holdout_captions']} | {c['fisher_p']:.2g} | {r['refused']['prompts'] or '-'} | {r['fid_ratio']:.2f} |"
        )
        if quality:
            line += (f" {r['fid_ratio_reference']:.2f} |" if reference else "") + (
                f" {_share(r, 'precision')} | {_share(r, 'recall')} | {_share(r, 'authenticity')} | "
                f"{'pass' if r['passed'] else 'fail'} |"
            )
        lines.append(line)
    return "\n".join(lines)


def _share(row: dict, key: str) -> str:
    lo, hi = row[f"{key}_ci95"]
    return f"{row[key]:.2f} ({lo:.2f}-{hi:.2f})"


def _auc(a: dict) -> str:
    return (
        f"{a['auc']:.3f} (95% CI {a['auc_ci95'][0]:.3f}-{a['auc_ci95'][1]:.3f}; chance band {a['chance_band95'][0]:.3f}-"
        f"{a['chance_band95'][1]:.3f})"
    )


def white_box_markdown(record: dict) -> str:
    """The detector's and the caption-conditioned attacks' AUCs on the unprotected model, one sentence."""
    wb = record["white_box"]
    det = wb["detector"]
    pairs = []
    for name, label in (("loss", "loss"), ("secmi", "SecMI"), ("pia", "PIA"), ("sima", "SimA")):
        t, e = wb[f"{name}_caption"], wb[f"{name}_empty"]
        pairs.append(f"{label} {_auc(t)} with the true caption and {_auc(e)} with the empty one")
    return (
        f"On the unprotected model (threat models sampler and weights; the same weights under every sampling-time "
        f"defence): the noise-norm detector separates training from held-out captions with AUC {det['auc']:.3f} "
        f"(95% CI {det['auc_ci95'][0]:.3f}-{det['auc_ci95'][1]:.3f}; chance band {det['chance_band95'][0]:.3f}-"
        f"{det['chance_band95'][1]:.3f}); the caption-conditioned attacks reach AUC "
        + "; ".join(pairs)
        + "."
        + (
            f" CLiD (Zhai et al. 2024: the loss under the true caption against reduced ones, cross-fitted over its "
            f"weightings) reaches AUC {_auc(wb['clid'])}."
            if "clid" in wb
            else ""
        )
    )


def demo_summary_markdown(record: dict) -> str:
    """Which defences bring prompted extraction to the held-out captions' base rate, whether an attacker still
    tells training captions apart by similarity (extraction AUC above its chance band), and at what FID cost."""
    rows = [r for r in record["table"][1:] if not r["defence"].startswith("reference model")]  # not a defence
    stage = record["stage_seconds"]
    train = sum(v for k, v in stage.items() if k.startswith("train"))
    parts = [
        f"`cpaudit demo --text` took {record['total_seconds']:.0f} s on 2 cores ({train:.0f} s of it training the "
        "pipeline and the classifier; the time of each stage is in reports/demo-text/text_demo.json)."
        if train
        else f"`cpaudit demo --text` with its pipeline and classifier given took {record['total_seconds']:.0f} s on 2 "
        "cores (the time of each stage is in its text_demo.json)."
    ]
    at_base = [
        r for r in rows if r["captions"]["member_captions_extracted"] <= r["captions"]["holdout_captions_extracted"]
    ]
    if at_base:
        parts.append(
            f"On the evaluation seeds, {len(at_base)} of {len(rows)} defences bring training captions down to the "
            "held-out captions' base rate: "
            + ", ".join(f"{r['defence']} (FID ratio {r['fid_ratio']:.2f})" for r in at_base)
            + "."
        )
    leaky = [r for r in at_base if r["extraction_auc"] > r["chance_band95"][1]]
    if leaky:
        parts.append(_leaky_sentence(leaky))
    clean = [r for r in at_base if r not in leaky]
    if clean:
        best = min(clean, key=lambda r: r["fid_ratio"])
        parts.append(
            f"The cheapest in pixel FID with both at the base rate and the extraction AUC inside its chance band is "
            f"{best['defence']} ({best['fid_ratio']:.2f} times unprotected, AUC {best['extraction_auc']:.3f})."
        )
    passed = [r for r in rows if r["passed"]]
    parts.append(
        "Every default gate of the samples threat model (replicas of any member, the strongest attack, prompted "
        "extraction) holds for "
        + (", ".join(f"{r['defence']} (FID ratio {r['fid_ratio']:.2f})" for r in passed) if passed else "none of them")
        + "."
    )
    others = [r for r in rows if r not in at_base]
    if others:
        parts.append(_above_base_sentence(others))
    return " ".join(parts)


def _leaky_sentence(leaky: list[dict]) -> str:
    """Defences at the base rate in count whose extraction AUC is still above its chance band, and why."""
    return (
        f"{len(leaky)} of those still let an attacker tell training captions from held-out ones above the chance "
        "band: "
        + "; ".join(
            f"{r['defence']} (AUC {r['extraction_auc']:.3f}), "
            + (
                f"through the prompts it refuses ({r['refused']['prompts']})"
                if r["refused"]["prompts"]
                else "because its samples stay nearest their own caption's image, just under the replica threshold"
            )
            for r in leaky
        )
        + "."
    )


def _above_base_sentence(others: list[dict]) -> str:
    """Defences that extract more training captions than held-out ones, with their counts."""
    return (
        "Above the base rate in count: "
        + "; ".join(
            f"{r['defence']} ({r['captions']['member_captions_extracted']} of {r['captions']['n_member_captions']} captions, "
            f"Fisher p {r['captions']['fisher_p']:.2g}, AUC {r['extraction_auc']:.3f}, FID ratio {r['fid_ratio']:.2f})"
            for r in others
        )
        + "."
    )
