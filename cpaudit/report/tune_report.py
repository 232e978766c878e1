"""The report of `cpaudit tune`: the frontier figure, the evaluation table, the goal and the defaults."""

from __future__ import annotations

from cpaudit.report import plots
from cpaudit.report.document import Document, Figure, Para, Section, Table
from cpaudit.report.numbers import num, pct

GOAL_AUC = 0.65  # the sample-only AUC the frontier is asked to reach within the FID budget


def meets_goal(p: dict) -> bool:
    return bool(p["within_fid_budget"] and p["replicas_not_above_base_rate"] and p["sample_only_auc"] <= GOAL_AUC)


def _ci(lo_hi: list[float]) -> str:
    return f"[{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]"


def _row(p: dict, unprotected_fid: float, extra: list[str]) -> list[str]:
    rate = f"{p['replicas']}/{p['n_samples']} ({pct(p['replica_rate'])}, {_ci(p['replica_rate_ci95'])})"
    return [
        p["defence"],
        p["label"] + (" (chosen)" if p.get("budget_choice") else ""),
        rate,
        num(p["replica_excess_p"]),
        num(p["median_nearest_member_similarity"]),
        f"{p['sample_only_auc']:.3f} {_ci(p['sample_only_auc_ci95'])}",
        num(p["epsilon_lb"], 2),
        f"{p['fid']:.2f} ({p['fid'] / unprotected_fid:.1f}x)",
        pct(p["fired_fraction"]),
        f"{p['drawn'] / p['n_samples']:.2f}",
        f"{p['seconds']:.1f}",
    ] + [_extra_cell(p, column) for column in extra]


HEADER = [
    "defence",
    "setting",
    "replicas (95% CI)",
    "excess p",
    "median nearest r",
    "sample-only AUC (95% CI)",
    "epsilon lb",
    "pixel FID (x none)",
    "guided steps",
    "draws per kept sample",
    "seconds",
]


# Columns a sweep records from issue 39 on: shown where its points have them, so older tune.json files render as
# they did. Fidelity is on FID's raw pixels (auditing/fidelity.py); its Wilson intervals are in tune.json.
EXTRA_COLUMNS = {
    "FID x ref": "fid_x_reference",
    "precision": "precision",
    "recall": "recall",
    "authenticity": "authenticity",
}


def _extra_cell(p: dict, column: str) -> str:
    key = EXTRA_COLUMNS[column]
    value = p.get(key) if key == "fid_x_reference" else (p.get("fidelity") or {}).get(key)
    if value is None:
        return ""
    return f"{value:.2f}x" if key == "fid_x_reference" else num(value)


def _point_table(points: list[dict], unprotected_fid: float) -> Table:
    """The points' figures, with the issue-39 columns where any point has them."""
    extra = [c for c in EXTRA_COLUMNS if any(_extra_cell(p, c) for p in points)]
    return Table(HEADER + extra, [_row(p, unprotected_fid, extra) for p in points])


def _with_reference(points: list[dict], r: dict, part: str) -> list[dict]:
    """The points, and the reference model's on the same seeds last, where the sweep drew one."""
    ref = r.get("reference")
    return points + ([ref[part]] if ref else [])


def tune_document(r: dict) -> Document:
    """The frontier report: which defences reach the goal, what the figures answer, the frontier, the goal table,
    the defaults chosen, leakage by samples published, the classifier's ceiling and every tuning point."""
    ev, tu = r["evaluation"], r["tuning"]
    s = r["settings"]
    met = [p for p in ev if p["budget_choice"] and meets_goal(p)]
    sections = [
        _question_section(s, ev[0]["sample_only_chance_band95"]),
        _frontier_section(s, _with_reference(ev, r, "evaluation"), ev[0]["fid"]),
        _goal_section(s, ev, tu),
        Section(
            "Defaults for `sample --protect`",
            [Table(["classifier", "setting", "tuning seeds", "evaluation seeds", "meets goal"], _default_rows(r))],
        ),
    ]
    sections += _by_n_sections(r)
    sections += _classifier_sections(r.get("classifier_accuracy"))
    sections.append(
        Section("Every tuning point (tuning seeds)", [_point_table(_with_reference(tu, r, "tuning"), tu[0]["fid"])])
    )
    return Document("cpaudit: defences on the privacy/quality frontier", _verdict(s, met), bool(met), sections)


