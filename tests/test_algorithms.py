"""Every algorithm agrees with method='reference', and the reference agrees with
independent oracles (scipy.signal, and numpy.pad + an explicit loop).

The grid is seeded and small: the reference is a Python loop over output
positions.  Each case is one public call (convolab.convolve, correlate,
convolve2d or correlate2d) with a mode, a boundary, dtypes, optional axes and
optional non-contiguous views of the inputs.
"""

from __future__ import annotations

import functools
import warnings
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import convolab
from helpers import (ALL_DTYPES, METHODS, assert_close_dtype, magnitude, oracle, random_array,
                     scipy_signal, valid_ok)


@dataclass(frozen=True)
class Case:
    func: str                     # convolve, correlate, convolve2d, correlate2d
    s1: tuple                     # shapes of in1, in2 (before views)
    s2: tuple
    mode: str
    boundary: str = "fill"
    fillvalue: Any = 0
    dtype1: str = "float64"
    dtype2: str = "float64"
    axes: Any = None
    view1: str = "none"           # none, step, reverse, fortran, step_reverse
    view2: str = "none"

    @property
    def id(self) -> str:
        shape = "x".join(map(str, self.s1)) + "*" + "x".join(map(str, self.s2))
        parts = [self.func, shape, self.mode, self.boundary]
        if self.fillvalue != 0:
            parts.append(f"fv{self.fillvalue}")
        parts.append(self.dtype1 if self.dtype1 == self.dtype2 else f"{self.dtype1}+{self.dtype2}")
        if self.axes is not None:
            parts.append(f"axes{self.axes}")
        if self.view1 != "none" or self.view2 != "none":
            parts.append(f"views-{self.view1}-{self.view2}")
        return "-".join(str(p) for p in parts).replace(" ", "")

    @property
    def flip(self) -> bool:
        return self.func.startswith("convolve")


# ---------------------------------------------------------------------------
# building inputs


def _view(rng: np.random.Generator, shape: tuple, dtype: str, view: str) -> np.ndarray:
    """An array of ``shape`` with the memory layout ``view`` asks for."""
    if view == "none":
        return random_array(rng, shape, dtype)
    if view == "fortran":
        return np.asfortranarray(random_array(rng, shape, dtype))
    if view == "reverse":                                   # x[::-1] on every axis
        base = random_array(rng, shape, dtype)
        return base[(slice(None, None, -1),) * len(shape)]
    if view == "step":                                      # x[::2] on every axis
        base = random_array(rng, tuple(2 * s for s in shape), dtype)
        return base[(slice(None, None, 2),) * len(shape)]
    if view == "step_reverse":                              # x[::-2] on axis 0, x[::-1] elsewhere
        base = random_array(rng, (2 * shape[0],) + tuple(shape[1:]), dtype)
        return base[(slice(None, None, -2),) + (slice(None, None, -1),) * (len(shape) - 1)]
    raise AssertionError(view)


def inputs(case: Case) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    in1 = _view(rng, case.s1, case.dtype1, case.view1)
    in2 = _view(rng, case.s2, case.dtype2, case.view2)
    assert in1.shape == case.s1 and in2.shape == case.s2
    return in1, in2


def call(case: Case, in1: np.ndarray, in2: np.ndarray, method: str) -> np.ndarray:
    f = getattr(convolab, case.func)
    kw: dict = {"method": method}
    if case.axes is not None:
        kw["axes"] = case.axes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", convolab.ConvolabWarning)   # integer wrap-around
        if case.func.endswith("2d"):
            return f(in1, in2, case.mode, case.boundary, case.fillvalue, **kw)
        return f(in1, in2, case.mode, boundary=case.boundary, fillvalue=case.fillvalue, **kw)


def loop_oracle(case: Case, in1: np.ndarray, in2: np.ndarray) -> np.ndarray:
    c2d = case.func == "correlate2d"
    return oracle(in1, in2, case.mode, flip=case.flip, axes=case.axes, boundary=case.boundary,
                  fillvalue=case.fillvalue, same_start="correlate2d" if c2d else "scipy",
                  conj_swapped_valid=c2d)


@functools.lru_cache(maxsize=None)
def reference_result(case: Case) -> np.ndarray:
    in1, in2 = inputs(case)
    out = call(case, in1, in2, "reference")
    out.setflags(write=False)
    return out


def scale_of(case: Case) -> float:
    in1, in2 = inputs(case)
    return magnitude(in1, in2, case.fillvalue, case.axes)


# ---------------------------------------------------------------------------
# the grid

