"""Every command cpaudit prints as advice works as printed: the audit report's "What to do next" and the hints
inside one-line refusals, tried as a new user would (issue 34): a Stable Diffusion folder that diffusers wrote,
with members and held-out images as folders with metadata.jsonl captions and `cpaudit split` done; cpaudit's own
pixel model; and a diffusers UNet2DModel trained elsewhere.

How a printed command is run (`run_hint`): the text between backticks that starts with `cpaudit `, split as a
shell would (shlex), run through typer's CliRunner in the folder the user works in. A placeholder (an upper-case
word: DIR, MEMBERS, HOLDOUT, SPLIT, MODEL, DATA) is replaced by the user's own path for the option before it:
`--members` the members folder, `--holdout` the held-out folder, `--split` the split.json, `--model` the model,
`--out` a new folder. Nothing else is changed, added or removed, except options that set only the effort, appended
so that a test takes seconds where the defaults take minutes: `--steps 5` to `train-classifier`, and `--permutations
20 --mia-t 100 --mia-draws 1 --attack-nulls 40` to `audit`.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cpaudit.cli.app import app

diffusers = pytest.importorskip("diffusers")
pytest.importorskip("transformers")
runner = CliRunner()

COLOURS = ["red", "blue", "green", "brown", "grey", "pink"]
ANIMALS = ["cat", "dog"]
CAPTIONS = [f"a photo of a {c} {a}" for a in ANIMALS for c in COLOURS]  # 12: 6 members, 6 held out
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]+$")
HINT = re.compile(r"`(cpaudit [^`]+)`")
EFFORT = {
    "train-classifier": ["--steps", "5"],
    "audit": ["--permutations", "20", "--mia-t", "100", "--mia-draws", "1", "--attack-nulls", "40"],
}


def ok(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 0, f"cpaudit {shlex.join(args)}\n{r.output}"
    return r.output


def refused(args: list[str]) -> str:
    """The one line a refusal prints (exit 2)."""
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, f"cpaudit {shlex.join(args)}\n{r.output}"
    return r.output


def hints(text: str) -> list[str]:
    return HINT.findall(" ".join(text.split()))  # a refusal may wrap in a narrow terminal


def run_hint(command: str, paths: dict[str, str], allowed: tuple[int, ...] = (0,)) -> list[str]:
    """Run a printed command as the module docstring says; returns the arguments it ran with."""
    tokens = shlex.split(command)
    assert tokens[0] == "cpaudit", command
    args = []
    for i, tok in enumerate(tokens[1:], start=1):
        if PLACEHOLDER.match(tok):
            option = tokens[i - 1]
            assert option in paths, f"{command}: no path for {tok} after {option}"
            tok = paths[option]
            if option == "--out":
                paths["--out"] = tok + "x"  # each --out of a command is a new folder
        args.append(tok)
    args += EFFORT.get(args[0], [])
    r = runner.invoke(app, args)
    assert r.exit_code in allowed, f"printed: {command}\nran: cpaudit {shlex.join(args)}\n{r.output}"
    return args


def _write_images(folder: Path, captions: list[str], seed: int, size: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lines = []
    for k, caption in enumerate(captions):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"{k:03d}.png")
        lines.append(json.dumps({"file_name": f"{k:03d}.png", "text": caption}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """What a user has: a Stable Diffusion folder diffusers wrote (tiny components, random weights), members/ and
    holdout/ with metadata.jsonl captions, and split.json from `cpaudit split`."""
    from cpaudit.core.schedules import Schedule
    from cpaudit.models.tiny_sd import (
        TinySDConfig,
        save_pipeline,
        tiny_text_encoder,
        tiny_unet,
        tiny_vae,
        word_tokenizer,
    )

    root = tmp_path_factory.mktemp("hints")
    torch.manual_seed(0)
    cfg = TinySDConfig(vae_channels=(8, 16), unet_channels=(16, 32), text_width=16, attention_head_dim=4)
    tok = word_tokenizer(CAPTIONS, cfg.max_length)
    save_pipeline(
        root / "sd",
        tiny_unet(8, cfg),
        tiny_vae(1, 16, cfg),
        tiny_text_encoder(tok, cfg),
        tok,
        Schedule("scaled_linear", 1000, 0.00085, 0.012),
    )
    _write_images(root / "members", CAPTIONS[::2], seed=1, size=16)
    _write_images(root / "holdout", CAPTIONS[1::2], seed=2, size=16)
    ok(
        [
            "split",
            "--members",
            str(root / "members"),
            "--holdout",
            str(root / "holdout"),
            "--out",
            str(root / "split.json"),
        ]
    )
    return root


@pytest.fixture
def in_workspace(workspace, monkeypatch) -> Path:
    monkeypatch.chdir(workspace)
    return workspace


def _paths(model: str, out: str) -> dict[str, str]:
    return {"--members": "members", "--holdout": "holdout", "--split": "split.json", "--model": model, "--out": out}


def test_the_exact_posterior_for_a_stable_diffusion_folder_trained_elsewhere(in_workspace):
    """The new user's path: sample --extraction --split --protect (exact, the default) works; without the split,
    the refusal's hint (`cpaudit split ...`) works as printed, and sampling with that split then works."""
    base = ["sample", "--model", "sd", "--extraction", "--per-caption", "1", "--steps", "2"]
    for extra in (["--protect", "--classifier", "exact"], ["--protect"]):
        out = f"exact{len(extra)}"
        ok([*base, "--split", "split.json", "--out", out, *extra, "--alpha", "0.5", "--quiet"])
        run = json.loads((in_workspace / out / "run.json").read_text())
        assert run["protection"]["classifier"] == "exact" and run["protection"]["n_members"] == 6
        assert run["protection"]["members_from"] == {"split": "split.json"} and run["fired_fraction"] == 1.0
    # --members/--holdout instead of --split: the same members, the same images.
    ok(
        [
            *base,
            "--members",
            "members",
            "--holdout",
            "holdout",
            "--out",
            "pair",
            "--protect",
            "--alpha",
            "0.5",
            "--quiet",
        ]
    )
    same = [np.load(in_workspace / f / "samples.npz")["images"] for f in ("exact1", "pair")]
    assert np.array_equal(*same)

    for args in (
        [*base, "--out", "x", "--protect"],
        ["sample", "--model", "sd", "--prompt", "a photo of a red cat", "--out", "x", "--protect"],
        ["train-classifier", "--model", "sd", "--out", "x"],
    ):
        line = refused(args)
        assert "records no training data" in line and "--split" in line and not (in_workspace / "x").exists()
        (printed,) = hints(line)
        assert printed.startswith("cpaudit split ")
        (in_workspace / "split.json").unlink()
        run_hint(printed, _paths("sd", "DIR"))
        ok([*base, "--split", "split.json", "--out", f"again-{args[0]}", "--protect", "--alpha", "0.5", "--quiet"])


