"""The replica threshold's default per embedding is chosen in one function (issue 37):
features.default_replica_threshold, with the pixel value typed once."""

import ast
from pathlib import Path

import cpaudit
from cpaudit.auditing.features import default_replica_threshold, parse_features
from cpaudit.similarity.pixel import PIXEL_REPLICA_THRESHOLD


def test_each_embedding_kind_gets_its_conventional_threshold():
    assert default_replica_threshold() == default_replica_threshold("pixel") == PIXEL_REPLICA_THRESHOLD == 0.97
    assert default_replica_threshold("torchscript") == 0.5  # SSCD's (Somepalli et al., CVPR 2023)
    assert default_replica_threshold("inception") == default_replica_threshold("timm") == 0.95  # placeholder
    spec = parse_features("pixel")
    assert default_replica_threshold(spec) == spec.default_threshold == 0.97


def test_the_pixel_threshold_is_typed_once_in_the_package():
    """0.97 as a number in code (not in prose) appears only where the constant is defined."""
    root = Path(cpaudit.__file__).parent
    typed = [
        path.relative_to(root).as_posix()
        for path in sorted(root.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and type(node.value) is float and node.value == 0.97
    ]
    assert typed == ["similarity/pixel.py"]
