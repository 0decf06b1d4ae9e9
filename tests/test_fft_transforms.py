"""The inverse real transform of the FFT paths (fft.inverse_real) against scipy.fft."""

import numpy as np
import pytest
import scipy.fft

from convolab.algorithms.fft import inverse_real


@pytest.mark.parametrize("shape, axes", [((7,), (0,)), ((2, 16, 9), (1, 2)), ((3, 6, 5, 8), (1, 2, 3)),
                                         ((1, 1, 1, 12, 10), (3, 4))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("workers", [1, 2, -1])
def test_inverse_real_matches_scipy(shape, axes, dtype, workers):
    rng = np.random.default_rng(len(shape) + workers)
    x = rng.standard_normal(shape).astype(dtype)
    spectrum = scipy.fft.rfftn(x, axes=axes)
    size = tuple(shape[a] for a in axes)
    expected = scipy.fft.irfftn(spectrum, size, axes=axes)
    got = inverse_real(spectrum.copy(), size, axes, workers)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol * np.abs(expected).max())
    out = np.full(shape, np.nan, dtype)
    assert inverse_real(spectrum.copy(), size, axes, workers, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=0, atol=tol * np.abs(expected).max())


def test_a_spectrum_of_another_size_goes_through_scipy():
    # irfftn crops or zero-pads the leading axes to the requested shape
    rng = np.random.default_rng(3)
    spectrum = scipy.fft.rfftn(rng.standard_normal((10, 8)))
    expected = scipy.fft.irfftn(spectrum, (6, 8))
    np.testing.assert_allclose(inverse_real(spectrum.copy(), (6, 8), (0, 1), 1), expected, atol=1e-13)
