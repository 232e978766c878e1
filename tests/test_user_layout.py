"""A user's own layout: train/ and holdout/ folders of PNG and WebP (a metadata.jsonl beside the members),
audited without a split.json, and `cpaudit split` writing one the audit accepts. Refusals are one line, exit 2."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cpaudit.cli.app import app

N = 12  # per side
FAST = ["--report-only", "--permutations", "20", "--attack-nulls", "19", "--quiet"]


def _image(k: int) -> np.ndarray:
    rng = np.random.default_rng(k)
    return (rng.random((16, 16)) * 255).astype(np.uint8)


@pytest.fixture()
def layout(tmp_path) -> Path:
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    (root / "holdout").mkdir()
    lines = []
    for k in range(N):
        Image.fromarray(_image(k)).save(root / "train" / f"img{k:02d}.png")  # grey PNG
        lines.append(json.dumps({"file_name": f"img{k:02d}.png", "text": f"a photo of item {k}"}))
        # WebP is colour-only: a grey image saved as WebP decodes as RGB
        Image.fromarray(_image(100 + k)).save(root / "holdout" / f"img{k:02d}.webp", lossless=True)
    (root / "train" / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    samples = tmp_path / "samples"
    samples.mkdir()
    for k in range(8):  # 4 copies of members, 4 new images
        Image.fromarray(_image(k if k < 4 else 1000 + k)).convert("RGB").save(samples / f"s{k}.png")
    return tmp_path


def _audit(args: list[str], out: Path):
    return CliRunner().invoke(app, ["audit", "--out", str(out), *args, *FAST])


def test_folders_audited_without_a_split_and_split_written_for_them(layout):
    d, s = layout / "data", str(layout / "samples")
    r = _audit(["--samples", s, "--members", str(d / "train"), "--holdout", str(d / "holdout")], layout / "a")
    assert r.exit_code == 0, r.output
    # WebP has no grey mode: the held-out images decode as RGB with equal channels, and are read as grey again
    assert "read the 12 holdout image(s)" in r.output and "as grey" in r.output  # said in one line
    first = json.loads((layout / "a" / "results.json").read_text())
    assert first["nn"]["replicas"] == 4 and first["nn"]["n_samples"] == 8 and first["setup"]["n_members"] == N

    r = CliRunner().invoke(
        app, ["split", "--members", str(d / "train"), "--holdout", str(d / "holdout"), "--out", str(d / "split.json")]
    )
    assert r.exit_code == 0, r.output
    manifest = json.loads((d / "split.json").read_text())
    assert manifest["members"][0]["caption"] == "a photo of item 0" and manifest["seed"] is None
    r = _audit(["--samples", s, "--split", str(d / "split.json")], layout / "b")  # the split names its sources
    assert r.exit_code == 0, r.output
    second = json.loads((layout / "b" / "results.json").read_text())
    assert second["nn"] == first["nn"] and second["setup"]["data_fingerprint"] == first["setup"]["data_fingerprint"]


def test_a_split_json_of_file_sha256s_is_accepted(layout):
    """The hashes `sha256sum` prints, of the files as stored, name the images as well as cpaudit's own."""
    d = layout / "data"

    def row(p: Path) -> dict:
        return {"id": p.relative_to(d).as_posix(), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}

    split = {
        "seed": 0,
        "members": [row(p) for p in sorted((d / "train").glob("*.png"))],
        "holdout": [row(p) for p in sorted((d / "holdout").glob("*.webp"))],
    }
    (layout / "split.json").write_text(json.dumps(split))
    r = _audit(
        ["--samples", str(layout / "samples"), "--data", str(d), "--split", str(layout / "split.json")], layout / "a"
    )
    assert r.exit_code == 0, r.output
    assert json.loads((layout / "a" / "results.json").read_text())["nn"]["replicas"] == 4
    split["members"][0]["sha256"] = "0" * 64
    (layout / "split.json").write_text(json.dumps(split))
    r = _audit(
        ["--samples", str(layout / "samples"), "--data", str(d), "--split", str(layout / "split.json")], layout / "b"
    )
    assert r.exit_code == 2 and "neither that of the file nor that of its pixels" in r.output


