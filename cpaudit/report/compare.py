"""Side-by-side comparison of several audits (unprotected vs protected vs baselines), by threat model."""

from __future__ import annotations

from cpaudit.core.threat_models import THREAT_MODELS
from cpaudit.report.compare_figure import privacy_quality_caption, run_result
from cpaudit.report.document import Document, Figure, Para, Section, Table, VerdictCard
from cpaudit.report.first_screen import verdict_cards
from cpaudit.report.legacy import headline
from cpaudit.report.numbers import interval, num, p_value, pct

RATES = ("replica rate", "guidance fired (sample-steps)", "training captions extracted (prompted)")


# One key figure of one audit: (threat model or 'quality'/'mechanism', figure, value, text shown).
KeyFigure = tuple[str, str, float | None, str]


def _key_figures(r: dict) -> list[KeyFigure]:
    """Every key figure of one audit, in the order the comparison table shows them."""
    rows = _sample_rows(r)
    for tm in THREAT_MODELS:
        rows += _threat_model_rows(r, tm)
    return rows + _quality_and_mechanism_rows(r)


def _sample_rows(r: dict) -> list[KeyFigure]:
    """What the published samples show: replicas, nearest-member similarity, the permutation test and, for
    text-to-image audits (None rows are left out), prompted extraction."""
    nn, perm = r["nn"], r.get("permutation") or {}
    ext = (r.get("prompted_extraction") or {}).get("captions")
    head = (r.get("attacks") or {}).get("prompted_extraction") or {}
    median = nn.get("median_nearest_member_similarity")
    return [
        (
            "samples",
            "replica rate",
            nn["replica_rate"],
            pct(nn["replica_rate"]) + f" ({nn['replicas']}/{nn['n_samples']})",
        ),
        ("samples", "median nearest-member similarity", median, num(median)),
        ("samples", "permutation p", perm.get("p_value"), p_value(perm.get("p_value"), perm.get("n_permutations"))),
        (
            "samples",
            "training captions extracted (prompted)",
            ext and ext["rate"],
            "-"
            if not ext
            else f"{pct(ext['rate'])} ({ext['member_captions_extracted']}/{ext['n_member_captions']}; "
            f"held-out captions {ext['holdout_captions_extracted']}/{ext['n_holdout_captions']})",
        ),
        (
            "samples",
            "prompted-extraction AUC",
            head.get("auc"),
            "-" if not head else f"{num(head['auc'])} [{interval(head['auc_ci95'])}]",
        ),
    ]


def _threat_model_rows(r: dict, tm: str) -> list[KeyFigure]:
    """What an attacker of this threat model can do: its strongest attack, selection-adjusted, and the one-run
    epsilon lower bounds; 'not measured' where none of its attacks ran."""
    h = headline(r, tm)
    measured = bool(((r.get("threat_models") or {}).get(tm) or {}).get("measured_by", h is not None))
    label = "membership AUC (strongest attack)"
    if h is None or not measured:
        return [
            (tm, label, None, "not measured"),
            (tm, "epsilon lower bound (one run)", None, "-"),
            (tm, "epsilon lower bound (one run, proven)", None, "-"),
        ]
    proven = h.get("epsilon_lb_proven")  # conditioned on the half's member count: a guarantee (schema 5)
    proven_shown = (
        "-" if proven is None else f"{num(proven, 2)} (≤ {num(h['epsilon_lb_proven_max_provable'], 2)} provable)"
    )
    return [
        (tm, label, h["auc"], f"{num(h['auc'])} [{interval(h['auc_ci95'])}] {_chosen(h)}"),
        _one_run_epsilon(tm, h),
        (tm, "epsilon lower bound (one run, proven)", proven, proven_shown),
    ]


def _quality_and_mechanism_rows(r: dict) -> list[KeyFigure]:
    """FID, then what the protection cost or spent: guidance fired, DP epsilon, extra samples drawn."""
    q = r.get("quality") or {}
    fired = (r.get("protection") or {}).get("fired_fraction")
    dp = (r.get("privacy") or {}).get("dp_epsilon")
    extra = ((r.get("setup") or {}).get("sample_run") or {}).get("rejection", {}).get("extra_samples")
    return [
        ("quality", f"FID ({q.get('features', '?')})", q.get("fid"), num(q.get("fid"), 2)),
        *_fidelity_rows(q),
        ("mechanism", "guidance fired (sample-steps)", fired, pct(fired) if fired is not None else "-"),
        ("mechanism", "DP epsilon (accounted)", dp, num(dp, 2) + _at_delta(r) if dp is not None else "-"),
        ("mechanism", "extra samples drawn (rejection)", extra, str(extra) if extra is not None else "-"),
    ]


