"""The text-to-image frontier at a member count (issue 39): every sampling-time defence at its default, the newer
ones (delayed and opposite guidance, anti-memorisation guidance, CPSample pushing from the member being copied) and
the reference model, sampled on evaluation seeds and audited (pipelines/demo_text.py with frontier=True); every
quality figure of the table is the audit's own pooled 8x8 block.

    python -m benchmarks.text_frontier --model runs/text256/model --reference runs/text256/reference \\
        --per-caption 1 --out reports/frontier-text-256

The models: `cpaudit train-diffusion captioned-digits --text --n-members N --n-holdout 256 --steps 1300
--vae-steps 300 --seed 0 --out runs/textN/model` (the text demo's recipe at N members) and `cpaudit
train-diffusion --reference-for runs/textN/model --out runs/textN/reference`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cpaudit.pipelines.demo_text import TextDemoOptions, demo_text


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--reference", type=Path)
    ap.add_argument("--classifier", type=Path, help="reuse a trained classifier of --model [default: train one]")
    ap.add_argument("--per-caption", type=int, default=3)
    ap.add_argument(
        "--only",
        help="semicolon-separated defence labels to run besides unprotected (labels hold commas) [default: all]",
    )
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    opts = TextDemoOptions(
        out=a.out,
        work=Path("runs") / f"frontier-{a.out.name}",
        model=a.model,
        classifier=a.classifier,
        reference=a.reference,
        frontier=True,
        per_caption=a.per_caption,
        only=None if a.only is None else tuple(x.strip() for x in a.only.split(";")),
    )

    def say(what: str, step: int, _total: int, _metrics: object) -> None:
        if step == 0:
            print(f"{time.perf_counter() - t0:7.1f}s {what}", flush=True)

    result = demo_text(opts, stage=say)
    for row in result.table:
        print(row["defence"], round(row["extraction_auc"], 3), row["passed"], round(row["fid_ratio"], 2))


if __name__ == "__main__":
    main()