def test_members_of_another_size_are_refused_with_the_resize_that_fits(in_workspace):
    """Members at 32x32 for a model of 16x16 images: refused in one line naming --resize 16x16; with it, sampled."""
    if not (in_workspace / "members32").exists():
        _write_images(in_workspace / "members32", CAPTIONS[::2], seed=1, size=32)
        _write_images(in_workspace / "holdout32", CAPTIONS[1::2], seed=2, size=32)
    args = [
        "sample",
        "--model",
        "sd",
        "--extraction",
        "--per-caption",
        "1",
        "--steps",
        "2",
        "--members",
        "members32",
        "--holdout",
        "holdout32",
        "--protect",
        "--out",
        "resized",
    ]
    line = refused(args)
    assert "(1, 32, 32)" in line and line.strip().endswith("pass --resize 16x16")
    ok([*args, "--resize", "16x16", "--quiet"])


def test_a_learned_classifier_for_a_stable_diffusion_folder_trained_elsewhere(in_workspace):
    """train-classifier --model --split on the pipeline's latents, then sampling with it; a pixel classifier of the
    same schedule is refused with a train-classifier command that works as printed."""
    from cpaudit.core.schedules import Schedule
    from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
    from cpaudit.train.classifier import ClassifierTrainConfig

    ok(
        [
            "train-classifier",
            "--model",
            "sd",
            "--split",
            "split.json",
            "--out",
            "clf",
            "--steps",
            "3",
            "--channels",
            "8",
            "--quiet",
        ]
    )
    assert json.loads((in_workspace / "clf" / "config.json").read_text())["space"] == "latent"
    base = ["sample", "--model", "sd", "--extraction", "--per-caption", "1", "--steps", "2", "--split", "split.json"]
    ok([*base, "--protect", "--classifier", "clf", "--out", "learned", "--quiet"])
    # A classifier for the images, not the latents: the refusal prints the command that trains the right one.
    train_classifier(
        TrainClassifierOptions(
            data=None,
            out=in_workspace / "pixel-clf",
            split=Path("split.json"),
            schedule=Schedule("scaled_linear", 1000, 0.00085, 0.012),
            base_channels=8,
            train=ClassifierTrainConfig(steps=2, eval_every=2, eval_draws=1),
        )
    )
    line = refused([*base, "--protect", "--classifier", "pixel-clf", "--out", "x"])
    (printed,) = hints(line)
    args = run_hint(printed, _paths("sd", "latent-clf"))
    ok([*base, "--protect", "--classifier", args[args.index("--out") + 1], "--out", "learned2", "--quiet"])
    # A classifier trained on other members than the split given is refused.
    other = json.loads((in_workspace / "split.json").read_text())
    other["members"], other["holdout"] = other["members"][:5], other["holdout"] + other["members"][5:]
    (in_workspace / "other.json").write_text(json.dumps(other))
    line = refused(
        [
            "sample",
            "--model",
            "sd",
            "--prompt",
            "a photo of a red cat",
            "--steps",
            "2",
            "--split",
            "other.json",
            "--protect",
            "--classifier",
            "clf",
            "--out",
            "x",
        ]
    )
    assert "other members than the split given" in line


