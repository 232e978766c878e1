"""Do CPSample's cost cuts move its frontier point, and where do the member-targeted variants land (issue 39)?

    python benchmarks/cpsample_cuts.py [--model DIR --classifier DIR] [--n 1024] [--first-seed 1000000] [--out JSON]

On the pixel demo model, each setting is drawn from the same seeds (tune's evaluation seeds, 1,000,000 on) and
scored as `cpaudit tune` scores a point (auditing/frontier.py evaluate_samples: replicas, sample-only AUC, pixel
FID against the held-out set). The cuts (Protection.check_every, a t window above which the learned classifier
never fired in benchmarks/cpsample_firing.py) also report the share of samples bit-identical to the default's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cpaudit.auditing.frontier import Reference, evaluate_samples  # noqa: E402
from cpaudit.data.members import model_members  # noqa: E402
from cpaudit.models.load import load_model  # noqa: E402
from cpaudit.pipelines.tune_grid import CPS_REPULSION, EXACT_MEMBER, LEARNED  # noqa: E402
from cpaudit.sampling.defences import Guides, Setting, draw_setting  # noqa: E402
from cpaudit.sampling.protection import Protection  # noqa: E402
from cpaudit.sampling.repulsion import Repulsion  # noqa: E402
from cpaudit.seeding import numpy_generator  # noqa: E402
from cpaudit.similarity.pixel import PIXEL_REPLICA_THRESHOLD  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "reports" / "demo" / "runs"


def settings(classifier: str) -> list[Setting]:
    """The unprotected point, the learned default and its cuts, then the member-targeted variants."""
    learned = Protection(classifier)
    cut = [
        Setting(LEARNED, f"default, check every {k}", protection=Protection(classifier, check_every=k))
        for k in (2, 3, 5)
    ]
    window = [Setting(LEARNED, f"default, t <= {hi}", protection=Protection(classifier, t_max=hi)) for hi in (750, 700)]
    both = [
        Setting(
            CPS_REPULSION,
            f"scale {s:g}, repulsion lambda 0.8 scale {r:g}",
            protection=Protection(classifier, scale=s),
            repulsion=Repulsion(0.8, r),
        )
        for s, r in ((30, 30), (30, 100), (100, 100))
    ]
    member = [
        Setting(
            EXACT_MEMBER, f"alpha 0.4, scale {s:g}", protection=Protection("exact", 0.4, s, rule="away-from-member")
        )
        for s in (1, 3, 10)
    ]
    return [
        Setting("none", "unprotected"),
        Setting(LEARNED, "default", protection=learned),
        *cut,
        *window,
        Setting("nearest-member repulsion", "lambda 0.8, scale 100", repulsion=Repulsion(0.8, 100)),
        *both,
        *member,
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=DEMO / "model")
    ap.add_argument("--classifier", type=Path, default=DEMO / "classifier")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--first-seed", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cpsample_cuts.json")
    a = ap.parse_args()
    model = load_model(a.model)
    data, split = model_members(model.folder, model.config, None)
    members, holdout = data.take(split.member_idx), data.take(split.holdout_idx)
    ref = Reference.of(members, holdout, threshold=PIXEL_REPLICA_THRESHOLD)
    guides = Guides(members, torch.device("cpu"), membership=(data, split))
    rows, base_fid, default_images = [], None, None
    for s in settings(str(a.classifier)):
        t0 = time.perf_counter()
        d = draw_setting(model, s, guides, a.first_seed, a.n)
        seconds = time.perf_counter() - t0
        fig = evaluate_samples(d.images, ref, numpy_generator(0))
        base_fid = fig["fid"] if base_fid is None else base_fid
        if s.label == "default":
            default_images = d.images
        same = None
        if default_images is not None and s.defence == LEARNED:
            same = float((d.images == default_images).flatten(1).all(1).float().mean())
        row = {
            **s.to_dict(),
            "replicas": fig["replicas"],
            "sample_only_auc": round(fig["sample_only_auc"], 4),
            "sample_only_auc_ci95": [round(v, 4) for v in fig["sample_only_auc_ci95"]],
            "fid": round(fig["fid"], 3),
            "fid_ratio": round(fig["fid"] / base_fid, 3),
            "fired_fraction": round(d.fired_fraction, 4),
            "identical_to_default": same,
            "seconds": round(seconds, 2),
        }
        rows.append(row)
        print(
            f"{s.defence:32s} {s.label:42s} replicas {row['replicas']:4d}  AUC {row['sample_only_auc']:.3f}  "
            f"FID {row['fid']:.2f} ({row['fid_ratio']:.2f}x)  fired {row['fired_fraction']:.3f}  "
            f"same as default {'-' if same is None else f'{same:.3f}'}  {seconds:.1f} s",
            flush=True,
        )
    record = {
        "model": str(a.model),
        "classifier": str(a.classifier),
        "n": a.n,
        "first_seed": a.first_seed,
        "rows": rows,
    }
    a.out.write_text(json.dumps(record, indent=1).replace(f"{ROOT}/", "") + "\n")  # paths relative to the repo
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