FILLS = {"b": True, "i": 2, "u": 2, "f": 1.5, "c": 1 - 2j}


def _extensions(mode: str, dtype: str = "float64") -> list[tuple[str, Any]]:
    """Boundaries worth testing for ``mode`` (valid never reads the extension)."""
    if mode == "valid":
        return [("fill", 0), ("wrap", 0)]
    fill = FILLS[np.dtype(dtype).kind]
    return [("fill", 0), ("fill", fill), ("wrap", 0), ("symm", 0), ("reflect", 0), ("nearest", 0)]


def _modes(s1: tuple, s2: tuple) -> list[str]:
    return ["full", "same"] + (["valid"] if valid_ok(s1, s2) else [])


GEOMETRY_1D = [((n,), (k,)) for n in (1, 4, 7) for k in (1, 2, 3, 6, 11)]
GEOMETRY_2D = [((5, 6), (3, 3)), ((5, 6), (2, 4)), ((4, 5), (1, 1)), ((3, 4), (6, 7)),
               ((1, 6), (1, 3)), ((6, 1), (2, 1)), ((4, 4), (5, 2))]
GEOMETRY_3D = [((3, 4, 5), (2, 3, 2)), ((2, 3, 4), (3, 1, 2)), ((2, 2, 3), (3, 4, 4))]


def geometry_cases() -> list[Case]:
    cases = []
    for s1, s2 in GEOMETRY_1D + GEOMETRY_2D + GEOMETRY_3D:
        funcs = ["convolve", "correlate"] + (["convolve2d", "correlate2d"] if len(s1) == 2 else [])
        for func in funcs:
            for mode in _modes(s1, s2):
                for boundary, fill in _extensions(mode):
                    cases.append(Case(func, s1, s2, mode, boundary, fill))
    return cases


def dtype_cases() -> list[Case]:
    cases = []
    for dt in ALL_DTYPES:
        fill = FILLS[np.dtype(dt).kind]
        for func in ("convolve", "correlate"):
            cases.append(Case(func, (9,), (4,), "full", dtype1=dt, dtype2=dt))
            cases.append(Case(func, (3, 4, 3), (2, 2, 2), "valid", dtype1=dt, dtype2=dt))
            cases.append(Case(func, (4,), (7,), "valid", dtype1=dt, dtype2=dt))
            cases.append(Case(func, (5, 6), (3, 2), "same", "fill", fill, dtype1=dt, dtype2=dt))
        for func in ("convolve2d", "correlate2d"):
            cases.append(Case(func, (5, 6), (3, 2), "same", "symm", dtype1=dt, dtype2=dt))
            cases.append(Case(func, (4, 5), (2, 3), "full", "reflect", dtype1=dt, dtype2=dt))
            cases.append(Case(func, (3, 3), (4, 5), "valid", dtype1=dt, dtype2=dt))
    mixed = [("int8", "uint8"), ("float32", "float64"), ("complex64", "float32"),
             ("float64", "complex128"), ("int16", "float32"), ("bool", "int8"),
             ("uint64", "int64"), ("float16", "int8"), ("longdouble", "complex128"),
             ("uint8", "complex64")]
    for d1, d2 in mixed:
        for func in ("convolve", "correlate"):
            cases.append(Case(func, (8,), (3,), "full", dtype1=d1, dtype2=d2))
            cases.append(Case(func, (4, 5), (2, 2), "same", "wrap", dtype1=d1, dtype2=d2))
    return cases


def complex_cases() -> list[Case]:
    cases = []
    for d1, d2 in (("complex128", "complex128"), ("float64", "complex128"),
                   ("complex128", "float64"), ("complex64", "complex64")):
        for func in ("convolve", "correlate", "convolve2d", "correlate2d"):
            for s1, s2 in (((4, 5), (2, 3)), ((2, 3), (4, 5))):
                for mode in ("full", "same", "valid"):
                    boundary, fill = ("fill", 0) if mode == "valid" else ("fill", 1 - 2j)
                    cases.append(Case(func, s1, s2, mode, boundary, fill, d1, d2))
            cases.append(Case(func, (4, 5), (3, 2), "same", "reflect", 0, d1, d2))
    return cases


def view_cases() -> list[Case]:
    cases = []
    views = [("step", "none"), ("reverse", "none"), ("none", "reverse"), ("none", "step"),
             ("fortran", "fortran"), ("step_reverse", "reverse")]
    for v1, v2 in views:
        for dt in ("float64", "int32", "complex128", "float32"):
            for func in ("convolve", "correlate"):
                cases.append(Case(func, (7,), (3,), "full", dtype1=dt, dtype2=dt, view1=v1, view2=v2))
                cases.append(Case(func, (5, 6), (3, 2), "same", "reflect", dtype1=dt, dtype2=dt,
                                  view1=v1, view2=v2))
            cases.append(Case("correlate2d", (5, 6), (2, 3), "same", "wrap", dtype1=dt, dtype2=dt,
                              view1=v1, view2=v2))
    return cases


