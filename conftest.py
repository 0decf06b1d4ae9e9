"""Collection rules for the whole repository (doctests included)."""

import importlib.util

collect_ignore = []
# optional extras: their modules' doctests need them installed
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("src/convolab/torch.py")
if importlib.util.find_spec("sklearn") is None:
    collect_ignore.append("src/convolab/nn/experiments.py")
