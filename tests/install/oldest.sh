#!/usr/bin/env bash
# The must-show of "installs beside an existing stack": a fresh venv that already holds torch 2.13.0 (the CPU
# build on this machine's disk) and older numpy, scikit-learn and diffusers; cpaudit installed from this clone
# keeps them (each is cpaudit's lower bound), and the fast suite passes there. Usage: tests/install/oldest.sh VENV
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-/tmp/cpaudit-oldest}
python3 -m venv "$venv"
. "$venv/bin/activate"
pip install -q --upgrade pip
pip install -q torch==2.13.0 numpy==2.2.0 scikit-learn==1.6.0 diffusers==0.41.0   # the user's stack, first
pip install -q -c tests/install/constraints-oldest.txt -e '.[test]'                  # then cpaudit beside it
python - <<'PY'
import importlib.metadata as md
for name, want in [("torch", "2.13.0"), ("numpy", "2.2.0"), ("scikit-learn", "1.6.0"), ("diffusers", "0.41.0")]:
    got = md.version(name)
    assert got.split("+")[0] == want, f"{name} {got} replaced the user's {want}"
    print(f"kept {name} {got}")
for name in ("torchvision", "timm"):
    try:
        print(f"{name} {md.version(name)} was installed: it should not be")
        raise SystemExit(1)
    except md.PackageNotFoundError:
        print(f"{name}: not installed (an extra)")
PY
HF_HUB_OFFLINE=1 python -m pytest -q -p no:randomly
