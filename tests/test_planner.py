"""The planner: plans explain themselves, choose sensibly, refuse what cannot
run (with the reason) or would not fit (with the size), and run."""

from __future__ import annotations

import os
import re
import tracemalloc

import numpy as np
import pytest
import scipy.signal

import convolab
from convolab import ConvolabError, planner, repeated
from convolab.algorithms import ALGORITHMS, FAMILY
from convolab.planner import AUTO_CANDIDATES
from helpers import assert_close_dtype, oracle, scipy_signal


def test_print_lists_every_candidate_and_the_choice(capsys):
    in1, in2 = np.ones((64, 64)), np.ones((9, 9))
    p = convolab.plan(in1, in2, "same")
    print(p)
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("convolab plan for convolve")
    assert "(64, 64)" in text and "(9, 9)" in text
    names = [c.name for c in p.candidates] + [name for name, _ in p.rejected]
    assert sorted(names) == sorted(AUTO_CANDIDATES)
    for name in AUTO_CANDIDATES:
        assert re.search(rf"^\s+\*?\s*{name}\b", text, re.M), name
    # exactly one candidate line is marked as the choice, and it is p.method
    marked = re.findall(r"^\s+\*\s+(\w+)", text, re.M)
    assert marked == [p.method]
    assert f"choice: {p.method}" in text
    # the candidates are listed fastest first, and the choice is the fastest
    seconds = [c.seconds for c in p.candidates]
    assert seconds == sorted(seconds)
    assert p.method == p.candidates[0].name
    assert p.estimated_seconds == min(seconds)


def test_print_lists_rejected_candidates_with_reasons():
    a = np.ones((32, 32), dtype=bool)
    p = convolab.plan(a, a[:5, :5], "same")
    rejected = dict(p.rejected)
    assert set(rejected) == {"fft", "oa", "os", "separable", "winograd"}
    text = str(p)
    assert "rejected:" in text
    for name, reason in p.rejected:
        assert reason and reason in text
        assert name in reason
    assert p.method not in rejected
    assert FAMILY[p.method] == "direct"


def test_print_shows_rejections_for_memory(monkeypatch):
    """A candidate that does not fit is listed as rejected with its size."""
    in2 = np.ones((7, 7))
    monkeypatch.setenv("CONVOLAB_MEMORY_LIMIT", "1KiB")
    with pytest.raises(ConvolabError) as info:       # everything refused: read the needs
        convolab.plan(np.ones((181, 183)), in2)
    units = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
    needs = {name: float(v) * units[u] for name, v, u in
             re.findall(r"(\w+): needs about ([\d.]+) (KiB|MiB|GiB)", str(info.value))}
    assert set(needs) == set(AUTO_CANDIDATES) - {"winograd"}     # it refuses 7x7 kernels outright
    # a limit between the smallest and the largest need refuses some, not all
    limit = (min(needs.values()) * max(needs.values())) ** 0.5
    monkeypatch.setenv("CONVOLAB_MEMORY_LIMIT", str(int(limit)))
    p = convolab.plan(np.ones((181, 184)), in2)     # a problem not planned before
    reasons = dict(p.rejected)
    assert reasons, str(p)
    for name, reason in reasons.items():
        if name == "winograd":          # refused for its kernel size, not for memory
            continue
        assert re.search(r"needs about [\d.]+ [KMG]iB of memory but [\d.]+ [KMG]iB", reason), reason
        assert name in reason
    assert any("needs about" in r for r in reasons.values())


def test_forced_plan_is_marked_forced():
    p = convolab.plan(np.ones(100), np.ones(5), method="im2col")
    assert p.method == "im2col" and p.forced
    assert "forced" in str(p)
    assert not convolab.plan(np.ones(100), np.ones(5)).forced


# ---------------------------------------------------------------------------
# choose_conv_method


@pytest.mark.parametrize("shapes", [((10,), (3,)), ((5,), (5,)), ((4, 4), (2, 2)),
                                    ((3, 3, 3), (2, 2, 2))])
def test_tiny_problems_choose_direct(shapes):
    in1, in2 = np.ones(shapes[0]), np.ones(shapes[1])
    assert convolab.choose_conv_method(in1, in2) == "direct"
    assert scipy_signal.choose_conv_method(in1, in2) == "direct"


def test_large_kernel_chooses_fft():
    # a full-rank kernel: a box (rank 1) would go to 'separable', faster still
    in1, in2 = np.ones((512, 512)), np.random.default_rng(0).random((63, 63))
    assert convolab.choose_conv_method(in1, in2, mode="same") == "fft"
    assert convolab.choose_conv_method(in1, in2, mode="same", detail=True) in ("fft", "oa", "os")
    assert scipy_signal.choose_conv_method(in1, in2, mode="same") == "fft"