def _verdict(s: dict, met: list[dict]) -> str:
    """The goal in one sentence, and the defences whose setting chosen at the budget reaches it."""
    return (
        f"Within {s['fid_budget']:g}x the unprotected FID, with replicas at the held-out base rate and "
        f"sample-only AUC <= {GOAL_AUC}: "
        + (
            ", ".join(f"{p['defence']} ({p['label']})" for p in met)
            if met
            else "no defence's chosen setting reaches it on the evaluation seeds"
        )
        + "."
    )


def _question_section(s: dict, band: list[float]) -> Section:
    """The threat model, the attack, the seeds each figure came from and the chance band at these sizes."""
    return Section(
        "What this answers",
        [
            Para(
                "Threat model: samples. Every figure here is what someone who sees only the published samples can do: "
                "replicas, and the sample-only attack (each member's and each held-out image's correlation with its nearest "
                "sample; AUC members vs held-out, cross-fitted, with DeLong's interval). Sampling-time defences change "
                "the samples and not the weights, so this is the threat model where they can help. "
                f"Settings were swept on the tuning seeds ({s['tune_seeds'][0]} on, {s['tune_seeds'][1]} samples a point); "
                f"each defence's frontier points and its choice at the budget were drawn again on the evaluation seeds "
                f"({s['eval_seeds'][0]} on, {s['eval_seeds'][1]} samples a point), which chose nothing. Pixel FID is against "
                f"all {s['n_holdout']} held-out images; {s['n_members']} members; replica = nearest-member correlation >= "
                f"{s['replica_threshold']:g}. The chance band of the sample-only AUC at these sizes is {_ci(band)}."
            )
        ],
    )


def _frontier_section(s: dict, ev: list[dict], unprotected_fid: float) -> Section:
    """The frontier figure and the table of every evaluated point, FID as a multiple of the unprotected one."""
    return Section(
        "Frontier (evaluation seeds)",
        [
            Figure(
                "frontier",
                "Replica rate, sample-only AUC and epsilon lower bound against pixel FID, every defence; "
                "circled: the setting chosen at the FID budget on the tuning seeds; dashed: the budget.",
            ),
            _point_table(ev, unprotected_fid),
            Para(
                "excess p: one-sided Fisher test that samples reach the replica threshold more often than held-out "
                "images do (the base rate); 'not above the base rate' is p >= "
                f"{s['excess_level']:g}. Draws per kept sample > 1 is rejection's extra sampling cost."
                + _reference_note(s)
            ),
        ],
    )


def _reference_note(s: dict) -> str:
    """How to read the reference row and the issue-39 columns, where the sweep drew a reference model."""
    ref = s.get("reference")
    if not ref:
        return ""
    return (
        f" The reference model ({ref['model']}) is the same architecture trained the same way on {ref['n_members']} "
        "images disjoint from the members: private for them by construction, so its FID is what quality costs "
        "without memorising them (FID x ref: a point's FID over the reference's on the same seeds) and its AUC and "
        f"replica rate are chance at these sizes. Its {ref['holdout_removed']} training images were removed from the "
        f"held-out set of every point ({ref['n_holdout_before']} -> {s['n_holdout']}). Precision and recall: the "
        "share of samples within the held-out images' k-nearest-neighbour balls, and of held-out images within the "
        "samples'; authenticity: the share of samples no nearer to their nearest member than that member is to "
        "its own nearest other member (Alaa et al. 2022; copying lowers it); raw pixels, as FID."
    )


def _goal_section(s: dict, ev: list[dict], tu: list[dict]) -> Section:
    """Each sampling-time defence's setting chosen at the budget, scored on the evaluation seeds against the goal."""
    header = ["defence", "chosen on tuning seeds", "FID ratio", "excess p", "sample-only AUC (95% CI)", "meets goal"]
    return Section(
        f"The goal: FID <= {s['fid_budget']:g}x unprotected, replicas at the base rate, AUC <= {GOAL_AUC}",
        [Table(header, _goal_rows(ev, tu))],
    )


