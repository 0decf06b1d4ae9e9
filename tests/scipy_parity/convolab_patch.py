"""pytest plugin: replace scipy.signal's convolution functions by convolab's.

Loaded with ``-p convolab_patch`` before scipy's test module is imported, so
the test module's ``from scipy.signal import convolve, ...`` binds convolab's
functions.  scipy's test decorators look functions up in its array-API
capabilities table, so convolab's functions get the entries of the functions
they replace.
"""

import scipy.signal
from scipy._lib import _array_api

import convolab

REPLACED = ("convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d", "correlate2d",
            "choose_conv_method", "correlation_lags")

for _name in REPLACED:
    _original = getattr(scipy.signal, _name)
    _ours = getattr(convolab, _name)
    table = _array_api.xp_capabilities_table
    if _original in table:
        table[_ours] = table[_original]
    setattr(scipy.signal, _name, _ours)


def pytest_collection_modifyitems(session, config, items):
    """Refuse to run if the test module did not pick up convolab's functions."""
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "convolve"):
            if module.convolve is not convolab.convolve:
                raise RuntimeError("scipy's test module is not using convolab's functions")
            break
