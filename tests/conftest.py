"""Shared fixtures for convolab's tests.

The dtype tolerance table lives in :mod:`helpers` (``TOLERANCES``) so that
test modules and helpers use one table; it is exposed here as fixtures:

=====================================  ========  ========
dtype                                  rtol      atol
=====================================  ========  ========
float16                                1e-3      1e-3
float32, complex64                     1e-4      1e-6
float64, complex128, longdouble        1e-5      1e-8
bool and integers                      exact     exact
=====================================  ========  ========
"""

from __future__ import annotations

import os
import sys
import warnings
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from helpers import TOLERANCES, assert_close_dtype, tolerance  # noqa: E402

# scipy_parity/convolab_patch.py is a pytest plugin for a separate run (make
# scipy-parity): importing it replaces scipy.signal's functions by convolab's
# for the whole process.  --doctest-modules would import it while collecting
# tests/, and every comparison with scipy.signal here would then compare
# convolab with itself.  (helpers also keeps its own references to scipy's
# functions, taken before any collection.)
collect_ignore = ["scipy_parity/convolab_patch.py"]

try:  # hypothesis: one profile for every property test, no deadline
    from hypothesis import HealthCheck, settings

    settings.register_profile("convolab", deadline=None, max_examples=40,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("convolab")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's id, so each test is reproducible and
    tests do not share a stream."""
    seed = zlib.crc32(request.node.nodeid.encode())   # stable across processes
    return np.random.default_rng(seed)


@pytest.fixture
def tolerances() -> dict:
    """The dtype tolerance table ``{dtype: (rtol, atol)}``."""
    return dict(TOLERANCES)


@pytest.fixture
def tol():
    """``tol(dtype) -> (rtol, atol)``; (0, 0) for integer and bool dtypes."""
    return tolerance


@pytest.fixture
def assert_close():
    """:func:`helpers.assert_close_dtype`."""
    return assert_close_dtype


@pytest.fixture
def no_convolab_warnings():
    """Turn ConvolabWarning into an error for the duration of a test."""
    import convolab
    with warnings.catch_warnings():
        warnings.simplefilter("error", convolab.ConvolabWarning)
        yield