# What each k-NN figure answers (auditing/fidelity.py), as the comparison's row names say it.
FIDELITY_ROWS = (
    ("precision", "precision (samples like held-out images)"),
    ("recall", "recall (held-out images covered)"),
    ("authenticity", "authenticity (samples not copying a member)"),
)


def _fidelity_rows(q: dict) -> list[KeyFigure]:
    """Precision, recall and authenticity (issue 39): FID rewards a model that copies its training images,
    authenticity does not. Every run has the rows (the comparison's rows line up across runs); a run audited
    before them shows "-", and a row no run measured is left out (_figure_rows)."""
    return [
        (
            ("quality", label, q[key], f"{num(q[key], 2)} [{interval(q[f'{key}_ci95'], 2)}]")
            if key in q
            else ("quality", label, None, "-")
        )
        for key, label in FIDELITY_ROWS
    ]


def _one_run_epsilon(tm: str, h: dict) -> KeyFigure:
    """The one-run epsilon row; a schema-2 file's epsilon_lb was the many-runs formula, not a bound for one
    training run: shown as such, with no change computed against one-run figures."""
    if "epsilon_lb_many_runs" not in h and "key" in h:
        return (tm, "epsilon lower bound (one run)", None, f"{num(h['epsilon_lb'], 2)} (many-runs formula: schema 2)")
    most = h.get("epsilon_lb_max_provable")
    indicative = "indicative, " if h.get("epsilon_lb_guarantee") is False else ""
    shown = num(h["epsilon_lb"], 2) + ("" if most is None else f" ({indicative}≤ {num(most, 2)} provable)")
    return (tm, "epsilon lower bound (one run)", h["epsilon_lb"], shown)


SHORT = {
    "sample_only": "sample-only",
    "loss": "loss",
    "secmi": "SecMI",
    "pia": "PIA",
    "sima": "SimA",
    "classifier_oracle": "classifier oracle",
    "prompted_extraction": "prompted extraction",
    "detector": "noise-norm detector",
    "clid": "CLiD",
}
MODEL_FREE = ("sample_only", "classifier_oracle", "prompted_extraction")  # attack no denoiser: not plain/protected
# What a denoiser attack's key says it conditioned on (attacks/base.py Denoiser.suffix).
CONDITIONED = {"_caption": "true caption", "_empty": "empty caption", "_class": "true class"}


def _chosen(h: dict) -> str:
    """'(loss, plain / SimA, plain)': the attacks the two halves chose; a schema-2 entry names its own."""
    keys = [c["attack"] for c in h.get("chosen", []) if "attack" in c]
    if not keys:  # schema 2: one attack's own figure
        return _short(h.get("key"))[:-1] + ", largest single attack)"
    return "(" + " / ".join(_short(k).strip("()") for k in dict.fromkeys(keys)) + ")"


def _short(key: str | None) -> str:
    """'(PIA, protected)' for 'pia_protected'; '(loss, true caption, plain)' for 'loss_caption', a denoiser attack
    on the plain model conditioned on each candidate's caption; '(prompted extraction)' for a model-free attack."""
    base = key or ""
    suffix = next((s for s in CONDITIONED if base.endswith(s)), "")
    base = base.removesuffix(suffix)
    protected = base.endswith("_protected")
    base = base.removesuffix("_protected")
    words = [SHORT.get(base, base), *([CONDITIONED[suffix]] if suffix else [])]
    if base not in MODEL_FREE:
        words.append("protected" if protected else "plain")
    return "(" + ", ".join(words) + ")"


def _change(name: str, v: float | None, base: float | None) -> str:
    if (
        v is None
        or base is None
        or name.startswith("extra samples")
        or name == "permutation p"
        or v != v
        or base != base
    ):
        return ""
    d = v - base
    return f" ({'+' if d >= 0 else ''}{100 * d:.1f} pts)" if name in RATES else f" ({'+' if d >= 0 else ''}{d:.3g})"


