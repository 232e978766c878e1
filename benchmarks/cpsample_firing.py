"""Where in t the learned classifier's CPSample guidance fires (issue 39): per DDIM step, the fraction of
samples guided, on the pixel demo model at the learned classifier's defaults (alpha 0.4, scale 100).

    python benchmarks/cpsample_firing.py [--model DIR --classifier DIR] [--n 256] [--steps 50] [--out JSON]

sample_batch returns only a per-sample count of guided steps, so a wrapping guide records, at each step, how
many rows the guidance fired on. The profile says where a t window, or a confidence check run only every k-th
step (Protection.check_every), costs nothing: where the guidance never fires, the classifier's forward pass is
the whole cost of protection.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cpaudit.core.paths import Pred  # noqa: E402
from cpaudit.models.load import load_model  # noqa: E402
from cpaudit.sampling.guides import resolve_logit_fn  # noqa: E402
from cpaudit.sampling.protection import Protection, protection_guide  # noqa: E402
from cpaudit.sampling.sampler import SamplerConfig, sample_batch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "reports" / "demo" / "runs"


def firing_profile(model_dir: Path, classifier: Path, n: int, steps: int, protection: Protection) -> list[dict]:
    """Per step, in sampling order: t, and the fraction of the n samples the guidance fired on."""
    loaded = load_model(model_dir)
    logit_fn, _ = resolve_logit_fn(loaded, str(classifier))
    rows: list[dict] = []
    guide = recording_guide(protection_guide(logit_fn, protection), rows)
    sample_batch(
        loaded.pair_fn(), loaded.path, loaded.image_shape, list(range(n)), SamplerConfig(steps=steps), guide=guide
    )
    return rows


def recording_guide(guide, rows: list[dict]):
    """`guide`, appending at each step {"t", "fired_fraction"} to `rows` (the sampler keeps only per-sample counts)."""

    def recording(pred: Pred, x_t: torch.Tensor, t: torch.Tensor, at: tuple[float, float]):
        out, fired = guide(pred, x_t, t, at)
        rows.append({"t": int(t[0]), "fired_fraction": round(float(fired.float().mean()), 4)})
        return out, fired

    return recording


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=DEMO / "model")
    ap.add_argument("--classifier", type=Path, default=DEMO / "classifier")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cpsample_firing.json")
    a = ap.parse_args()
    p = Protection(str(a.classifier))
    rows = firing_profile(a.model, a.classifier, a.n, a.steps, p)
    for r in rows:
        print(f"  t {r['t']:4d}   fired {r['fired_fraction']:.3f}")
    overall = sum(r["fired_fraction"] for r in rows) / len(rows)
    print(f"overall fired fraction (sample-steps): {overall:.4f}")
    clf = str(a.classifier.relative_to(ROOT) if a.classifier.is_relative_to(ROOT) else a.classifier)
    record = {
        "model": str(a.model.relative_to(ROOT) if a.model.is_relative_to(ROOT) else a.model),
        "classifier": clf,
        "protection": {**p.to_dict(), "classifier": clf},
        "n_samples": a.n,
        "steps": a.steps,
        "seeds": [0, a.n - 1],
        "overall_fired_fraction": round(overall, 4),
        "per_step": rows,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
