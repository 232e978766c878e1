"""The first screen of a report answers "can I release this?": a verdict card per threat model (passed, failed,
not measured, in words and an icon as well as colour, with the one sentence that decided it), the headline
figures with their intervals, and the most-copied pairs where training images may be shown."""

import copy
import re

from cpaudit.report.content import build_document
from cpaudit.report.first_screen import headline_figures, verdict_cards
from cpaudit.report.html import render_html
from tests.report.reports import markdown, results


def _cards(r: dict) -> dict[str, tuple[str, str, str]]:
    return {c.title: (c.status, c.scope, c.reason) for c in verdict_cards(r)}


def test_a_failed_release_says_what_to_withhold_and_why_in_one_sentence():
    cards = _cards(results("pixel"))
    assert cards["Samples published"] == (
        "failed",
        "this release",
        "Do not publish these samples: 63 of 64 training images have a near-copy among the samples (15 of 1733 "
        "unseen images do).",
    )
    assert cards["Weights released"][:2] == ("failed", "not released: for reference")
    text = _cards(results("text"))["Samples published"]
    assert text[2] == (
        "Do not publish these samples: prompted with their captions, 57 of 64 training captions reproduce their "
        "image (0 of 64 unseen captions do)."
    )


def test_a_passed_release_says_its_gates_hold_and_the_attack_is_no_better_than_guessing():
    status, scope, reason = _cards(results("pixel-dp-sgd"))["Samples published"]
    assert (status, scope) == ("passed", "this release")
    assert reason == (
        "All 2 gates hold. 0 of 64 training images have a near-copy among the samples (0 of 1733 unseen images "
        "do); someone who sees only the samples tells training images from unseen ones 48.9% of the time: no better "
        "than guessing (50%)."
    )


def test_a_threat_model_without_an_attack_is_not_measured_and_says_what_to_give():
    r = copy.deepcopy(results("pixel"))
    r["threat_models"]["weights"].update(measured_by=[], not_measured="no attack of threat model 'weights' ran")
    cards = _cards(r)
    assert cards["Weights released"] == (
        "not measured",
        "not released: for reference",
        "No attack of threat model 'weights' ran.",
    )
    assert _cards(results("text-cpsample"))["Sampler queried"][0] == "not measured"


def test_cards_show_their_status_in_words_and_an_icon_not_colour_alone():
    page = render_html(build_document(results("pixel-dp-sgd")), {})
    cards = re.findall(r'<section class="verdict-card (\w+)".*?</section>', page)
    assert cards == ["pass", "pass", "pass"]
    assert page.count("✓</span> PASSED</p>") == 3
    failed = render_html(build_document(results("text-cpsample")), {})
    assert failed.count("✗</span> FAILED</p>") == 1 and failed.count("?</span> NOT MEASURED</p>") == 2
    assert failed.index('class="verdict-card') < failed.index("<main>")  # before every detail section


def test_headline_figures_carry_their_intervals():
    heads = [(h.value, h.detail) for h in headline_figures(results("text"))]
    assert heads == [
        ("78.4%", "301 of 384 samples; 95% interval 74.0-82.2%"),
        ("89.1%", "57 of 64; unseen captions 0 of 64; 95% interval 79.1-94.6%"),
        ("99.7%", "AUC, 95% interval 97.8-100.0%; guessing reaches 38.9-63.4% at these sizes"),
        ("100.0%", "AUC, 95% interval 99.1-100.0%; guessing reaches 37.4-62.2% at these sizes"),
    ]


def test_the_markdown_report_has_the_same_order():
    md = markdown(results("pixel"), {"pairs", "similarity_histogram"})
    cards = md.index("| Samples published (this release) | ✗ FAILED | Do not publish these samples: 63 of 64")
    figure = md.index("- **95.7%** of samples copy a training image (245 of 256 samples; 95% interval 92.5-97.6%)")
    pairs = md.index("(figures/pairs.png)")
    assert cards < figure < pairs < md.index("## Summary") < md.index("## Setup")
    assert md.count("(figures/pairs.png)") == 1 and md.index("(figures/similarity_histogram.png)") > pairs


def test_member_images_are_on_the_first_screen_only_where_they_may_be_shown():
    pairs = {"pairs": b"\x89PNG pairs", "extraction_pairs": b"\x89PNG extraction"}
    shown = render_html(build_document(results("pixel")), pairs)
    assert shown.index('alt="The most-copied pairs: each sample beside') < shown.index("<main>")
    hidden = copy.deepcopy(results("pixel"))
    hidden["setup"]["member_images"] = "hide"
    page = render_html(build_document(hidden), pairs)
    assert page.index('alt="The most similar sample/member pairs."') > page.index("<main>")
    text = render_html(build_document(results("text")), pairs)
    assert text.index('alt="The most-copied training captions') < text.index("<main>")
