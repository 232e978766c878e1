"""A text-to-image audit (the committed text demo, a Stable Diffusion pipeline): prompted extraction, the
memorisation detector, the caption-conditioned attacks and CLiD, as its report prints them; and a defended run
audited from its samples alone, whose report says what was not attacked."""

from tests.report.reports import html_text, markdown, results


def test_prompted_extraction_prints_the_results_counts_and_test():
    r = results("text")
    c = r["prompted_extraction"]["captions"]
    assert (c["member_captions_extracted"], c["holdout_captions_extracted"]) == (57, 0)
    section = markdown(r).split("## Text-to-image: prompted extraction and the memorisation detector\n", 1)[1]
    assert section.startswith(
        "\nThreat model 'samples', an attacker who knows the captions: the sampler was prompted with 64 training "
        "captions and 64 held-out captions, 3 samples each. 57 of 64 training captions (89.1%, 95% Wilson 79.1% to "
        "94.6%) gave a replica of their own image"
    )
    assert (
        "against 0 of 64 held-out captions (0.0%, 0.0% to 5.7%), the base rate; one-sided Fisher exact p = 5.6e-29."
        in section
    )
    assert "AUC 0.951 (95% CI 0.905-0.998; chance band 0.377-0.612)." in section
    assert "| cdigits-0603 | a photo of a brave cyan frog | 0.997 | 3 of 3 | 0.998 |" in section
    assert (
        "Codec floor: the autoencoder's own reconstruction of each training image reaches median similarity 0.999"
        in section
    )


def test_the_detector_and_the_model_attacks_of_a_text_audit():
    md = markdown(results("text"))
    assert (
        "Memorisation detector (Wen et al. 2024; threat model 'sampler'): the text-conditional noise norm over the "
        "first 10 of 50 steps at guidance scale 7.5, 3 seeds a caption. As a membership score: AUC 0.644 (95% CI "
        "0.540-0.748; chance band 0.385-0.629)." in md
    )
    assert "8 of 64 training captions are flagged." in md
    assert (
        "| CLiD (Zhai et al. 2024) | 1.000 | 1.000-1.000 | 0.390-0.612 | ≤ 1/201 | 10.0%: 1.000; 0 of 64 held-out: "
        "1.000 | 2.26 (indicative) (at most 2.26 provable) | 30 | 64 / 64 |" in md
    )
    assert (
        "What an attacker with this access can do: the strongest of 12 attacks, chosen on held-apart halves: loss "
        "attack (Matsumoto et al. 2023) (true caption) reaches AUC 1.000" in md
    )
    assert (
        "| model config | StableDiffusionPipeline, 792,964-parameter denoiser, epsilon prediction, scaled_linear "
        "schedule, T = 1000 |" in md
    )
    assert "| prompted extraction over held-out captions, Fisher p (samples) | 5.6e-29 | at least 0.0125 | FAIL |" in md


def test_a_defended_text_run_audited_without_the_model_says_what_did_not_run():
    r = results("text-cpsample")
    md = markdown(r)
    assert r["setup"]["model"] is None
    assert "| model | none given: the membership attacks on the model were not run |" in md
    assert "The memorisation detector and the caption-conditioned attacks need the model (--model)." in md
    assert (
        "no attack of threat model 'sampler' ran: give --model (and, for protected samples, the classifier their "
        "run.json names)" in md
    )
    assert "0 of 64 training captions (0.0%, 95% Wilson 0.0% to 5.7%) gave a replica of their own image" in md
    assert "guidance fired on 60.2% of sample-steps (384 samples at least once)" in md
    assert "the model itself was not examined (no model was given)" in md


def test_html_of_a_text_audit_carries_the_same_sentences():
    page = html_text(results("text"))
    for sentence in (
        "Text-to-image: prompted extraction and the memorisation detector",
        "57 of 64 training captions (89.1%, 95% Wilson 79.1% to 94.6%)",
        "CLiD (Zhai et al. 2024) | 1.000 | 1.000-1.000",
        "Memorisation detector (Wen et al. 2024; threat model 'sampler')",
    ):
        assert sentence in page, sentence