def _goal_rows(ev: list[dict], tu: list[dict]) -> list[list[str]]:
    """One row per defence family swept (not the unprotected run or the DP models, which choose nothing here)."""
    unprot = ev[0]
    rows = []
    for fam in dict.fromkeys(p["defence"] for p in tu):
        if fam in ("none", "DP-SGD", "DP control (no clipping, no noise)"):
            continue
        p = next((q for q in ev if q["defence"] == fam and q["budget_choice"]), None)
        rows.append(
            [fam, "none within the budget", "", "", "", "no"]
            if p is None
            else [
                fam,
                p["label"],
                f"{p['fid'] / unprot['fid']:.2f}x",
                num(p["replica_excess_p"]),
                f"{p['sample_only_auc']:.3f} {_ci(p['sample_only_auc_ci95'])}",
                "yes" if meets_goal(p) else "no",
            ]
        )
    return rows


def _default_rows(r: dict) -> list[list[str]]:
    """One row per classifier kind: the default `sample --protect` uses, its tuning and evaluation figures."""
    rows = []
    for kind, d in r["defaults"].items():
        if d["chosen"] is None:
            rows.append([kind, "none", d["why"], "", ""])
            continue
        c, e = d["chosen"], d["evaluation"]
        where = "" if c["t_max"] is None and c["t_min"] == 0 else f", t in [{c['t_min']}, {c['t_max']}]"
        beyond = (
            f" (nothing fit FID {r['settings']['fid_budget']:g}x; chosen at {d['fid_budget_used']:g}x)"
            if d.get("over_budget")
            else ""
        )
        rows.append(
            [
                kind,
                f"{d['defence']}: alpha {c['alpha']:g}, scale {c['scale']:g}, {c['rule']}, "
                f"guidance on {c['space']}{where}{beyond}",
                f"AUC {d['tuning']['sample_only_auc']:.3f}, FID {d['tuning']['fid']:.2f}",
                "n/a"
                if e is None
                else f"AUC {e['sample_only_auc']:.3f} {_ci(e['sample_only_auc_ci95'])}, "
                f"FID {e['fid']:.2f}, replicas {e['replicas']}/{e['n_samples']}",
                "n/a" if e is None else ("yes" if meets_goal(e) else "no"),
            ]
        )
    return rows


def _by_n_sections(r: dict) -> list[Section]:
    """Nearest-sample AUC by the number of samples published, for the unprotected run, the chosen settings and
    the defaults; none where the file recorded no such curve."""
    ev = r["evaluation"]
    default_idx = {d.get("tuning_index") for d in r["defaults"].values()}
    by_n = [p for p in ev if p["budget_choice"] or p["defence"] == "none" or p["tuning_index"] in default_idx]
    by_n += [r["reference"]["evaluation"]] if r.get("reference") else []
    sizes = sorted({b["n_samples"] for p in by_n for b in p.get("sample_only_auc_by_n", [])})
    if not sizes:
        return []
    rows = [
        [p["defence"], p["label"]]
        + [next((f"{b['auc']:.3f}" for b in p["sample_only_auc_by_n"] if b["n_samples"] == n), "") for n in sizes]
        for p in by_n
    ]
    return [
        Section(
            "Leakage grows with what is published",
            [
                Table(["defence", "setting"] + [f"AUC, first {n} samples" for n in sizes], rows),
                Para(
                    "The nearest-sample AUC (one pre-specified score, no selection) on the first n evaluation samples: "
                    "a sampler that stays near its members is found out more surely the more it publishes, so a "
                    "defence's AUC is a statement about a number of samples."
                ),
            ],
        )
    ]


def _classifier_sections(acc: dict | None) -> list[Section]:
    """The learned classifier's member accuracy beside the exact posterior's, where the run measured both."""
    if not acc:
        return []
    return [
        Section(
            "The learned classifier against the Bayes ceiling",
            [
                Table(
                    ["t", "learned member accuracy", "Bayes-optimal accuracy"],
                    [[str(t), num(a), num(b)] for t, a, b in zip(acc["t"], acc["learned"], acc["bayes"])],
                ),
                Para(
                    "The exact posterior is the Bayes-optimal classifier for these members and labels: where it does no "
                    "better on the frontier than the learned one, the classifier's accuracy is not what limits CPSample."
                ),
            ],
        )
    ]


def tune_figures(r: dict) -> dict[str, bytes]:
    ref = (r.get("reference") or {}).get("evaluation")
    return {"frontier": plots.frontier(r["evaluation"], r["fid_limit"]["evaluation"], GOAL_AUC, reference=ref)}
