"""Typed results of the Python API: the figures of results.json by name, tables as pandas DataFrames, and a
display for notebooks. Every figure says which threat model it belongs to, as the reports do."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class AuditReport:
    """What `cpaudit.audit` found. `results` is results.json as `cpaudit audit` writes it."""

    results: dict
    arrays: dict[str, np.ndarray] = field(repr=False)
    member_ids: list[str] = field(repr=False)
    out: Path | None = None

    @property
    def passed(self) -> bool:
        """Every policy gate passed (False where a gate failed; a crash raises, it never reads as a verdict)."""
        return bool(self.results["policy"]["passed"])

    @property
    def verdict(self) -> str:
        return self.results["verdict"]

    @property
    def release(self) -> str:
        """The threat model gated: samples, sampler or weights."""
        return self.results["release"]

    @property
    def replication(self) -> dict:
        """Threat model `samples`: replicas among the samples, against the held-out images' base rate."""
        return self.results["nn"]

    @property
    def quality(self) -> dict:
        return self.results["quality"]

    @property
    def provenance(self) -> dict | None:
        """cpaudit's version and commit, the library versions and the device that computed this audit
        (cpaudit/provenance.py); None for a results.json older than schema 5."""
        return self.results.get("provenance")

    @property
    def threat_models(self) -> dict:
        """Per threat model: the strongest attack, selection-adjusted, and whether it is deployed."""
        return self.results["threat_models"]

    @property
    def attacks(self) -> pd.DataFrame:
        """One row per membership attack, with its threat model, AUC, 95% interval and chance band."""
        rows = []
        for key, a in self.results["attacks"].items():
            rows.append(
                {
                    "attack": key,
                    "title": a["title"],
                    "threat_model": a["threat_model"],
                    "deployed": a["deployed"],
                    "auc": a["auc"],
                    "auc_low": a["auc_ci95"][0],
                    "auc_high": a["auc_ci95"][1],
                    "chance_low": a["chance_band95"][0],
                    "chance_high": a["chance_band95"][1],
                    "p_value": a.get("p_value"),
                    "epsilon_lb": a.get("epsilon_lb"),
                }
            )
        return pd.DataFrame(rows).set_index("attack") if rows else pd.DataFrame()

    def replicas(self) -> pd.DataFrame:
        """Per sample: its nearest member, their similarity, and whether it reaches the replica threshold."""
        sim, nn = self.arrays["sample_sim"], self.arrays["sample_nn"][:, 0]
        return pd.DataFrame(
            {
                "sample": np.arange(len(sim)),
                "nearest_member": [self.member_ids[int(i)] for i in nn],
                "similarity": sim,
                "replica": sim >= self.replication["threshold"],
            }
        )

    def membership_scores(self) -> pd.DataFrame:
        """Per attack and candidate image: its score (higher = more member-like) and whether it was a member."""
        frames = []
        for key in self.results["attacks"]:
            pos, neg = self.arrays[f"attack_{key}_pos"], self.arrays[f"attack_{key}_neg"]
            frames.append(
                pd.DataFrame(
                    {
                        "attack": key,
                        "member": [True] * len(pos) + [False] * len(neg),
                        "score": np.concatenate([pos, neg]),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["attack", "member", "score"])

    def to_json(self, indent: int | None = 2) -> str:
        """results.json, exactly as `cpaudit audit` writes it."""
        return json.dumps(self.results, indent=indent)

    def _repr_html_(self) -> str:
        nn = self.replication
        rows = [
            ("verdict", self.verdict),
            (
                "replicas (threat model: samples)",
                f"{nn['replicas']} of {nn['n_samples']} ({nn['replica_rate']:.1%}); "
                f"held-out images over the threshold {nn['holdout_over_threshold']} of {nn['n_holdout']}",
            ),
        ]
        for tm, t in self.threat_models.items():
            h = t["strongest"]
            if h is not None:
                rows.append(
                    (
                        f"strongest attack (threat model: {tm})",
                        f"AUC {h['auc']:.3f} (95% CI {h['auc_ci95'][0]:.3f}-"
                        f"{h['auc_ci95'][1]:.3f}; chance {h['chance_band95'][0]:.3f}-{h['chance_band95'][1]:.3f})",
                    )
                )
        rows.append((f"FID ({self.quality['features']})", f"{self.quality['fid']:.3f}"))
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>cpaudit audit: {'passed' if self.passed else 'FAILED'}</caption>{body}</table>"


@dataclass(frozen=True)
class FidReport:
    """FID and KID between two image sets on one embedding (threat model: none; a quality figure)."""

    fid: float
    kid: float
    features: str
    n_a: int
    n_b: int
    warning: str | None
    results: dict = field(repr=False)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.results, indent=indent)
