"""Text-to-image and class-conditional models through the CLI: train, train the random-label classifier on
the model's own space (latents for a latent model), sample with prompts or classes, protect, and the
inputs with captions or classes (metadata.jsonl, .npz arrays, class subfolders)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.data.load import load_data

pytest.importorskip("diffusers")
pytest.importorskip("transformers")
runner = CliRunner()


def ok(args):
    r = runner.invoke(app, [*args, "--quiet"])
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="module")
def text_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text") / "model"
    ok(
        [
            "train-diffusion",
            "captioned-digits",
            "--text",
            "--out",
            str(out),
            "--n-members",
            "16",
            "--steps",
            "3",
            "--vae-steps",
            "3",
        ]
    )
    return out


def test_train_text_writes_a_pipeline_with_the_members_captions(text_model):
    index = json.loads((text_model / "model_index.json").read_text())
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"] and index["vae"] == ["diffusers", "AutoencoderKL"]
    split = json.loads((text_model / "split.json").read_text())
    data = load_data("captioned-digits")
    by_id = dict(zip(data.ids, data.captions))
    assert len(split["members"]) == 16 and all(
        r["caption"] == by_id[r["id"]] for r in split["members"] + split["holdout"]
    )
    meta = json.loads((text_model / "cpaudit.json").read_text())
    assert meta["vae_source"].startswith("trained on") and "neither members nor held-out" in meta["vae_source"]
    assert meta["data_fingerprint"] == data.fingerprint()


def test_latent_classifier_and_protected_prompted_sampling(text_model, tmp_path):
    clf = tmp_path / "clf"
    ok(
        [
            "train-classifier",
            "captioned-digits",
            "--model",
            str(text_model),
            "--out",
            str(clf),
            "--steps",
            "3",
            "--channels",
            "8",
        ]
    )
    cfg = json.loads((clf / "config.json").read_text())
    assert cfg["image_shape"] == [4, 8, 8] and cfg["space"] == "latent"
    split = json.loads((text_model / "split.json").read_text())
    prompts = tmp_path / "captions.txt"
    prompts.write_text("\n".join(r["caption"] for r in split["members"][:4]) + "\n")
    for classifier in (str(clf), "exact"):
        out = tmp_path / f"s-{Path(classifier).name}"
        ok(
            [
                "sample",
                "--model",
                str(text_model),
                "--prompts",
                str(prompts),
                "--out",
                str(out),
                "--steps",
                "3",
                "--guidance-scale",
                "3",
                "--protect",
                "--classifier",
                classifier,
                "--alpha",
                "0.5",
            ]
        )
        run = json.loads((out / "run.json").read_text())
        assert run["fired_fraction"] == 1.0 and run["protection"]["classifier"] == classifier
        assert list(run["conditions"]["prompt_of_seed"].values()) == prompts.read_text().split("\n")[:4]
        assert np.load(out / "samples.npz")["images"].shape == (4, 32, 32, 1)


def test_class_conditional_model_samples_and_is_protected_per_class(tmp_path):
    model = tmp_path / "cls"
    ok(["train-diffusion", "digits", "--classes", "--out", str(model), "--n-members", "20", "--steps", "3"])
    for extra in ([], ["--protect", "--classifier", "exact", "--alpha", "0.5"]):
        out = tmp_path / f"s{len(extra)}"
        ok(
            [
                "sample",
                "--model",
                str(model),
                "--out",
                str(out),
                "--n",
                "4",
                "--steps",
                "3",
                "--class-label",
                "3",
                "--class-label",
                "7",
                *extra,
            ]
        )
        run = json.loads((out / "run.json").read_text())
        assert run["conditioning"] == "class" and run["conditions"]["class_of_seed"] == {"0": 3, "1": 7, "2": 3, "3": 7}
        assert run["fired_fraction"] == (1.0 if extra else 0.0)
    # The model-based attacks condition on each candidate's true class.
    r = runner.invoke(
        app,
        [
            "audit",
            "--samples",
            str(tmp_path / "s0"),
            "--split",
            str(model / "split.json"),
            "--model",
            str(model),
            "--out",
            str(tmp_path / "a"),
            "--permutations",
            "20",
            "--mia-t",
            "100",
            "--mia-draws",
            "1",
            "--attack-nulls",
            "40",
            "--report-only",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    attacks = json.loads((tmp_path / "a" / "results.json").read_text())["attacks"]
    assert {"loss_class", "secmi_class", "pia_class", "sima_class"} <= set(attacks)
    assert (
        attacks["loss_class"]["title"].endswith("(true class)") and attacks["loss_class"]["threat_model"] == "sampler"
    )
    r = runner.invoke(
        app, ["sample", "--model", str(model), "--out", str(tmp_path / "bad"), "--class-label", "10", "--n", "1"]
    )
    assert r.exit_code == 2 and "--class-label" in r.output and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(
        app, ["sample", "--model", str(model), "--out", str(tmp_path / "bad"), "--prompt", "a cat", "--n", "1"]
    )
    assert r.exit_code == 2 and "not a text-to-image model" in r.output


def _folder(tmp_path: Path, n: int = 6) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / f"{i}.png")
        lines.append(json.dumps({"file_name": f"{i}.png", "text": f"a photo of item {'abcdef'[i]}"}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_captions_and_classes_come_with_the_data(tmp_path):
    folder = _folder(tmp_path)
    data = load_data(folder)
    assert data.captions == [f"a photo of item {c}" for c in "abcdef"] and data.labels is None
    np.savez(tmp_path / "d.npz", images=data.pixels[..., 0], captions=np.array(data.captions), labels=np.arange(6))
    d2 = load_data(tmp_path / "d.npz")
    assert d2.captions == data.captions and list(d2.labels) == list(range(6))
    classes = tmp_path / "classes"
    for k, name in enumerate(["cat", "dog"]):
        (classes / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((8, 8), 40 * k + i, dtype=np.uint8)).save(classes / name / f"{i}.png")
    d3 = load_data(classes)
    assert list(d3.labels) == [0, 0, 1, 1] and d3.class_names == ["cat", "dog"]


@pytest.mark.parametrize(
    "line, needle",
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"file_name": "0.png"}', "line 2"),
        ('{"file_name": "zz.png", "text": "x"}', "not images in the folder"),
    ],
)
def test_a_bad_metadata_line_is_one_line_of_bad_input(tmp_path, line, needle):
    folder = _folder(tmp_path, 1)
    (folder / "metadata.jsonl").write_text((folder / "metadata.jsonl").read_text() + line + "\n")
    r = runner.invoke(app, ["train-diffusion", str(folder), "--text", "--out", str(tmp_path / "m"), "--steps", "1"])
    assert (
        r.exit_code == 2
        and needle in r.output
        and "metadata.jsonl" in r.output
        and len(r.output.strip().splitlines()) == 1
    )
    assert not (tmp_path / "m").exists()


def test_text_training_refuses_data_without_captions(tmp_path):
    r = runner.invoke(app, ["train-diffusion", "digits", "--text", "--out", str(tmp_path / "m"), "--steps", "1"])
    assert r.exit_code == 2 and "has no captions" in r.output and len(r.output.strip().splitlines()) == 1


def test_a_text_model_is_audited_by_caption(text_model, tmp_path):
    """Samples prompted with member and held-out captions (--extraction): prompted extraction, the detector and the
    caption-conditioned attacks, each with its threat model; --prompts lists what the detector flags."""
    samples = tmp_path / "s"
    ok(
        [
            "sample",
            "--model",
            str(text_model),
            "--extraction",
            "--per-caption",
            "2",
            "--out",
            str(samples),
            "--steps",
            "2",
        ]
    )
    run = json.loads((samples / "run.json").read_text())
    assert run["n"] == 2 * 2 * 16 and len(set(run["conditions"]["prompt_of_seed"].values())) == 32
    (tmp_path / "p.txt").write_text("a photo of a shy brown fox\nsomething else\n")
    args = [
        "audit",
        "--samples",
        str(samples),
        "--split",
        str(text_model / "split.json"),
        "--out",
        str(tmp_path / "a"),
        "--permutations",
        "20",
        "--mia-t",
        "100",
        "--mia-draws",
        "1",
        "--attack-nulls",
        "40",
        "--report-only",
    ]
    r = runner.invoke(
        app, [*args, "--model", str(text_model), "--prompts", str(tmp_path / "p.txt"), "--json", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    attacks = res["attacks"]
    assert attacks["prompted_extraction"]["threat_model"] == "samples"
    assert attacks["detector"]["threat_model"] == "sampler"
    assert {f"{a}_{c}" for a in ("loss", "secmi", "pia", "sima") for c in ("caption", "empty")} <= set(attacks)
    assert attacks["clid"]["threat_model"] == "sampler" and attacks["clid"]["measures"] == ["sampler", "weights"]
    assert res["prompted_extraction"]["captions"]["n_member_captions"] == 16
    assert [p["prompt"] for p in res["detector"]["prompts"]] == ["a photo of a shy brown fox", "something else"]
    assert "Text-to-image: prompted extraction" in (tmp_path / "a" / "report.md").read_text()
    # Without the model: the samples alone (threat model samples); with prompts but no prompts in the samples: refused.
    r = runner.invoke(app, [*args[:-1], "--quiet"])
    assert r.exit_code in (0, 1), r.output
    assert "detector" not in json.loads((tmp_path / "a" / "results.json").read_text())


def test_a_text_model_s_samples_without_prompts_are_refused_in_one_line(text_model, tmp_path):
    samples = tmp_path / "s"
    ok(
        [
            "sample",
            "--model",
            str(text_model),
            "--prompt",
            "a photo of a shy brown fox",
            "--out",
            str(samples),
            "--n",
            "2",
            "--steps",
            "2",
        ]
    )
    (samples / "run.json").unlink()  # the prompts go with it
    r = runner.invoke(
        app,
        [
            "audit",
            "--samples",
            str(samples),
            "--split",
            str(text_model / "split.json"),
            "--out",
            str(tmp_path / "a"),
            "--model",
            str(text_model),
        ],
    )
    assert (
        r.exit_code == 2 and "has no prompt for its samples" in r.output and len(r.output.strip().splitlines()) == 1
    ), r.output
    assert not (tmp_path / "a").exists()


def test_prompts_to_screen_without_the_model_are_refused_in_one_line(text_model, tmp_path):
    """--prompts is read by the detector, which queries the model: without --model it would be ignored."""
    samples = tmp_path / "s"
    ok(
        [
            "sample",
            "--model",
            str(text_model),
            "--extraction",
            "--per-caption",
            "1",
            "--out",
            str(samples),
            "--steps",
            "2",
        ]
    )
    (tmp_path / "p.txt").write_text("a photo of a shy brown fox\n")
    r = runner.invoke(
        app,
        [
            "audit",
            "--samples",
            str(samples),
            "--split",
            str(text_model / "split.json"),
            "--out",
            str(tmp_path / "a"),
            "--prompts",
            str(tmp_path / "p.txt"),
        ],
    )
    assert r.exit_code == 2 and "--prompts" in r.output and "--model" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "a").exists()


@pytest.mark.parametrize("defence", ["embedding-noise", "random-tokens", "prompt-optimisation"])
def test_prompt_defences_sample_and_record_their_settings(text_model, tmp_path, defence):
    out = tmp_path / defence
    ok(
        [
            "sample",
            "--model",
            str(text_model),
            "--prompt",
            "a photo of a shy brown fox",
            "--out",
            str(out),
            "--n",
            "2",
            "--steps",
            "2",
            "--prompt-defence",
            defence,
        ]
    )
    recorded = json.loads((out / "run.json").read_text())["conditions"]["prompt_defence"]
    assert recorded["kind"] == defence and len(recorded) >= 2
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(text_model),
            "--prompt",
            "x",
            "--out",
            str(tmp_path / "bad"),
            "--prompt-defence",
            "random-tokens",
            "--sigma",
            "1",
        ],
    )
    assert r.exit_code == 2 and "random-tokens takes tokens, not sigma" in r.output


def test_train_text_reuses_an_autoencoder(text_model, tmp_path):
    out = tmp_path / "again"
    ok(
        [
            "train-diffusion",
            "captioned-digits",
            "--text",
            "--out",
            str(out),
            "--n-members",
            "16",
            "--steps",
            "2",
            "--vae",
            str(text_model),
        ]
    )
    meta = json.loads((out / "cpaudit.json").read_text())
    assert meta["vae_source"] == str(text_model / "vae") and meta["vae_seconds"] == 0.0
    r = runner.invoke(
        app, ["train-diffusion", "digits", "--text", "--out", str(tmp_path / "x"), "--vae", str(tmp_path / "none")]
    )
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1


def test_the_latent_embedding_is_pearson_correlation_of_the_autoencoder_latents(text_model):
    from cpaudit.auditing.features import embed, parse_features
    from cpaudit.models.sd_pipeline import load_diffusers_module

    images = load_data("captioned-digits").take(np.arange(6))
    unit, _ = embed(images, parse_features(f"latent:{text_model}"))
    z = (
        load_diffusers_module(text_model / "vae", "AutoencoderKL")
        .encode(images)
        .latent_dist.mean.flatten(1)
        .double()
        .numpy()
    )
    z = z - z.mean(1, keepdims=True)
    np.testing.assert_allclose(unit @ unit.T, np.corrcoef(z), atol=1e-5)


def test_a_protected_text_audit_says_what_it_did_not_attack(text_model, tmp_path):
    """Issue 36: CPSample-protected text samples audited with --model under --release sampler. The sampler gate
    says the protected text sampler is not attacked (not 'give --model'), the samples-level gate is evaluated
    beside it, and run.json records that the latent sampler did not clip."""
    samples = tmp_path / "s"
    ok(
        [
            "sample",
            "--model",
            str(text_model),
            "--extraction",
            "--per-caption",
            "1",
            "--out",
            str(samples),
            "--steps",
            "2",
            "--protect",
            "--classifier",
            "exact",
            "--alpha",
            "0.5",
        ]
    )
    assert json.loads((samples / "run.json").read_text())["sampler"]["clip"] is False
    args = [
        "audit",
        "--samples",
        str(samples),
        "--split",
        str(text_model / "split.json"),
        "--model",
        str(text_model),
        "--permutations",
        "20",
        "--mia-t",
        "100",
        "--mia-draws",
        "1",
        "--attack-nulls",
        "40",
        "--quiet",
    ]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--release", "sampler"])
    assert r.exit_code == 1, r.output
    res = json.loads((tmp_path / "a" / "results.json").read_text())
    gates = res["policy"]["gates"]
    assert "does not attack a protected text-to-image sampler" in gates["mia_excess_level"]
    assert "give --model" not in gates["mia_excess_level"]
    assert "mia_excess_level:samples" in gates and res["policy"]["family"]["total"] == pytest.approx(0.05)
    assert res["nn"]["reach_candidates"].startswith("the members and held-out images whose captions")
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "w"), "--release", "weights", "--report-only"])
    assert r.exit_code == 0, r.output