def test_the_audit_advice_for_a_stable_diffusion_folder_works_as_printed(in_workspace):
    """A gate fails; the report's next step names a protected sample command and an audit of its samples, complete
    with the model, the split and --extraction; both run as printed (the exact posterior over the split's members)."""
    ok(
        [
            "sample",
            "--model",
            "sd",
            "--extraction",
            "--per-caption",
            "1",
            "--steps",
            "2",
            "--split",
            "split.json",
            "--out",
            "plain",
            "--quiet",
        ]
    )
    # The samples alone (no --model): the model the advice samples is the one their run.json names.
    r = runner.invoke(
        app,
        [
            "audit",
            "--samples",
            "plain",
            "--split",
            "split.json",
            "--out",
            "audit",
            "--max-mia-auc",
            "0.01",
            "--permutations",
            "20",
            "--quiet",
        ],
    )
    assert r.exit_code == 1, r.output
    sample, audit = hints((in_workspace / "audit" / "report.md").read_text())
    assert sample == (
        "cpaudit sample --model sd --extraction --steps 2 --split split.json --protect --out plain-protected"
    )
    assert audit == "cpaudit audit --samples plain-protected --split split.json --out plain-protected-audit"
    run_hint(sample, _paths("sd", "unused"))
    assert (
        json.loads((in_workspace / "plain-protected" / "run.json").read_text())["protection"]["classifier"] == "exact"
    )
    run_hint(audit, _paths("sd", "unused"), allowed=(0, 1))
    assert (in_workspace / "plain-protected-audit" / "results.json").is_file()


def test_the_audit_advice_for_a_cpaudit_pixel_model_works_as_printed(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, split = str(tiny_model), str(tiny_model / "split.json")
    ok(["sample", "--model", model, "--n", "12", "--steps", "3", "--out", "plain", "--quiet"])
    r = runner.invoke(
        app,
        [
            "audit",
            "--samples",
            "plain",
            "--split",
            split,
            "--model",
            model,
            "--out",
            "audit",
            "--max-mia-auc",
            "0.01",
            *EFFORT["audit"],
            "--quiet",
        ],
    )
    assert r.exit_code == 1, r.output
    sample, audit = hints((tmp_path / "audit" / "report.md").read_text())
    assert sample == shlex.join(
        [
            "cpaudit",
            "sample",
            "--model",
            model,
            "--n",
            "12",
            "--steps",
            "3",
            "--split",
            split,
            "--data",
            "digits",
            "--protect",
            "--out",
            "plain-protected",
        ]
    )
    assert audit == shlex.join(
        [
            "cpaudit",
            "audit",
            "--samples",
            "plain-protected",
            "--split",
            split,
            "--data",
            "digits",
            "--model",
            model,
            "--out",
            "plain-protected-audit",
        ]
    )
    run_hint(sample, {})
    run_hint(audit, {}, allowed=(0, 1))
    results = json.loads((tmp_path / "plain-protected-audit" / "results.json").read_text())
    assert results["setup"]["sample_run"]["protection"]["classifier"] == "exact"


def test_the_advice_without_a_model_or_files_names_placeholders(tmp_path):
    """Samples audited alone, from memory: the model and members are placeholders, the output folders real names."""
    from cpaudit.report.summary import protect_commands

    setup = {
        "samples": "<samples: 8 images in memory>",
        "members": "members (8 images in memory)",
        "holdout": "holdout (8 images in memory)",
        "model": None,
        "sample_run": None,
    }
    sample, audit = protect_commands({"setup": setup, "release": "samples"})
    assert sample == "cpaudit sample --model MODEL --members MEMBERS --holdout HOLDOUT --protect --out runs/protected"
    assert (
        audit == "cpaudit audit --samples runs/protected --members MEMBERS --holdout HOLDOUT --out runs/protected-audit"
    )


@pytest.fixture(scope="module")
def unet_workspace(tmp_path_factory) -> Path:
    """A diffusers UNet2DModel folder (8x8 grey, random weights): a pixel model that records no members; members/
    and holdout/ of digits as PNGs."""
    from PIL import Image

    from cpaudit.data.digits import load_digits_set

    root = tmp_path_factory.mktemp("unet-hints")
    torch.manual_seed(0)
    diffusers.UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    ).save_pretrained(root / "unet")
    diffusers.DDPMScheduler(num_train_timesteps=1000).save_pretrained(root / "unet")
    digits = load_digits_set()
    for name, rows in (("members", range(0, 16)), ("holdout", range(16, 32))):
        (root / name).mkdir()
        for i in rows:
            Image.fromarray(digits.pixels[i, :, :, 0]).save(root / name / f"{i:03d}.png")
    return root