def test_choose_conv_method_measure(rng):
    in1, in2 = rng.random((48, 48)), rng.random((5, 5))
    method, times = convolab.choose_conv_method(in1, in2, measure=True)
    assert {"direct", "fft"} <= set(times)
    assert all(isinstance(t, float) and t > 0 for t in times.values())
    fastest = min(times, key=times.get)
    assert method == FAMILY[fastest]
    # scipy's return shape: (str, dict)
    ref = scipy_signal.choose_conv_method(in1, in2, measure=True)
    assert isinstance(ref, tuple) and set(ref[1]) == {"direct", "fft"}


def test_measured_plan_runs_and_reports_times(rng):
    in1, in2 = rng.random((40, 40)), rng.random((4, 4))
    p = convolab.plan(in1, in2, "same", measure=True)
    assert p.measured
    assert all(c.measured is not None and c.measured > 0 for c in p.candidates)
    assert p.method == min(p.candidates, key=lambda c: c.measured).name
    assert "measured" in str(p)
    np.testing.assert_allclose(p(in1, in2), scipy_signal.convolve(in1, in2, "same"), rtol=1e-10,
                               atol=1e-12)


# ---------------------------------------------------------------------------
# refusals


def test_forcing_a_method_that_cannot_run_raises_with_the_reason():
    in1, in2 = np.ones((3000, 3000)), np.ones((3, 3))
    reason = ALGORITHMS["reference"].supports(convolab.plan(in1, in2).problem)
    assert reason                                  # the reference refuses this problem
    with pytest.raises(ConvolabError) as info:
        convolab.plan(in1, in2, method="reference")
    assert "method='reference'" in str(info.value) and reason in str(info.value)
    with pytest.raises(ConvolabError, match=re.escape(reason)):
        convolab.convolve(in1, in2, method="reference")


def test_memory_guard_refuses_before_allocating(monkeypatch):
    monkeypatch.setenv("CONVOLAB_MEMORY_LIMIT", "4MiB")
    in1, in2 = np.ones((1001, 1003)), np.ones((3, 3))     # ~8 MB of output alone
    tracemalloc.start()
    try:
        with pytest.raises(ConvolabError) as info:
            convolab.plan(in1, in2)
        with pytest.raises(ConvolabError):
            convolab.convolve(in1, in2, method="direct")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    needed = [float(v) for v in re.findall(r"needs about ([\d.]+) MiB", message)]
    assert needed and all(v > 4 for v in needed), message
    out_mib = 1003 * 1005 * 8 / 2**20
    assert all(v >= out_mib for v in needed)       # at least the output itself
    assert "4.0 MiB is available" in message
    assert peak < 2**20


# ---------------------------------------------------------------------------
# a plan runs


@pytest.mark.parametrize("op", ["convolve", "correlate"])
@pytest.mark.parametrize("method", ["auto", "direct", "im2col", "fft", "oa", "os", "reference"])
def test_plan_is_runnable(op, method, rng):
    in1, in2 = rng.random((9, 10)), rng.random((3, 4))
    p = convolab.plan(in1, in2, "same", op=op, method=method, boundary="reflect")
    got = p(in1, in2)
    direct = getattr(convolab, op)(in1, in2, "same", method=method, boundary="reflect")
    expected = oracle(in1, in2, "same", flip=op == "convolve", boundary="reflect")
    np.testing.assert_array_equal(got, direct)
    assert_close_dtype(got, expected, np.float64, scale=12)
    # new inputs of the same shapes and dtypes
    in1b, in2b = rng.random((9, 10)), rng.random((3, 4))
    assert_close_dtype(p(in1b, in2b), oracle(in1b, in2b, "same", flip=op == "convolve",
                                             boundary="reflect"), np.float64, scale=12)


def test_plan_with_mismatched_shapes_or_dtypes_raises():
    p = convolab.plan(np.ones((9, 10)), np.ones((3, 4)))
    with pytest.raises(ConvolabError, match=r"\(9, 10\).*\(8, 10\)"):
        p(np.ones((8, 10)), np.ones((3, 4)))
    with pytest.raises(ConvolabError, match=r"\(3, 4\)"):
        p(np.ones((9, 10)), np.ones((3, 3)))
    with pytest.raises(ConvolabError, match=r"float32"):
        p(np.ones((9, 10), np.float32), np.ones((3, 4)))