def length_one_cases() -> list[Case]:
    cases = []
    shapes = [((1,), (1,)), ((1, 1), (1, 1)), ((1, 5), (1, 1)), ((1, 1), (3, 3)),
              ((5, 1), (1, 3)), ((1, 4, 1), (2, 1, 3)), ((3, 1, 4), (1, 1, 1))]
    for s1, s2 in shapes:
        for func in ("convolve", "correlate"):
            for mode in _modes(s1, s2):
                for boundary in ("fill", "wrap", "reflect", "nearest"):
                    if mode == "valid" and boundary != "fill":
                        continue
                    cases.append(Case(func, s1, s2, mode, boundary))
    return cases


def axes_cases() -> list[Case]:
    """axes= with the other axes broadcast: shared and per-slice kernels."""
    cases = []
    nd_setups = [
        ((4, 7), (1, 3), 1),            # shared kernel
        ((4, 7), (4, 3), -1),           # one kernel per row
        ((1, 7), (3, 3), 1),            # in1 broadcast against per-slice kernels
        ((3, 6, 2), (3, 2, 1), 1),      # per-slice on axis 0, shared on axis 2
        ((2, 5, 4), (1, 3, 2), (1, 2)),  # shared 2-D kernel
        ((2, 5, 4), (3, 1, 2), (0, 2)),  # convolve the outer axes, broadcast the middle one
        ((5, 3), (2, 3), 0),            # per-column kernels
    ]
    for s1, s2, axes in nd_setups:
        conv = [a % len(s1) for a in np.atleast_1d(axes)]
        c1 = tuple(s1[a] for a in conv)
        c2 = tuple(s2[a] for a in conv)
        for func in ("convolve", "correlate"):
            for mode in _modes(c1, c2):
                for boundary in (("fill", "nearest", "wrap") if mode != "valid" else ("fill",)):
                    cases.append(Case(func, s1, s2, mode, boundary, axes=axes))
    two_d_setups = [((3, 5, 4), (3, 2, 3), (1, 2)), ((5, 4, 2), (3, 3, 1), (0, 1)),
                    ((4, 2, 5), (2, 1, 3), (0, 2))]
    for s1, s2, axes in two_d_setups:
        for func in ("convolve2d", "correlate2d"):
            for mode in ("full", "same", "valid"):
                for boundary in (("fill", "symm") if mode != "valid" else ("fill",)):
                    cases.append(Case(func, s1, s2, mode, boundary, axes=axes))
    return cases


def long_cases() -> list[Case]:
    """Inputs long enough that overlap-add cuts them into several blocks."""
    cases = []
    for s1, s2 in (((300,), (5,)), ((301,), (4,)), ((150, 20), (3, 3)), ((5000,), (1,))):
        for func in ("convolve", "correlate"):
            for mode in ("full", "same", "valid"):
                for boundary in (("fill", "reflect") if mode != "valid" else ("fill",)):
                    cases.append(Case(func, s1, s2, mode, boundary))
        cases.append(Case("correlate", s1, s2, "same", "wrap", 0, "complex128", "complex128"))
        cases.append(Case("convolve", s1, s2, "full", "fill", 0, "int32", "int32"))
    cases.append(Case("convolve", (70, 3, 70), (2, 2, 3), "same", "nearest"))
    cases.append(Case("correlate", (3, 200), (1, 7), "same", "symm", axes=1))
    cases.append(Case("correlate", (3, 200), (3, 6), "full", "fill", axes=-1))
    return cases


def axes_dtype_cases() -> list[Case]:
    cases = []
    for dt in ("complex128", "int16", "float32"):
        for func in ("convolve", "correlate"):
            cases.append(Case(func, (4, 7), (4, 3), "same", "reflect", dtype1=dt, dtype2=dt, axes=1))
            cases.append(Case(func, (2, 5, 4), (1, 3, 2), "full", dtype1=dt, dtype2=dt,
                              axes=(1, 2)))
        cases.append(Case("correlate2d", (3, 5, 4), (3, 2, 3), "valid", dtype1=dt, dtype2=dt,
                          axes=(1, 2)))
        cases.append(Case("correlate2d", (3, 2, 3), (3, 5, 4), "valid", dtype1=dt, dtype2=dt,
                          axes=(1, 2)))
    return cases


