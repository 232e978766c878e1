"""One meaning per name (issue 37): CPSample's mode is `guide_when` (--guide-when confident|every-step, run.json
"guide_when"), the old --guide flag, run.json key and value still read for one release; run.json's "seed_range"
is [first, last] while samples.npz's "seeds" lists every seed."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.errors import ConfigError
from cpaudit.sampling.protection import Protection


@pytest.mark.parametrize(
    "given, mode",
    [
        ({}, "confident"),
        ({"guide_when": "every-step"}, "every-step"),
        ({"guide_when": "when-confident"}, "confident"),  # the old value
        ({"guide": "every-step"}, "every-step"),  # the old keyword, as an old run.json's protection reads
        ({"guide": "when-confident"}, "confident"),
    ],
)
def test_guide_when_reads_the_new_and_the_old_names(given, mode):
    p = Protection("exact", 0.0, 1.0, **given)
    assert p.guide_when == mode and p.to_dict()["guide_when"] == mode and "guide" not in p.to_dict()
    assert p.inactive == (mode == "confident")  # alpha 0 guides nowhere only when it waits for confidence


def test_an_unknown_guide_when_is_refused():
    with pytest.raises(ConfigError, match="guide_when must be one of confident, every-step"):
        Protection(guide_when="sometimes")


def test_the_cli_takes_guide_when_and_the_old_guide_flag_with_a_notice(tiny_model, tmp_path):
    runner = CliRunner()
    common = ["--quiet", "sample", "--model", str(tiny_model), "--n", "3", "--steps", "2", "--seed", "7"]
    protect = ["--protect", "--alpha", "0", "--scale", "1"]
    new = runner.invoke(app, [*common, "--out", str(tmp_path / "new"), *protect, "--guide-when", "every-step"])
    assert new.exit_code == 0, new.output
    old = runner.invoke(app, [*common, "--out", str(tmp_path / "old"), *protect, "--guide", "every-step"])
    assert old.exit_code == 0, old.output
    notice = [line for line in old.stderr.splitlines() if "--guide" in line]
    assert notice == ["cpaudit: --guide is renamed --guide-when (the old flag goes in the next release)"]
    runs = [json.loads((tmp_path / name / "run.json").read_text()) for name in ("new", "old")]
    assert runs[0]["protection"] == runs[1]["protection"] and runs[0]["protection"]["guide_when"] == "every-step"
    assert runs[0]["fired_fraction"] == 1.0  # every step guides, although alpha 0 makes no sample confident
    assert runs[0]["seed_range"] == [7, 9] and "seeds" not in runs[0]
    with np.load(tmp_path / "new" / "samples.npz") as f:
        assert f["seeds"].tolist() == [7, 8, 9]
