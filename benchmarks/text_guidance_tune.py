"""The newer text defences' settings (issue 39), tuned on the text demo's model by prompted extraction
(pipelines/tune_text.py) at 2 seeds a caption to fit the time; their defaults in sampling/cfg_schedule.py and
sampling/amg.py are these choices.

    python -m benchmarks.text_guidance_tune benchmarks/results/text_guidance_tune delayed-cfg,opposite-cfg,amg
    python -m benchmarks.text_guidance_tune benchmarks/results/text_guidance_tune2 opposite-cfg,amg

(the first round ran the narrower grid tune_text.guidance_grid's comment names; the second, the grid there now)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cpaudit.pipelines.tune_text import TextTuneOptions, tune_text


def main(out: str, families: str) -> None:
    t0 = time.time()
    opts = TextTuneOptions(
        model=Path("reports/demo-text/runs/model"),
        out=Path(out),
        per_caption=2,
        families=tuple(families.split(",")),
    )
    tune_text(opts, progress=lambda what, done, total: print(f"{time.time() - t0:7.1f}s {what} {done}/{total}"))
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main(*sys.argv[1:3])