ALL_CASES = (geometry_cases() + dtype_cases() + complex_cases() + view_cases()
             + length_one_cases() + axes_cases() + long_cases() + axes_dtype_cases())
_seen: set = set()
CASES = [c for c in ALL_CASES if not (c.id in _seen or _seen.add(c.id))]
CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES]


# ---------------------------------------------------------------------------
# every algorithm against the reference


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_method_matches_reference(case: Case, method: str) -> None:
    in1, in2 = inputs(case)
    expected = reference_result(case)
    got = call(case, in1, in2, method)
    assert_close_dtype(got, expected, np.result_type(in1, in2), scale=scale_of(case),
                       err_msg=f"method={method!r} vs reference for {case.id}")


# ---------------------------------------------------------------------------
# the reference against independent oracles


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_reference_matches_loop_oracle(case: Case) -> None:
    """method='reference' equals numpy.pad + an explicit loop (every boundary,
    any width, every dtype, broadcasting axes)."""
    in1, in2 = inputs(case)
    expected = loop_oracle(case, in1, in2)
    assert expected.dtype == np.result_type(in1, in2)
    assert_close_dtype(reference_result(case), expected, expected.dtype, scale=scale_of(case),
                       err_msg=case.id)


def _scipy_call(case: Case, in1: np.ndarray, in2: np.ndarray) -> np.ndarray:
    f = getattr(scipy_signal, case.func)
    if case.func.endswith("2d"):
        return f(in1, in2, case.mode, case.boundary, case.fillvalue)
    return f(in1, in2, case.mode, method="direct")


def _scipy_comparable(case: Case) -> bool:
    if case.axes is not None or "float16" in (case.dtype1, case.dtype2):
        return False
    if "longdouble" in (case.dtype1, case.dtype2) or "bool" in (case.dtype1, case.dtype2):
        return False
    if not case.func.endswith("2d"):
        return case.boundary == "fill" and case.fillvalue == 0
    if case.boundary not in ("fill", "wrap", "symm"):
        return False
    # widths not wider than the input
    return case.mode == "valid" or all(k - 1 <= n for n, k in zip(case.s1, case.s2))


SCIPY_CASES = [pytest.param(c, id=c.id) for c in CASES if _scipy_comparable(c)]


