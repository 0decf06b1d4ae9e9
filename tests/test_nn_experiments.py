"""The seeds' CNN experiments, checked against independent oracles."""

import numpy as np
import pytest

from convolab.nn import experiments as E


def test_multichannel_walkthrough_four_ways_and_torch():
    torch = pytest.importorskip("torch")
    r = E.multichannel_walkthrough()
    assert r["padded"].shape == (3, 7, 7) and r["loops"].shape == (2, 3, 3)
    for way in ("dot_products", "im2col", "fft"):
        np.testing.assert_array_equal(r[way], r["loops"])
    expected = torch.nn.functional.conv2d(torch.tensor(r["input"][None]), torch.tensor(r["filters"]),
                                          torch.tensor(r["bias"]), stride=2, padding=1)[0].numpy()
    np.testing.assert_array_equal(r["loops"], expected)
    # the im2col matrix holds one flattened receptive field per output position
    assert r["columns"].shape == (27, 9)
    np.testing.assert_array_equal(r["columns"][:, 0], r["padded"][:, :3, :3].ravel())


def test_one_by_one_convolution_is_a_matrix_product():
    r = E.one_by_one_is_matmul(seed=4)
    x_pixels = np.moveaxis(r["matmul"], 1, -1)  # independent reshaping check below
    assert r["conv"].shape == (2, 4, 5, 5) and x_pixels.shape == (2, 5, 5, 4)
    np.testing.assert_allclose(r["conv"], r["matmul"], rtol=1e-12, atol=1e-12)


def test_a_cnn_learns_the_same_with_convolution_or_correlation():
    pytest.importorskip("sklearn")
    res = E.learn_digits(epochs=4)
    corr, conv = res["correlation"], res["convolution"]
    # it learned something: well above chance (10 %)
    assert corr.test_accuracy > 0.8
    # same losses and accuracies
    np.testing.assert_allclose(conv.losses, corr.losses, rtol=1e-9, atol=1e-12)
    assert conv.train_accuracy == corr.train_accuracy
    assert conv.test_accuracy == corr.test_accuracy
    # the learned kernels are 180-degree rotations of each other (np.rot90 as the oracle)
    for a, b in zip(corr.kernels, conv.kernels):
        np.testing.assert_allclose(np.rot90(a, 2, axes=(-2, -1)), b, rtol=1e-9, atol=1e-12)
        # and they are not symmetric, so the relation is not trivially true
        assert np.abs(a - b).max() > 1e-3


def test_the_convolution_layer_really_flips():
    """The 'convolution' run is not the correlation run in disguise: with the
    same (unrotated) start it learns something different."""
    pytest.importorskip("sklearn")
    data = E.digits_data()
    start = E._init(0, (8, 8))
    a = E.train_digits(flip=False, params=start, epochs=1, data=data)
    b = E.train_digits(flip=True, params=start, epochs=1, data=data)
    assert abs(a.losses[0] - b.losses[0]) > 1e-6
