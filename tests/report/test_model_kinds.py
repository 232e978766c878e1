"""Reports of audits of each kind of model: a class-conditional diffusers UNet2DModel (cpaudit train-diffusion
--classes), an unconditional diffusers UNet2DModel trained elsewhere, a cpaudit UNet and pipelines; the setup's
model line prints what each record holds and never 'None'."""

from cpaudit.report.content import build_document
from cpaudit.report.summary import protect_commands
from tests.report.reports import html_text, markdown, results

LINEAR = {"kind": "linear", "T": 1000, "beta_start": 0.0001, "beta_end": 0.02}


def _model_line(cfg: dict) -> str:
    r = results("diffusers")
    r["setup"]["model_config"] = cfg
    setup = next(s for s in build_document(r).sections if s.title == "Setup")
    return dict(setup.items[0].rows)["model config"]


def test_a_class_conditional_audit_names_its_classes_and_attacks_by_true_class():
    r = results("class")
    md = markdown(r)
    assert (
        "| model config | diffusers UNet2DModel (block widths 32, 64), 919,169-parameter denoiser, class-conditional "
        "(10 classes), epsilon prediction, linear schedule, T = 1000 |" in md
    )
    assert (
        "| loss attack (Matsumoto et al. 2023) (true class) | 0.545 | 0.305-0.785 | 0.315-0.725 | 0.512 | 10.0%: 0.050; "
        "0 of 20 held-out: 0.050 | 0.00 (indicative) (at most 1.03 provable) | 1 | 20 / 20 |" in md
    )
    assert "the strongest of 5 attacks, chosen on held-apart halves: PIA / PIAN (Kong et al. 2024) (true class)" in md
    assert "| members / held-out | 20 / 1777 |" in md and "None" not in md


def test_protecting_a_class_conditional_run_samples_the_same_classes():
    sample, audit = protect_commands(results("class"))
    assert sample == (
        "cpaudit sample --model cls --n 8 --class-label 3 --class-label 7 --steps 3 --split cls/split.json "
        "--data digits --protect --out s0-protected"
    )
    assert (
        audit
        == "cpaudit audit --samples s0-protected --split cls/split.json --data digits --model cls --out s0-protected-audit"
    )
    every = results("class")
    every["setup"]["sample_run"]["conditions"]["class_of_seed"] = {str(i): i % 10 for i in range(20)}
    assert "--class-label" not in protect_commands(every)[0]  # sample's default: every class in turn


def test_a_diffusers_unet_audit_prints_the_model_it_read():
    r = results("diffusers")
    md = markdown(r)
    assert (
        "| model config | diffusers UNet2DModel (block widths 16, 32), 163,985-parameter denoiser, epsilon "
        "prediction, linear schedule, T = 1000 |" in md
    )
    assert "| members / held-out | 16 / 16 |" in md and "None" not in md
    assert "diffusers UNet2DModel (block widths 16, 32)" in html_text(r)


def test_the_model_line_for_every_record_prints_only_what_is_known():
    unet2d = {"format": "diffusers", "unet": {"block_out_channels": [64, 128]}, "schedule": LINEAR}
    assert (
        _model_line(unet2d)
        == "diffusers UNet2DModel (block widths 64, 128), epsilon prediction, linear schedule, T = 1000"
    )
    v_pred = {**unet2d, "scheduler": {"prediction_type": "v_prediction"}, "n_parameters": 1000}
    assert _model_line(v_pred) == (
        "diffusers UNet2DModel (block widths 64, 128), 1,000-parameter denoiser, v_prediction prediction, linear "
        "schedule, T = 1000"
    )
    cpaudit_unet = {"unet": {"base_channels": 32, "channel_mult": [1, 2]}, "schedule": LINEAR, "seed": 3}
    assert _model_line(cpaudit_unet) == "UNet width 32 x [1, 2], linear schedule, T = 1000, seed 3"
    flux = {
        "format": "diffusers-pipeline",
        "pipeline": "FluxPipeline",
        "prediction_type": "flow",
        "n_parameters": 5000,
        "schedule": {"kind": "flow", "T": 1000, "shift": 3.0},
    }
    assert (
        _model_line(flux) == "FluxPipeline, 5,000-parameter denoiser, flow prediction, flow schedule, shift 3, T = 1000"
    )
    assert _model_line({"schedule": {"kind": "cosine"}}) == "denoiser, cosine schedule"
    assert _model_line({"format": "diffusers-pipeline", "unet": {}}) == "diffusers pipeline, epsilon prediction"