@pytest.mark.parametrize("case", SCIPY_CASES)
def test_reference_matches_scipy(case: Case) -> None:
    """method='reference' equals scipy.signal's direct computation."""
    in1, in2 = inputs(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _scipy_call(case, in1, in2)
    assert_close_dtype(reference_result(case), expected, expected.dtype, scale=scale_of(case),
                       err_msg=case.id)


def test_grid_covers_the_brief() -> None:
    """The grid really contains the edge problems it claims to."""
    ids = [c.id for c in CASES]
    assert len(CASES) > 500
    assert {c.func for c in CASES} == {"convolve", "correlate", "convolve2d", "correlate2d"}
    assert {c.boundary for c in CASES} == {"fill", "wrap", "symm", "reflect", "nearest"}
    assert {c.mode for c in CASES} == {"full", "same", "valid"}
    assert set(ALL_DTYPES) <= {c.dtype1 for c in CASES}
    assert any(c.fillvalue != 0 for c in CASES)
    assert {len(c.s1) for c in CASES} >= {1, 2, 3}
    # kernels wider than the input with a non-fill boundary (pads exceed the input)
    assert any(c.boundary in ("wrap", "symm", "reflect", "nearest") and c.mode == "same"
               and any(k > 2 * n for n, k in zip(c.s1, c.s2)) for c in CASES)
    # valid where in2 is larger than in1
    assert any(c.mode == "valid" and all(k > n for n, k in zip(c.s1, c.s2)) for c in CASES)
    # even kernels, length-1 axes, views, shared and per-slice kernels with axes
    assert any(k % 2 == 0 for c in CASES for k in c.s2)
    assert any(1 in c.s1 for c in CASES)
    assert {"step", "reverse"} <= {c.view1 for c in CASES} | {c.view2 for c in CASES}
    axes_cases_ = [c for c in CASES if c.axes is not None]
    assert any(all(c.s2[a] == 1 for a in range(len(c.s2))
                   if a not in [x % len(c.s2) for x in np.atleast_1d(c.axes)]) for c in axes_cases_)
    assert any(any(c.s2[a] > 1 for a in range(len(c.s2))
                   if a not in [x % len(c.s2) for x in np.atleast_1d(c.axes)]) for c in axes_cases_)
    assert len(ids) == len(set(ids))


def test_views_are_really_views() -> None:
    case = Case("convolve", (5, 6), (3, 2), "same", view1="step", view2="reverse")
    in1, in2 = inputs(case)
    assert not in1.flags.c_contiguous and not in1.flags.f_contiguous
    assert any(s < 0 for s in in2.strides)


def test_seed_example_from_the_literature() -> None:
    """Seed 001's worked example (scipy.signal.convolve2d gives the same)."""
    A = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
    B = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    expected = np.array([[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    for method in ("reference",) + METHODS:
        np.testing.assert_array_equal(convolab.convolve2d(A, B, "valid", method=method), expected)
        np.testing.assert_array_equal(convolab.convolve(A, B, "valid", method=method), expected)
        # B is symmetric under a 180-degree rotation: correlation gives the same
        np.testing.assert_array_equal(convolab.correlate2d(A, B, "valid", method=method), expected)


def test_auto_matches_reference_on_a_sample() -> None:
    """method='auto' (whatever the planner picks) agrees with the reference."""
    for case in CASES[::25]:
        in1, in2 = inputs(case)
        assert_close_dtype(call(case, in1, in2, "auto"), reference_result(case),
                           np.result_type(in1, in2), scale=scale_of(case), err_msg=case.id)


@pytest.mark.parametrize("method", ("reference",) + METHODS)
@pytest.mark.parametrize("shapes", [((30,), (5,)), ((20, 30), (5,)), ((9, 10), (3, 4)),
                                    ((5, 6, 7), (2, 3, 2))],
                         ids=["1d", "1d-batch-axes", "2d", "3d"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tiny_kernel_values(method, shapes, dtype, request):
    """Kernel values far below 1 (1e-18: a kernel in physical units) against
    large inputs: every tap counts, whatever its size."""
    rng = np.random.default_rng(zlib.crc32(repr((shapes, dtype)).encode()))
    in1 = (rng.uniform(0.5, 1, shapes[0]) * 1e18).astype(dtype)
    in2 = (rng.uniform(0.5, 1, shapes[1]) * 1e-18).astype(dtype)
    axes = -1 if len(shapes[1]) < len(shapes[0]) else None
    if axes is not None:
        in2 = in2.reshape((1,) * (len(shapes[0]) - 1) + shapes[1])
    expected = oracle(in1, in2, "same", flip=True, axes=axes)
    got = convolab.convolve(in1, in2, "same", method=method, axes=axes)
    assert_close_dtype(got, expected, dtype, scale=magnitude(in1, in2, axes=axes))


# ---------------------------------------------------------------------------
# the test tools themselves: a comparator that accepts anything proves nothing


def test_tolerance_table(tolerances, tol):
    assert tol(np.float32) == tol(np.complex64) == (1e-4, 1e-6)
    assert tol(np.float16) == (1e-3, 1e-3)
    assert tol(np.float64) == tol(np.complex128) == tol(np.longdouble) == (1e-5, 1e-8)
    assert tol(np.int8) == tol(np.uint64) == tol(np.bool_) == (0, 0)
    assert set(tolerances) >= {np.dtype(d) for d in ("float16", "float32", "float64",
                                                     "complex64", "complex128", "longdouble")}


def test_assert_close_rejects_what_it_should(assert_close):
    x = np.linspace(1, 2, 5)
    assert_close(x * (1 + 1e-7), x, np.float64)
    for bad in (x * (1 + 1e-3), x[:4], x.astype(np.float32)):
        with pytest.raises(AssertionError):
            assert_close(bad, x, np.float64)
    y = x.copy()
    y[2] = np.nan
    with pytest.raises(AssertionError):
        assert_close(x, y, np.float64)
    assert_close(y, y.copy(), np.float64)
    with pytest.raises(AssertionError):
        assert_close(np.array([1, 2, 4]), np.array([1, 2, 3]), np.int64)


def test_oracle_agrees_with_numpy_on_1d(rng):
    for n, k in ((7, 3), (3, 7), (5, 4), (1, 1)):
        a = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        b = rng.standard_normal(k) + 1j * rng.standard_normal(k)
        np.testing.assert_allclose(oracle(a, b, "full", flip=True), np.convolve(a, b))
        # numpy.correlate conjugates its second argument, like scipy
        np.testing.assert_allclose(oracle(a, b, "full", flip=False), np.correlate(a, b, "full"))
        np.testing.assert_allclose(oracle(a, b, "valid", flip=True), np.convolve(a, b, "valid"))