def test_plan_on_empty_arrays_of_the_right_shape(rng):
    """Planning from shapes alone (numpy.empty), then running on data."""
    p = convolab.plan(np.empty((50, 60)), np.empty((5, 5)), "valid")
    assert p.problem.spatial_out == (46, 56)
    a, b = rng.random((50, 60)), rng.random((5, 5))
    np.testing.assert_allclose(p(a, b), scipy_signal.convolve(a, b, "valid"), rtol=1e-10)


def test_unbound_plan_cannot_run():
    from convolab import planner
    p = convolab.plan(np.ones(10), np.ones(3))
    bare = planner.plan(p.problem)
    with pytest.raises(ConvolabError, match=r"not bound"):
        bare(np.ones(10), np.ones(3))


def test_plans_are_cached_per_problem():
    a, b = np.ones((33, 35)), np.ones((3, 3))
    from convolab import planner
    p1 = convolab.plan(a, b)
    assert planner.plan(p1.problem) is planner.plan(p1.problem)
    assert hash(p1.problem) == hash(convolab.plan(a * 2, b).problem)


# -- repeated calls reuse their plan -----------------------------------------

def test_a_repeated_call_reuses_its_plan_and_still_computes_the_new_values():
    planner.clear_cache()
    rng = np.random.default_rng(7)
    x, k = rng.random((40, 50)), rng.random((3, 3))
    first = convolab.convolve(x, k, mode="same")
    assert len(repeated._calls) == 1
    (chosen,) = [c.plan for c in repeated._calls.values()]
    x2 = rng.random((40, 50))
    second = convolab.convolve(x2, k, mode="same")
    assert len(repeated._calls) == 1 and next(iter(repeated._calls.values())).plan is chosen
    np.testing.assert_allclose(first, scipy.signal.convolve(x, k, mode="same"), rtol=1e-12)
    np.testing.assert_allclose(second, scipy.signal.convolve(x2, k, mode="same"), rtol=1e-12)
    # a small kernel's values are part of the key (its rank can change the plan)
    k2 = rng.random((3, 3))
    third = convolab.convolve(x2, k2, mode="same")
    np.testing.assert_allclose(third, scipy.signal.convolve(x2, k2, mode="same"), rtol=1e-12)
    assert len(repeated._calls) == 2
    # the other entry points and other arguments get their own plans
    convolab.correlate(x, k, mode="same")
    convolab.fftconvolve(x, k, mode="same")
    convolab.convolve(x, k, mode="same", boundary="wrap")
    assert len(repeated._calls) == 5
    planner.clear_cache()
    assert not repeated._calls


def test_integer_calls_are_planned_from_their_values():
    # integer problems carry a bound on the values (the exactness of the FFT),
    # so a call with larger values must not reuse a plan made for small ones
    planner.clear_cache()
    small = np.ones((64, 64), dtype=np.int64)
    convolab.convolve(small, small[:9, :9], method="fft")
    assert not repeated._calls
    c = 2**28
    big = np.full((64, 64), c, dtype=np.int64)
    out = convolab.convolve(big, big[:9, :9], method="fft")
    counts = np.outer(np.convolve(np.ones(64), np.ones(9)), np.convolve(np.ones(64), np.ones(9)))
    expected = counts.astype(np.int64).astype(object) * (c * c)
    assert (out.astype(object) == expected).all()


def test_a_repeated_call_keeps_the_rank_of_its_own_kernel():
    # 11x11 kernels on a large image: the rank decides between 1-D passes and the rest
    planner.clear_cache()
    rng = np.random.default_rng(8)
    x = rng.random((512, 512))
    g = np.exp(-np.linspace(-2, 2, 11) ** 2)
    separable, full_rank = np.outer(g, g), rng.random((11, 11))
    assert convolab.plan(x, separable, mode="same").method == "separable"
    for kernel in (separable, full_rank, separable):
        np.testing.assert_allclose(convolab.convolve(x, kernel, mode="same"),
                                   scipy.signal.convolve(x, kernel, mode="same"), rtol=1e-10, atol=1e-12)
    methods = sorted(p.method for p in [c.plan for c in repeated._calls.values()])
    assert len(methods) == 2 and "separable" in methods and methods != ["separable", "separable"]


def test_the_memory_limit_applies_to_repeated_calls(monkeypatch):
    planner.clear_cache()
    x, k = np.zeros((256, 256)), np.ones((31, 31))
    convolab.convolve(x, k, mode="same")
    monkeypatch.setenv("CONVOLAB_MEMORY_LIMIT", "1KiB")
    with pytest.raises(convolab.ConvolabError, match="memory"):
        convolab.convolve(x, k, mode="same")
