"""Collection rules for the whole repository (doctests included)."""

import importlib.util
import os
import tempfile

# measurements remembered by measure=True and `convolab calibrate` live in a
# per-user cache; tests get their own, empty one, so they never see (or
# leave) a remembered choice
os.environ["CONVOLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="convolab-test-cache-")

collect_ignore = []
# optional extras: their modules' doctests need them installed
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("src/convolab/torch.py")
if importlib.util.find_spec("sklearn") is None:
    collect_ignore.append("src/convolab/nn/experiments.py")