def test_split_from_a_csv_listing(layout):
    d = layout / "data"
    rows = (
        ["file_name,member"]
        + [f"train/img{k:02d}.png,1" for k in range(N)]
        + [f"holdout/img{k:02d}.webp,no" for k in range(N)]
    )
    (layout / "listing.csv").write_text("\n".join(rows) + "\n")
    r = CliRunner().invoke(
        app,
        [
            "split",
            "--listing",
            str(layout / "listing.csv"),
            "--data",
            str(d),
            "--out",
            str(layout / "split.json"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    printed = r.output[r.output.index("{") : r.output.rindex("}") + 1]  # after the one-line conversion warning
    assert json.loads(printed) == {"split": str(layout / "split.json"), "n_members": N, "n_holdout": N}
    r = _audit(
        ["--samples", str(layout / "samples"), "--data", str(d), "--split", str(layout / "split.json")], layout / "a"
    )
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "args, says",
    [
        (["--members", "{d}/train"], "give both --members and --holdout"),
        ([], "cpaudit never guesses membership"),
        (["--members", "{d}/train", "--holdout", "{d}/holdout", "--split", "{d}/x.json"], "not both"),
        (["--members", "{d}/train", "--holdout", "{d}/holdout", "--resize", "big"], "expected HxW"),
        (["--members", "{d}/train", "--holdout", "{d}/nowhere"], "no such file or folder"),
    ],
)
def test_refusals_are_one_line_exit_2(layout, args, says):
    d = layout / "data"
    r = _audit(["--samples", str(layout / "samples"), *[a.format(d=d) for a in args]], layout / "a")
    assert r.exit_code == 2, r.output
    assert says in r.output and len(r.output.strip().splitlines()) == 1 and not (layout / "a").exists()


def test_samples_of_another_size_need_resize(layout):
    d = layout / "data"
    big = layout / "big"
    big.mkdir()
    for k in range(6):
        Image.fromarray(np.kron(_image(k), np.ones((2, 2), np.uint8))).convert("RGB").save(big / f"s{k}.png")
    pair = ["--members", str(d / "train"), "--holdout", str(d / "holdout")]
    r = _audit(["--samples", str(big), *pair], layout / "a")
    assert r.exit_code == 2 and "--resize 32x32" in r.output
    r = _audit(["--samples", str(big), *pair, "--resize", "32x32"], layout / "b")
    assert r.exit_code == 0, r.output
    assert json.loads((layout / "b" / "results.json").read_text())["setup"]["image_shape"] == [1, 32, 32]


def test_an_odd_image_size_names_the_resize_that_works(tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    for k in range(4):
        Image.fromarray((np.random.default_rng(k).random((25, 25)) * 255).astype(np.uint8)).save(faces / f"{k}.png")
    r = CliRunner().invoke(
        app,
        ["train-diffusion", str(faces), "--out", str(tmp_path / "m"), "--n-members", "2", "--steps", "1", "--quiet"],
    )
    assert r.exit_code == 2 and "pass --resize 24x24 or --resize 26x26" in r.output, r.output
    assert not (tmp_path / "m").exists()


def test_pyproject_tool_cpaudit_sets_any_audit_option(layout, monkeypatch):
    """[tool.cpaudit] and its policy table, as ruff's [tool.ruff.lint]; the command line overrides the file."""
    monkeypatch.chdir(layout)
    (layout / "pyproject.toml").write_text(
        '[project]\nname = "mine"\n\n[tool.cpaudit]\nmembers = "data/train"\nholdout = "data/holdout"\nout = "from-file"\n'
        "permutations = 20\nattack_nulls = 19\nthreshold = 0.9\n\n[tool.cpaudit.policy]\nreport_only = true\n"
        "max_replica_rate = 0.9\n"
    )
    r = CliRunner().invoke(app, ["audit", "--samples", "samples", "--quiet"])
    assert r.exit_code == 0, r.output
    res = json.loads((layout / "from-file" / "results.json").read_text())
    assert res["nn"]["threshold"] == 0.9 and res["policy"]["report_only"] and res["permutation"]["n_permutations"] == 20
    r = CliRunner().invoke(app, ["audit", "--samples", "samples", "--threshold", "0.95", "--out", "cli", "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads((layout / "cli" / "results.json").read_text())["nn"]["threshold"] == 0.95
