"""A pixel audit of a cpaudit model (the committed demo): the figures its report prints are results.json's, in the
sentences a reader relies on, in Markdown and HTML alike."""

from tests.report.reports import html_text, markdown, results


def test_the_verdict_gates_and_setup_of_a_failed_pixel_audit():
    r = results("pixel")
    md = markdown(r)
    assert md.startswith(
        "# cpaudit privacy audit\n\n**Do not publish these samples: 63 of 64 training images have a near-copy among "
        "the samples (15 of 1733 unseen images do).**\n"
    )
    assert f"The verdict as the audit recorded it: {r['verdict']}" in md
    assert r["verdict"].startswith("If only samples are published: FAILED: samples reproduce training images")
    assert "| strongest attack, selection-adjusted (samples) | AUC 0.995, p ≤ 1/201 | p at least 0.025 | FAIL |" in md
    assert (
        "| training images reached above held-out images, Fisher p (samples) | 1.5e-100 | at least 0.025 | FAIL |" in md
    )
    assert "| model config | UNet width 32 x [1, 2], linear schedule, T = 1000, seed 0 |" in md
    assert "| members / held-out | 64 / 1733 |" in md and "| image shape (C, H, W) | (1, 8, 8) |" in md


def test_the_replica_figures_are_the_results():
    r = results("pixel")
    nn = r["nn"]
    md = markdown(r)
    assert (nn["replicas"], nn["n_samples"], nn["members_reached"], nn["holdout_reached"]) == (245, 256, 63, 15)
    assert (
        "245 of 256 samples (95.7%, 95% Wilson interval 92.5% to 97.6%) have a member with pixel similarity at or "
        "above 0.97." in md
    )
    assert "Training images with a sample at the threshold: 63 of 64 (98.4%, 95% Wilson 0.917-0.997); held-out " in md
    assert "images: 15 of 1733 (0.9%, 95% Wilson 0.005-0.014)" in md
    assert "p ≤ 1/1001 from 1000 relabellings (one-sided, +1 corrected)" in md


def test_each_threat_model_says_what_an_attacker_with_that_access_can_do():
    md = markdown(results("pixel"))
    assert "## Samples published (threat model: samples)\n" in md
    assert "## Sampler queried (threat model: sampler): not deployed, shown for reference\n" in md
    assert (
        "What an attacker with this access can do: the sample-only attack (nearest generated sample) reaches AUC "
        "0.995 (95% CI 0.984-1.000 for the attack chosen on one half of the images and scored on the other; chance "
        "band 0.384-0.604; selection-adjusted p ≤ 1/201). The strongest attack tried reaches AUC 0.980-1.000 (95% CI "
        "on all images, max-t adjusted over the 3 variants)." in md
    )
    assert (
        "The audit was run for release 'samples'; an attacker of this threat model needs more than was released, "
        "so its figures do not count toward the verdict." in md
    )
    summary = md.split("## Summary\n", 1)[1].split("## Policy gates", 1)[0]
    assert (
        "| Someone who sees only the published images | find 245 near-copies of training images among 256 published "
        "images (95.7%, 95% interval 92.5%-97.6%), reaching 63 of 64 training images; samples come as close to 15 of "
        "1733 unseen images; tell training images from unseen ones 99.5% of the time, where guessing gives 50%"
        in summary
    )
    assert summary.count("| no |") == 2 and summary.count("| yes (released) |") == 1


def test_cpsample_and_dp_sgd_audits_print_their_mechanism():
    cps = markdown(results("pixel-cpsample"))
    assert (
        "| CPSample | alpha 0.4, scale 100.0, rule opposite-label, classifier reports/demo/runs/classifier; guidance "
        "fired on 28.9% of sample-steps (256 samples at least once) |" in cps
    )
    assert (
        "| loss attack (Matsumoto et al. 2023) on the protected denoiser | 0.883 | 0.823-0.944 | 0.377-0.628 | ≤ 1/201 "
        "| 10.0%: 0.578; 0 of 64 held-out: 0.531 | 1.16 (indicative) (at most 2.26 provable) | 32 | 64 / 64 |" in cps
    )
    assert (
        "the strongest of 5 attacks, chosen on held-apart halves: PIA / PIAN (Kong et al. 2024) on the protected" in cps
    )
    dp = markdown(results("pixel-dp-sgd"))
    assert "| differential privacy (DP-SGD) | epsilon 10.00 at delta 0.001, noise multiplier 2.312, K = 4 |" in dp
    assert "## Protection and privacy" not in markdown(results("pixel"))


def test_html_says_what_markdown_says():
    r = results("pixel-cpsample")
    page = html_text(r)
    assert r["verdict"] in page
    for sentence in (
        "What an attacker with this access can do: the sample-only attack (nearest generated sample) reaches AUC 0.697",
        "CPSample | alpha 0.4, scale 100.0, rule opposite-label",
        "Sampler queried (threat model: sampler): not deployed, shown for reference",
    ):
        assert sentence in page, sentence
