"""The text-to-image defences' tuning in Markdown: the chosen setting of each defence with its tuning and evaluation
figures, from the record `cpaudit demo --tune --text` writes (tune.json; pipelines/tune_text.py). report.md and
benchmarks/RESULTS.md show it (tests/test_readme_figures.py keeps them equal)."""

from __future__ import annotations


def tune_text_markdown(record: dict) -> str:
    """The chosen setting of each defence with its tuning and evaluation figures."""
    lines = [
        f"Threat model samples (prompted extraction), {record['per_caption']} seeds a caption; tuning seeds "
        f"{record['tune_seed']:,} on, evaluation seeds {record['eval_seed']:,} on. Rule: {record['rule']}.",
        "",
        "| defence | chosen | base rate reached when tuning | training captions extracted (evaluation; 95% Wilson) | "
        "held-out captions extracted | Fisher p | pixel FID ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    none = record["unprotected"]["evaluation"]
    rows = [("unprotected", "-", "-", none)] + [
        (k, d["chosen"], "yes" if d["reached_base_rate_on_tuning_seeds"] else "no", d["evaluation"])
        for k, d in record["defences"].items()
    ]
    for name, chosen, reached, e in rows:
        lines.append(
            f"| {name} | {chosen} | {reached} | {e['member_captions_extracted']} of {e['n_member_captions']} "
            f"({e['rate_ci95'][0]:.0%}-{e['rate_ci95'][1]:.0%}) | {e['holdout_captions_extracted']} of "
            f"{e['n_holdout_captions']} ({e['holdout_rate_ci95'][0]:.0%}-{e['holdout_rate_ci95'][1]:.0%}) | {e['fisher_p']:.2g} | "
            f"{e['pixel_fid'] / none['pixel_fid']:.2f} |"
        )
    return "\n".join(lines)
