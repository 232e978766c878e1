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


def _row(p: dict, unprotected_fid: float) -> list[str]:
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
    ]


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


def tune_document(r: dict) -> Document:
    ev, tu = r["evaluation"], r["tuning"]
    s = r["settings"]
    unprot = ev[0]
    band = unprot["sample_only_chance_band95"]
    met = [p for p in ev if p["budget_choice"] and meets_goal(p)]
    verdict = (
        f"Within {s['fid_budget']:g}x the unprotected FID, with replicas at the held-out base rate and "
        f"sample-only AUC <= {GOAL_AUC}: "
        + (
            ", ".join(f"{p['defence']} ({p['label']})" for p in met)
            if met
            else "no defence's chosen setting reaches it on the evaluation seeds"
        )
        + "."
    )
    goal_rows = []
    for fam in dict.fromkeys(p["defence"] for p in tu):
        if fam in ("none", "DP-SGD", "DP control (no clipping, no noise)"):
            continue
        p = next((q for q in ev if q["defence"] == fam and q["budget_choice"]), None)
        goal_rows.append(
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
    default_rows = []
    for kind, d in r["defaults"].items():
        if d["chosen"] is None:
            default_rows.append([kind, "none", d["why"], "", ""])
            continue
        c, e = d["chosen"], d["evaluation"]
        where = "" if c["t_max"] is None and c["t_min"] == 0 else f", t in [{c['t_min']}, {c['t_max']}]"
        beyond = (
            f" (nothing fit FID {r['settings']['fid_budget']:g}x; chosen at {d['fid_budget_used']:g}x)"
            if d.get("over_budget")
            else ""
        )
        default_rows.append(
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
    sections = [
        Section(
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
        ),
        Section(
            "Frontier (evaluation seeds)",
            [
                Figure(
                    "frontier",
                    "Replica rate, sample-only AUC and epsilon lower bound against pixel FID, every defence; "
                    "circled: the setting chosen at the FID budget on the tuning seeds; dashed: the budget.",
                ),
                Table(HEADER, [_row(p, unprot["fid"]) for p in ev]),
                Para(
                    "excess p: one-sided Fisher test that samples reach the replica threshold more often than held-out "
                    "images do (the base rate); 'not above the base rate' is p >= "
                    f"{s['excess_level']:g}. Draws per kept sample > 1 is rejection's extra sampling cost."
                ),
            ],
        ),
        Section(
            f"The goal: FID <= {s['fid_budget']:g}x unprotected, replicas at the base rate, AUC <= {GOAL_AUC}",
            [
                Table(
                    [
                        "defence",
                        "chosen on tuning seeds",
                        "FID ratio",
                        "excess p",
                        "sample-only AUC (95% CI)",
                        "meets goal",
                    ],
                    goal_rows,
                )
            ],
        ),
        Section(
            "Defaults for `sample --protect`",
            [Table(["classifier", "setting", "tuning seeds", "evaluation seeds", "meets goal"], default_rows)],
        ),
    ]
    default_idx = {d.get("tuning_index") for d in r["defaults"].values()}
    by_n = [p for p in ev if p["budget_choice"] or p["defence"] == "none" or p["tuning_index"] in default_idx]
    sizes = sorted({b["n_samples"] for p in by_n for b in p.get("sample_only_auc_by_n", [])})
    if sizes:
        sections.append(
            Section(
                "Leakage grows with what is published",
                [
                    Table(
                        ["defence", "setting"] + [f"AUC, first {n} samples" for n in sizes],
                        [
                            [p["defence"], p["label"]]
                            + [
                                next((f"{b['auc']:.3f}" for b in p["sample_only_auc_by_n"] if b["n_samples"] == n), "")
                                for n in sizes
                            ]
                            for p in by_n
                        ],
                    ),
                    Para(
                        "The nearest-sample AUC (one pre-specified score, no selection) on the first n evaluation samples: "
                        "a sampler that stays near its members is found out more surely the more it publishes, so a "
                        "defence's AUC is a statement about a number of samples."
                    ),
                ],
            )
        )
    acc = r.get("classifier_accuracy")
    if acc:
        sections.append(
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
        )
    sections.append(Section("Every tuning point (tuning seeds)", [Table(HEADER, [_row(p, tu[0]["fid"]) for p in tu])]))
    return Document("cpaudit: defences on the privacy/quality frontier", verdict, bool(met), sections)


def tune_figures(r: dict) -> dict[str, bytes]:
    return {"frontier": plots.frontier(r["evaluation"], r["fid_limit"]["evaluation"], GOAL_AUC)}
