"""``import convolab`` loads numpy and scipy only: nothing optional."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "dask", "matplotlib", "imageio", "tqdm", "numba", "cv2")

PROBE = """
import json, sys
before = set(sys.modules)
import convolab
import convolab.signal, convolab.planner, convolab.boundary, convolab.algorithms
print(json.dumps({"loaded": sorted(set(sys.modules) - before), "file": convolab.__file__}))
"""


@pytest.fixture(scope="module")
def loaded() -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True,
                         text=True, timeout=120)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["loaded"]


@pytest.mark.parametrize("name", HEAVY)
def test_import_does_not_load(loaded, name):
    offenders = [m for m in loaded if m == name or m.startswith(name + ".")]
    assert not offenders, f"import convolab loaded {offenders}"


def test_the_probe_sees_imports(loaded):
    """The probe works: convolab itself (and numpy) show up as loaded."""
    assert "convolab" in loaded and "convolab.signal" in loaded


def test_tool_modules_load_on_first_use():
    probe = ("import sys, convolab; before = 'convolab.kernels' in sys.modules; "
             "k = convolab.kernels.gaussian_273(); print(before, 'convolab.kernels' in sys.modules, k.shape)")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.split() == ["False", "True", "(5,", "5)"]