def compare_document(
    runs: list[tuple[str, dict]], links: list[str] | None = None, notes: list[str] | None = None
) -> Document:
    """The comparison report: a card per run, the key figures side by side with changes against the first run,
    each run's verdict, and links to the full reports."""
    verdicts = _verdict_rows(runs)
    any_fail = any(v[2] == "FAIL" for v in verdicts)
    cards = [_run_card(label, r) for label, r in runs]
    sections = [
        _key_figures_section(runs),
        Section("Verdicts", [Table(["run", "release", "result", "verdict"], verdicts)]),
    ]
    if links:
        sections.append(
            Section(
                "Full reports", [Table(["run", "report"], [[label, link] for (label, _), link in zip(runs, links)])]
            )
        )
    if notes:
        sections.append(Section("See also", [Para(n) for n in notes]))
    lead = [Figure("privacy_quality", privacy_quality_caption(runs))]
    verdict = _compare_verdict(runs, cards, any_fail)
    return Document("cpaudit comparison", verdict, False if any_fail else None, sections, cards, [], lead, True)


def _compare_verdict(runs: list[tuple[str, dict]], cards: list[VerdictCard], any_fail: bool) -> str:
    """How many runs pass their gates, which, and that changes are against the first run."""
    passing = [c.title for c in cards if c.status == "passed"]
    return (
        f"{len(passing)} of {len(runs)} runs pass their gates"
        + (f" ({', '.join(passing)})" if passing else "")
        + f"; changes are against the first ({runs[0][0]})."
        + (" At least one run FAILED a policy gate." if any_fail else "")
    )


def _key_figures_section(runs: list[tuple[str, dict]]) -> Section:
    """Every key figure some run measured, one column per run, and what the rows mean."""
    return Section(
        "Key figures by threat model",
        [
            Table(["threat model", "figure"] + [label for label, _ in runs], _figure_rows(runs)),
            Para(
                "Each threat model's row is what an attacker with that access can do: the strongest membership attack "
                "that applies (every attack of a weaker threat model applies too), selection-adjusted: attack, variant and "
                "sign are chosen on one half of the images and scored on the other, with a bootstrap 95% interval; the "
                "attacks the two halves chose are named. 'Not measured': no attack of that threat model ran (the audit "
                "was not given the model). The epsilon lower bound is for this one training run (Steinke, Nasr & "
                "Jagielski 2023), beside the most its sizes can prove. A sampling-time defence changes the samples "
                "and the deployed sampler, never the weights. Changes in brackets are against the first run; "
                "percentage points for rates."
            ),
        ],
    )


def _figure_rows(runs: list[tuple[str, dict]]) -> list[list[str]]:
    """One row per key figure, left out where no run measured it; later runs show their change against the first."""
    figures = [(label, _key_figures(r)) for label, r in runs]
    base = figures[0][1]
    rows = []
    for i, (group, name, _, _) in enumerate(base):
        if all(f[i][2] is None for _, f in figures):
            continue
        rows.append(
            [group, name]
            + [f[i][3] + ("" if j == 0 else _change(name, f[i][2], base[i][2])) for j, (_, f) in enumerate(figures)]
        )
    return rows


def _verdict_rows(runs: list[tuple[str, dict]]) -> list[list[str]]:
    """Each run's release, gate result ('report only' or 'no gate set' where nothing was gated) and verdict."""
    verdicts = []
    for label, r in runs:
        pol = r.get("policy") or {}
        has_gate = any(v is not None for v in (pol.get("thresholds") or {}).values())
        verdicts.append(
            [
                label,
                r.get("release", "samples"),
                ("passed" if pol.get("passed") else "FAIL")
                if has_gate
                else ("report only" if pol.get("report_only") else "no gate set"),
                r.get("verdict", "-"),
            ]
        )
    return verdicts


def _run_card(label: str, r: dict) -> VerdictCard:
    """A run's card: its release's verdict card, titled by the run."""
    release = r.get("release", "samples")
    card = next((c for c in verdict_cards(r) if c.scope == "this release"), None)
    status = run_result(r)
    reason = card.reason if card is not None else str(r.get("verdict", ""))
    return VerdictCard(label, status, reason, f"release: {release}")


def _at_delta(r: dict) -> str:
    """' at delta D': an epsilon means nothing without its delta (privacy.dp_delta; before schema 5, the model's
    config)."""
    delta = (r.get("privacy") or {}).get("dp_delta")
    if delta is None:
        delta = (((r.get("setup") or {}).get("model_config") or {}).get("dp") or {}).get("delta")
    return "" if delta is None else f" at delta {delta:g}"
