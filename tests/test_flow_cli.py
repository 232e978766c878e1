"""A flow-matching text model through every command: `train-diffusion --text --arch flux` (a few steps),
`train-classifier --model` on its latents noised on the flow path, `sample --protect` with the learned
classifier and the exact posterior, `--scheduler native`, and `audit --model` with prompted extraction, the
detector and the caption-conditioned attacks, each with the exit code the CLI contract gives."""

import json

import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app

pytest.importorskip("diffusers")
pytestmark = (
    pytest.mark.slow
)  # about 2.5 minutes on one core: a training, a classifier, three sampling runs and an audit
runner = CliRunner()


def _ok(args: list[str], codes=(0,)):
    r = runner.invoke(app, args)
    assert r.exit_code in codes, r.output
    return r


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow_cli")
    _ok(
        [
            "train-diffusion",
            "captioned-digits",
            "--text",
            "--arch",
            "flux",
            "--steps",
            "40",
            "--vae-steps",
            "30",
            "--out",
            str(root / "model"),
        ]
    )
    _ok(
        [
            "train-classifier",
            "captioned-digits",
            "--model",
            str(root / "model"),
            "--steps",
            "100",
            "--out",
            str(root / "clf"),
        ]
    )
    return root


def test_the_classifier_is_trained_on_the_flow_path(trained):
    cfg = json.loads((trained / "clf" / "config.json").read_text())
    assert cfg["schedule"]["kind"] == "flow" and cfg["space"] == "latent"
    acc = cfg["accuracy"]
    assert acc["learned"][0] > 0.7 and acc["bayes"][0] > 0.9  # at sigma of index 50 the members are still apart


@pytest.mark.parametrize("classifier", ["learned", "exact"])
def test_cpsample_samples_and_the_audit_reads_every_attack(trained, classifier):
    clf = str(trained / "clf") if classifier == "learned" else "exact"
    out = trained / f"samples-{classifier}"
    _ok(
        [
            "sample",
            "--model",
            str(trained / "model"),
            "--extraction",
            "--per-caption",
            "1",
            "--steps",
            "6",
            "--protect",
            "--classifier",
            clf,
            "--out",
            str(out),
        ]
    )
    run = json.loads((out / "run.json").read_text())
    assert run["protection"]["classifier"] == clf and run["conditions"]["guidance_scale"] == 4.0  # the folder's default
    assert run["protection"]["defaults"] == "flow" and run["protection"]["scale"] == (
        1000.0 if classifier == "learned" else 0.1
    )
    assert 0 < run["fired_fraction"] <= 5 / 6  # never at sigma = 1, the first of 6 steps
    if classifier == "exact":
        return
    _ok(
        [
            "audit",
            "--samples",
            str(out),
            "--split",
            str(trained / "model" / "split.json"),
            "--model",
            str(trained / "model"),
            "--classifier",
            clf,
            "--out",
            str(trained / "audit"),
        ],
        codes=(0, 1),
    )
    res = json.loads((trained / "audit" / "results.json").read_text())
    attacks = res["attacks"]
    for name in (
        "prompted_extraction",
        "detector",
        *(f"{a}_{c}" for a in ("loss", "secmi", "pia", "sima") for c in ("caption", "empty")),
    ):
        assert name in attacks and 0 <= attacks[name]["auc"] <= 1, name
        assert attacks[name]["chance_band95"][0] < 0.5 < attacks[name]["chance_band95"][1]
    assert (
        attacks["prompted_extraction"]["threat_model"] == "samples"
        and attacks["loss_caption"]["threat_model"] == "weights"
    )


def test_native_sampling_with_cpsample_and_its_refusal_under_true_cfg(trained):
    model = str(trained / "model")
    _ok(
        [
            "sample",
            "--model",
            model,
            "--prompt",
            "a photo of a cat",
            "--n",
            "2",
            "--steps",
            "4",
            "--scheduler",
            "native",
            "--guidance-scale",
            "1",
            "--protect",
            "--classifier",
            "exact",
            "--out",
            str(trained / "native"),
        ]
    )
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            model,
            "--prompt",
            "a photo of a cat",
            "--n",
            "2",
            "--steps",
            "4",
            "--scheduler",
            "native",
            "--protect",
            "--classifier",
            "exact",
            "--out",
            str(trained / "native-cfg"),
        ],
    )
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--scheduler cpaudit" in r.output, r.output
    assert not (trained / "native-cfg").exists()
