"""Issue 36, repeated captions: the caption, not the image, is prompted extraction's unit. A caption repeated
within one side is one unit with all its images; a caption on both sides is neither, counted and left out;
every attack scores the same units; one set of seeds per unit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cpaudit.auditing.extraction import caption_scores, caption_units, sample_groups, unit_means
from cpaudit.auditing.samples import SampleSet
from cpaudit.data.load import load_data
from cpaudit.data.split import Split
from cpaudit.pipelines.audit import AuditOptions, audit
from cpaudit.pipelines.sample import extraction_prompts
from cpaudit.report.text_section import text_section
from cpaudit.seeding import numpy_generator

N = 32  # member and held-out images each
K = 4  # samples per caption (unit)


def test_caption_units_golden():
    member = ["a", "b", "a", "s", "c", "a"]
    holdout = ["d", "s", "d", "e", "s", "f"]
    m, h, shared = caption_units(member, holdout)
    assert m.captions == ["a", "b", "c"] and [im.tolist() for im in m.images] == [[0, 2, 5], [1], [4]]
    assert h.captions == ["d", "e", "f"] and [im.tolist() for im in h.images] == [[0, 2], [3], [5]]
    assert shared == {"captions": 1, "member_images": 1, "holdout_images": 2}
    # The prompted units, and their images as rows of the images taken (positions()).
    kept = m.keep({"a", "c", "s"})
    assert kept.captions == ["a", "c"] and kept.positions().tolist() == [0, 2, 4, 5]
    assert [im.tolist() for im in kept.reindexed().images] == [[0, 1, 3], [2]]
    # No repeats: one image a unit, in order, and nothing shared.
    m1, _, s1 = caption_units(["x", "y"], ["z", "w"])
    assert [im.tolist() for im in m1.images] == [[0], [1]] and s1["captions"] == 0


def test_caption_scores_take_the_best_of_a_units_images_golden():
    # Unit "a" has images 0 and 1; its samples equal image 1, not image 0. Unit "b" has image 2.
    own = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    e = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    groups = sample_groups(("a", "a", "b"), ["a", "b"])
    s = caption_scores(e, groups, own, threshold=0.97, own_rows=[np.array([0, 1]), np.array([2])])
    np.testing.assert_allclose(s.best_own, [1.0, 0.6])
    np.testing.assert_array_equal(s.replicas, [2, 0])
    np.testing.assert_allclose(s.agreement, [1.0, 1.0])
    # Against image 0 alone (the first image, as a per-image grouping would read it) nothing is extracted.
    alone = caption_scores(e, groups, own, threshold=0.97, own_rows=[np.array([0]), np.array([2])])
    np.testing.assert_allclose(alone.best_own, [0.0, 0.6])


def test_unit_means_golden():
    scores = np.array([[1.0, 3.0, 5.0, 7.0], [0.0, 2.0, 4.0, 6.0]])
    np.testing.assert_allclose(
        unit_means(scores, [np.array([0, 2]), np.array([1]), np.array([3])]), [[3.0, 3.0, 7.0], [2.0, 2.0, 6.0]]
    )
    same = unit_means(scores, [np.array([i]) for i in range(4)])  # no repeats: the scores themselves
    np.testing.assert_array_equal(same, scores)


def repeated(data):
    """N members and N held-out images of captioned-digits with captions that repeat: members 0-1 and 2-4
    share a caption each, held-out 0-1 share one; member 29 and held-out 28 share one, and members 30-31 with
    held-out 30-31 share another (on both sides: left out)."""
    members, holdout = data.subset(np.arange(N)), data.subset(np.arange(N, 2 * N))
    mc, hc = list(members.captions), list(holdout.captions)
    mc[0] = mc[1] = "member caption twice"
    mc[2] = mc[3] = mc[4] = "member caption three times"
    hc[0] = hc[1] = "held-out caption twice"
    mc[29] = hc[28] = "shared once each"
    mc[30] = mc[31] = hc[30] = hc[31] = "shared twice each"
    return replace(members, captions=mc), replace(holdout, captions=hc)


def planted_units(data, members, holdout) -> SampleSet:
    """K samples per distinct caption, shared ones included (the audit must leave them out). A member caption's
    samples copy its last image (a one-image caption's with a tenth of another digit mixed in: still a replica,
    but below the repeated captions' exact copies); held-out captions' samples are other digits; shared
    captions' samples copy their member image (counted, were they not left out)."""
    rng = numpy_generator(0)
    pool = data.subset(np.arange(2 * N, 2 * N + 200))
    shared = set(members.captions) & set(holdout.captions)
    images, prompts = [], []
    for role, ims in (("members", members), ("holdout", holdout)):
        for caption in dict.fromkeys(ims.captions):
            if role == "holdout" and caption in shared:
                continue  # prompted once, from the member side
            rows = [i for i, c in enumerate(ims.captions) if c == caption]
            for _ in range(K):
                other = pool.take([int(rng.integers(len(pool)))])[0]
                if role == "holdout":
                    images.append(other)
                else:
                    own = ims.take([rows[-1]])[0]
                    images.append(own if len(rows) > 1 or caption in shared else 0.9 * own + 0.1 * other)
                prompts.append(caption)
    return SampleSet(torch.stack(images), None, Path("<planted>"), tuple(prompts))


@pytest.fixture(scope="module")
def repeated_audit():
    data = load_data("captioned-digits")
    members, holdout = repeated(data)
    samples = planted_units(data, members, holdout)
    return audit(
        AuditOptions(
            samples=samples, out=None, members=members, holdout=holdout, permutations=50, attack_nulls=200, seed=0
        )
    ).results


def test_a_text_audit_with_repeated_captions_scores_units_and_leaves_shared_captions_out(repeated_audit):
    ext = repeated_audit["prompted_extraction"]
    # 32 member images: 0-1 and 2-4 are 2 units, 29-31 shared: 26 units on 29 images; held-out alike: 28 on 29.
    assert {k: v for k, v in ext["shared_captions"].items() if k != "note"} == {
        "captions": 2,
        "member_images": 3,
        "holdout_images": 3,
    }
    assert ext["caption_units"] == {
        "member_captions": 26,
        "member_images": 29,
        "holdout_captions": 28,
        "holdout_images": 29,
    }
    c = ext["captions"]
    assert (c["n_member_captions"], c["n_holdout_captions"]) == (26, 28)
    # Every member unit is extracted, the 3-image one through its last image; no shared caption is counted.
    assert c["member_captions_extracted"] == 26 and c["holdout_captions_extracted"] == 0
    assert ext["samples"]["member_caption_replicas"] == 26 * K and ext["samples"]["n_member_caption_samples"] == 26 * K
    assert ext["samples"]["n_holdout_caption_samples"] == 28 * K
    # The two repeated member captions lead the table (exact copies), each shown with the image its samples copy.
    ids = load_data("captioned-digits").ids
    top = sorted(ext["top_captions"][:2], key=lambda t: t["images"])
    assert [(t["images"], t["replicas"]) for t in top] == [(2, K), (3, K)]
    assert top[0]["member"] == f"members/{ids[1]}" and top[1]["member"] == f"members/{ids[4]}"
    assert all(t["best_similarity"] == pytest.approx(1.0) for t in top)
    assert all(t["images"] == 1 and t["best_similarity"] < 0.9999 for t in ext["top_captions"][2:])
    # The image attack scores the same units (the strongest-attack stacking would raise otherwise) and says so.
    so = repeated_audit["attacks"]["sample_only"]
    assert "averaged over each caption's images" in so["per_caption"]
    assert repeated_audit["threat_models"]["samples"]["strongest"]["attacks"] == ["prompted_extraction", "sample_only"]


def test_the_report_says_shared_captions_are_left_out(repeated_audit):
    text = " ".join(str(item) for item in text_section(repeated_audit).items)
    assert "2 captions occur on both training and held-out images (3 training and 3 held-out images)" in text
    assert "the 26 training captions cover 29 training images" in text
    assert "(+2 more)" in text and "(+1 more)" in text  # the table names a caption's other images


def test_extraction_prompts_give_one_set_of_seeds_per_caption(tmp_path):
    """Sample i has seed first + i: a repeated caption is prompted K times in all (one unit, K seeds), a shared
    one not at all, so no two units share a seed and no unit gets more seeds than another."""
    data = load_data("captioned-digits")
    members, holdout = repeated(data)
    both = replace(data.subset(np.arange(2 * N)), captions=members.captions + holdout.captions)
    prompts = extraction_prompts(tmp_path, (both, Split(None, np.arange(N), np.arange(N, 2 * N), None)), per_caption=K)
    m, h, _ = caption_units(members.captions, holdout.captions)
    units = prompts[::K]
    assert prompts == [c for c in units for _ in range(K)]
    # Every member caption once, then as many of the held-out captions (a seeded choice: there are 28).
    assert units[: len(m.captions)] == m.captions and len(units) == 2 * len(m.captions) == 52
    assert set(units[len(m.captions) :]) <= set(h.captions) and len(set(units)) == len(units)
    seeds = {c: [i for i, p in enumerate(prompts) if p == c] for c in set(prompts)}
    assert all(len(s) == K for s in seeds.values()) and "shared twice each" not in seeds


def test_without_repeats_the_prompts_are_each_images_caption(tmp_path):
    """The simple path keeps its prompts (and so the committed text demo its samples)."""
    data = load_data("captioned-digits").subset(np.arange(12))
    prompts = extraction_prompts(tmp_path, (data, Split(None, np.arange(4), np.arange(4, 12), None)), per_caption=2)
    assert prompts[::2] == prompts[1::2] and len(prompts) == 16
    assert prompts[:8:2] == data.captions[:4] and set(prompts[8::2]) <= set(data.captions[4:12])


def test_a_sampler_that_ignores_repeated_captions_stays_in_the_chance_band():
    """Null: every prompt gives a random other digit; units of several images do not make members look extracted."""
    data = load_data("captioned-digits")
    members, holdout = repeated(data)
    planted = planted_units(data, members, holdout)
    rng = numpy_generator(1)
    pool = data.subset(np.arange(2 * N, 2 * N + 200))
    others = pool.take(rng.integers(len(pool), size=len(planted.prompts)))
    r = audit(
        AuditOptions(
            samples=replace(planted, images=others),
            out=None,
            members=members,
            holdout=holdout,
            permutations=50,
            attack_nulls=200,
            seed=1,
        )
    ).results
    assert r["prompted_extraction"]["captions"]["member_captions_extracted"] == 0
    assert r["attacks"]["prompted_extraction"]["p_value"] > 0.01
    assert r["threat_models"]["samples"]["strongest"]["p_value"] > 0.01
