"""`cpaudit audit`: the options are AuditOptions' declarations (auditing/engine/options.py); this file wires
them to `cpaudit.pipelines.audit.audit` and prints the summary."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.cli.common import console, info, print_json, progress_bar, state, user_errors
from cpaudit.cli.options import Quiet
from cpaudit.config import configured
from cpaudit.errors import InputError
from cpaudit.options import command
from cpaudit.pipelines.audit import AuditResult, audit
from cpaudit.report.first_screen import action_sentence, verdict_cards
from cpaudit.report.numbers import interval, num, odds, of, p_value, pct, pct_range

_KW = inspect.Parameter.KEYWORD_ONLY
EXTRA = [
    inspect.Parameter(
        "config",
        _KW,
        annotation=Path | None,
        default=typer.Option(
            None,
            "--config",
            help="cpaudit.toml, or pyproject.toml with [tool.cpaudit]: any option and a policy table (default: "
            "./cpaudit.toml, else ./pyproject.toml's [tool.cpaudit]).",
        ),
    ),
    inspect.Parameter(
        "json_out", _KW, annotation=bool, default=typer.Option(False, "--json", help="Print results.json to stdout.")
    ),
    inspect.Parameter("quiet", _KW, annotation=bool, default=Quiet),
]


def run_audit(given: dict[str, Any], *, config: Path | None, json_out: bool, quiet: bool) -> None:
    """Audit samples for replication and a model for membership leakage; exit 1 if a policy gate fails.

    Example: cpaudit audit --samples runs/plain --split runs/model/split.json --model runs/model --out runs/audit
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        opts = configured(AuditOptions, given, config)
        if opts.out is None:
            raise InputError(
                "--out", "give the folder for results.json and the reports (or set out in the config file)"
            )
        with progress_bar("audit") as advance:
            result = audit(opts, progress=lambda stage: advance(description=f"audit: {stage}"))
    if json_out:
        print_json(result.results)
    print_summary(result)


audit_cmd = command(
    AuditOptions, run_audit, extra=EXTRA, doc=run_audit.__doc__, after={"config": "seed", "json_out": "junit"}
)


def print_summary(result: AuditResult) -> None:
    """The terminal summary, numbers formatted as the report formats them (report/numbers.py): the release's
    verdict in one sentence, replicas, permutation test, every attack, the strongest per threat model, the
    recorded verdict; exit 1 where a gate failed."""
    r = result.results
    nn = r["nn"]
    info(action_sentence(verdict_cards(r)))
    info(
        f"replicas: {of(nn['replicas'], nn['n_samples'])} samples = {pct(nn['replica_rate'])} "
        f"(95% CI {pct_range(nn['replica_rate_ci95'])}) at similarity >= {nn['threshold']}; training images reached "
        f"{of(nn['members_reached'], nn['n_members_reached_of'])}, held-out images "
        f"{of(nn['holdout_reached'], nn['n_holdout_reached_of'])} (excess p = {p_value(nn['reach_excess_p'], None)})"
    )
    search = nn.get("search") or {}
    if search.get("method") == "ivf":
        info(
            f"nearest neighbours by IVF ({search['nlist']} lists, {search['nprobe']} probed): recall@1 "
            f"{search['recall_at_1']:.3f} against exact search on {search['recall_queries']} queries"
        )
    info(
        f"permutation test: p = {p_value(r['permutation']['p_value'], r['permutation'].get('n_permutations'))}; "
        f"{r['quality']['features']} FID {num(r['quality']['fid'])}"
    )
    for a in r["attacks"].values():
        info(
            f"{a['threat_model']:8s} {a['title']}: AUC {num(a['auc'])} (95% CI {interval(a['auc_ci95'])}, chance "
            f"{interval(a['chance_band95'])}), one-run epsilon >= {num(a['epsilon_lb'], 2)}"
            + ("" if a["deployed"] else "  [not deployed]")
        )
    for tm, t in r["threat_models"].items():
        print_strongest(tm, t)
    for p in (r.get("detector") or {}).get("prompts") or []:
        if p["flagged"]:
            info(f"memorisation detector flags the prompt: {p['prompt']} (score {p['score']:.3f})")
    info(r["verdict"])
    if result.out is not None:
        info(f"-> {result.out / 'results.json'}")
    if not result.passed:
        for failure in r["policy"]["failures"]:
            console.print(f"[red]FAILED[/red] {failure}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def print_strongest(tm: str, t: dict) -> None:
    """One threat model's strongest attack, selection-adjusted; where none of its own ran, the line says the figure
    is a weaker threat model's (a lower bound on what this release allows), as the report does."""
    h = t["strongest"]
    if h is None:
        return
    own = "" if t["measured_by"] else "  [not measured: a weaker threat model's attacks only]"
    info(
        f"{tm:8s} strongest attack, selection-adjusted: AUC {num(h['auc'])}, tells members apart {odds(h['auc'])} "
        f"(95% CI {interval(h['auc_ci95'])}, "
        f"chance {interval(h['chance_band95'])}, p = {p_value(h['p_value'], h.get('n_null'))})"
        + ("" if t["deployed"] else "  [not deployed]")
        + own
    )