UNET_SAMPLE = ["sample", "--model", "unet", "--n", "4", "--steps", "3", "--protect", "--alpha", "0.5"]


def test_the_exact_posterior_for_a_diffusers_unet_trained_elsewhere(unet_workspace, monkeypatch):
    """Refused without members, with the split command, which works as printed; then sample --split --protect,
    train-classifier --model --split, and the Python API (protect(split=...) carries the members to sample)."""
    import cpaudit

    monkeypatch.chdir(unet_workspace)
    (printed,) = hints(refused([*UNET_SAMPLE, "--out", "x"]))
    run_hint(printed, _paths("unet", "split.json"))
    ok([*UNET_SAMPLE, "--split", "split.json", "--out", "prot", "--quiet"])
    assert json.loads((unet_workspace / "prot" / "run.json").read_text())["protection"]["n_members"] == 16
    ok(
        [
            "train-classifier",
            "--model",
            "unet",
            "--split",
            "split.json",
            "--out",
            "clf",
            "--steps",
            "3",
            "--channels",
            "8",
            "--quiet",
        ]
    )
    ok([*UNET_SAMPLE[:-3], "--split", "split.json", "--protect", "--classifier", "clf", "--out", "prot2", "--quiet"])

    with pytest.raises(cpaudit.CpauditError, match="records no training data"):
        cpaudit.protect("unet")
    drawn = cpaudit.sample(
        model="unet", n=4, steps=3, protection=cpaudit.protect("unet", split="split.json", alpha=0.5)
    )
    assert drawn.run["protection"]["members_from"] == {"split": "split.json"}
    assert np.array_equal(drawn.images, np.load(unet_workspace / "prot" / "samples.npz")["images"])


def test_the_audit_of_exact_protected_samples_of_a_model_trained_elsewhere(unet_workspace, monkeypatch):
    monkeypatch.chdir(unet_workspace)
    ok(["split", "--members", "members", "--holdout", "holdout", "--out", "split.json"])
    ok([*UNET_SAMPLE, "--split", "split.json", "--out", "prot-audited", "--quiet"])
    r = runner.invoke(
        app,
        [
            "audit",
            "--samples",
            "prot-audited",
            "--split",
            "split.json",
            "--model",
            "unet",
            "--out",
            "aud",
            *EFFORT["audit"],
            "--quiet",
        ],
    )
    assert r.exit_code in (0, 1), r.output


def test_tune_takes_the_members_of_a_model_trained_elsewhere(unet_workspace, workspace, monkeypatch):
    """tune's pipelines take the members as sample does (TuneOptions/TextTuneOptions.membership; the tune command
    has no --split yet); the DP-SGD runs, which retrain on the model's own data, are left out for such a model."""
    from cpaudit.data.members import MemberSource
    from cpaudit.errors import InputError
    from cpaudit.pipelines.tune import TuneOptions, tune
    from cpaudit.pipelines.tune_text import TextTuneOptions, tune_text

    monkeypatch.chdir(unet_workspace)
    ok(["split", "--members", "members", "--holdout", "holdout", "--out", "split.json"])
    split = MemberSource(split=Path("split.json"))
    small = dict(n_tune=8, n_eval=8, small=True, steps=2, device="cpu")
    r = tune(
        TuneOptions(model=Path("unet"), out=Path("tune"), families=("exact", "repulsion"), membership=split, **small)
    )
    assert [p["defence"] for p in r.evaluation] == ["none", "CPSample, exact posterior", "nearest-member repulsion"]
    assert json.loads(Path("tune/tune.json").read_text())["settings"]["members_from"] == {"split": "split.json"}
    with pytest.raises(InputError, match="leave dp out"):
        tune(TuneOptions(model=Path("unet"), out=Path("tune-dp"), families=("dp",), membership=split, **small))
    with pytest.raises(InputError, match="records no training data"):
        tune(TuneOptions(model=Path("unet"), out=Path("tune-none"), **small))

    monkeypatch.chdir(workspace)
    record = tune_text(
        TextTuneOptions(
            model=Path("sd"),
            out=Path("tune-text"),
            per_caption=1,
            steps=2,
            small=True,
            device="cpu",
            families=("exact",),
            membership=MemberSource(split=Path("split.json")),
        )
    )
    assert list(record["defences"]) == ["CPSample, exact posterior"] and record["members_from"] == {
        "split": "split.json"
    }
