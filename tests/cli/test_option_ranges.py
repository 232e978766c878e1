"""Every numeric option refuses out-of-range values with exit code 2 and one line naming the option."""

import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app

runner = CliRunner()
BASE = {
    "train-diffusion": ["train-diffusion", "digits", "--out", "{tmp}/o"],
    "train-classifier": ["train-classifier", "digits", "--out", "{tmp}/o"],
    "sample": ["sample", "--model", "{tmp}", "--out", "{tmp}/o"],
    "audit": ["audit", "--samples", "{tmp}", "--data", "digits", "--split", "{tmp}/s.json", "--out", "{tmp}/o"],
}
CASES = [
    ("train-diffusion", "--n-members", "0"),
    ("train-diffusion", "--seed", "-1"),
    ("train-diffusion", "--steps", "0"),
    ("train-diffusion", "--batch-size", "0"),
    ("train-diffusion", "--lr", "0"),
    ("train-diffusion", "--ema", "1.5"),
    ("train-diffusion", "--timesteps", "1"),
    ("train-diffusion", "--channels", "2"),
    ("train-diffusion", "--res-blocks", "0"),
    ("train-diffusion", "--channel-mult", "1,0"),
    ("train-diffusion", "--resize", "0x0"),
    ("train-diffusion", "--schedule", "square"),
    ("train-diffusion", "--checkpoint-every", "0"),
    ("train-diffusion", "--n-members", "99999"),
    ("train-classifier", "--n-members", "0"),
    ("train-classifier", "--steps", "-5"),
    ("train-classifier", "--label-seed", "-1"),
    ("train-classifier", "--lr", "7"),
    ("sample", "--n", "0"),
    ("sample", "--steps", "0"),
    ("sample", "--eta", "2"),
    ("sample", "--alpha", "-0.1"),
    ("sample", "--alpha", "0.6"),
    ("sample", "--scale", "-1"),
    ("sample", "--batch-size", "0"),
    ("sample", "--seed", "-3"),
    ("audit", "--threshold", "1.5"),
    ("audit", "--permutations", "0"),
    ("audit", "--mia-draws", "0"),
    ("audit", "--max-replica-rate", "2"),
    ("audit", "--max-mia-auc", "-1"),
    ("audit", "--min-permutation-p", "1.1"),
    ("audit", "--mia-t", "a,b"),
]


@pytest.mark.parametrize("command,option,value", CASES)
def test_out_of_range(tmp_path, command, option, value):
    args = [a.format(tmp=tmp_path) for a in BASE[command]] + [option, value]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, (args, r.output)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    named = option in lines[0] or option.lstrip("-").replace("-", " ") in lines[0] or option.lstrip("-") in lines[0]
    assert named, lines[0]
    assert not (tmp_path / "o").exists()
