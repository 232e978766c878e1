import json

import torch

import cpaudit
from cpaudit.core.schedules import Schedule
from cpaudit.train.classifier import accuracy_vs_bayes
from cpaudit.train.random_labels import random_labels


def test_random_labels_balanced_and_seeded():
    a = random_labels(64, 5)
    assert int(a.sum()) == 32 and torch.equal(a, random_labels(64, 5)) and not torch.equal(a, random_labels(64, 6))


def test_bayes_accuracy_is_one_at_small_t_and_near_half_at_large_t():
    g = torch.Generator().manual_seed(0)
    members = torch.rand(16, 1, 8, 8, generator=g) * 2 - 1
    labels = random_labels(16, 0)
    table = accuracy_vs_bayes(None, members, labels, Schedule().path(), (10, 999), 16, g)
    assert table.bayes[0] == 1.0 and abs(table.bayes[1] - 0.5) < 0.15 and table.learned == []


def test_classifier_folder_contents(tiny_classifier, tiny_model):
    cfg = json.loads((tiny_classifier / "config.json").read_text())
    labels = json.loads((tiny_classifier / "labels.json").read_text())
    members = [r["id"] for r in json.loads((tiny_model / "split.json").read_text())["members"]]
    assert sorted(labels) == sorted(members) and set(labels.values()) == {0, 1}
    assert cfg["data_fingerprint"] == json.loads((tiny_model / "config.json").read_text())["data_fingerprint"]
    assert cfg["schedule"] == json.loads((tiny_model / "config.json").read_text())["schedule"]
    assert cfg["accuracy"]["t"] == [50, 150, 300, 600] and len(cfg["accuracy"]["bayes"]) == 4
    assert {"seed", "label_seed", "image_shape"} <= set(cfg)


def test_python_api_mirrors_cli(tiny_model, tmp_path):
    r = cpaudit.sample(
        model=tiny_model,
        out=tmp_path,
        n=2,
        steps=3,
        protection=cpaudit.Protection(classifier="exact", alpha=0.5, scale=1.0),
    )
    assert r.images.shape == (2, 8, 8, 1) and r.fired_fraction == 1.0
