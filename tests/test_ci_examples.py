"""The CI examples run as documented: their commands, in order, on a small model, in a clean folder."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def github_commands() -> list[str]:
    wf = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    steps = wf["jobs"]["audit"]["steps"]
    return [s["run"] for s in steps if "run" in s and not s["name"].startswith("Install")]


def gitlab_commands() -> list[str]:
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())["privacy-audit"]
    assert job["artifacts"]["reports"]["junit"] == "audit/junit.xml"
    return list(job["script"])


def _run(commands: list[str], cwd: Path, env: dict) -> None:
    for cmd in commands:
        r = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"


@pytest.mark.slow
@pytest.mark.parametrize("commands", [github_commands, gitlab_commands], ids=["github", "gitlab"])
def test_ci_example_commands_run_and_gate(commands, tiny_model, tmp_path):
    shutil.copytree(tiny_model, tmp_path / "runs" / "model")
    env = {
        **os.environ,
        "MODEL": "runs/model",
        "DATA": "digits",
        "N_SAMPLES": "24",
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    _run(commands(), tmp_path, env)
    cases = ET.parse(tmp_path / "audit" / "junit.xml").getroot().iter("testcase")
    assert len(list(cases)) >= 1 and (tmp_path / "audit" / "report" / "report.html").is_file()
    # With a committed baseline the same commands compare against it (the accepted run passes against itself).
    (tmp_path / "privacy-baseline").mkdir()
    shutil.copy(tmp_path / "audit" / "report" / "results.json", tmp_path / "privacy-baseline" / "results.json")
    shutil.rmtree(tmp_path / "audit")
    _run(commands(), tmp_path, env)
    names = [c.get("name") for c in ET.parse(tmp_path / "audit" / "junit.xml").getroot().iter("testcase")]
    assert any("baseline" in n for n in names), names
