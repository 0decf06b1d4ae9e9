"""The seeds' CNN experiments, computed.

* :func:`multichannel_walkthrough`: seed 001's multi-channel example (a 5x5x3
  input padded by 1 to 7x7x3, two 3x3x3 filters, stride 2, a bias each -> 3x3x2),
  computed four ways with identical numbers: nested loops, one dot product
  per window, the im2col matrix product, and the FFT.
* :func:`one_by_one_is_matmul`: a 1x1 convolution is a matrix product over
  channels.
* :func:`learn_digits`: "a CNN learns the same with convolution or with
  correlation" (seed 000): the same small CNN trained twice on scikit-learn's
  8x8 digits, with correlation layers and with true convolution layers
  started from the first run's kernels rotated by 180°.  The losses and
  accuracies match and the learned kernels are rotations of each other.

Everything runs on convolab's own forward and gradients in numpy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import functional as F
from . import grad as G


# ---------------------------------------------------------------------------
# seed 001: the multi-channel walk-through


def multichannel_walkthrough(seed: int = 0) -> dict[str, Any]:
    """Seed 001's multi-channel convolution, four ways.

    Integer data (inputs 0..2, weights -1..1, biases 1 and 0, as in the
    cs231n demo the seed cites), so every way gives exactly the same integers.

    The input is 5x5 with 3 channels; padded by 1 it is the 7x7x3 volume of
    the seed's figure.  Returns a dict with ``input`` (3, 5, 5), ``padded``
    (3, 7, 7), ``filters`` (2, 3, 3, 3),
    ``bias`` (2,), and the outputs (2, 3, 3) under ``'loops'``,
    ``'dot_products'``, ``'im2col'``, ``'fft'``, plus ``'columns'`` (the im2col
    matrix, 27 x 9).

    Examples
    --------
    >>> r = multichannel_walkthrough()
    >>> r['padded'].shape, r['loops'].shape
    ((3, 7, 7), (2, 3, 3))
    >>> all((r[k] == r['loops']).all() for k in ('dot_products', 'im2col', 'fft'))
    True
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(3, 5, 5))
    w = rng.integers(-1, 2, size=(2, 3, 3, 3))
    b = np.array([1, 0])
    stride, pad = 2, 1
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    out_size = (xp.shape[1] - 3) // stride + 1

    # 1. nested loops: output channel, row, column, then the window and depth
    loops = np.zeros((2, out_size, out_size), dtype=np.int64)
    for o, i, j in itertools.product(range(2), range(out_size), range(out_size)):
        total = int(b[o])
        for c, u, v in itertools.product(range(3), range(3), range(3)):
            total += int(xp[c, i * stride + u, j * stride + v]) * int(w[o, c, u, v])
        loops[o, i, j] = total

    # 2. one dot product per window: flattened receptive field . flattened filter
    dots = np.zeros_like(loops)
    for o, i, j in itertools.product(range(2), range(out_size), range(out_size)):
        field_ = xp[:, i * stride:i * stride + 3, j * stride:j * stride + 3]
        dots[o, i, j] = np.dot(field_.ravel(), w[o].ravel()) + b[o]

    # 3. im2col: every receptive field a column, every filter a row, one product
    columns = np.stack([xp[:, i * stride:i * stride + 3, j * stride:j * stride + 3].ravel()
                        for i in range(out_size) for j in range(out_size)], axis=1)
    w_rows = w.reshape(2, -1)
    im2col = (w_rows @ columns + b[:, None]).reshape(2, out_size, out_size)

    # 4. the convolution theorem, through convolab's exact integer FFT
    fft = F.conv2d(x[None], w, b, stride=stride, padding=pad, method="fft")[0]

    return {"input": x, "padded": xp, "filters": w, "bias": b, "loops": loops, "dot_products": dots,
            "im2col": im2col, "fft": fft, "columns": columns}


def one_by_one_is_matmul(seed: int = 0) -> dict[str, Any]:
    """A 1x1 convolution mixes channels at each pixel: ``W @ X`` with ``X``
    the input as (channels, pixels).

    Examples
    --------
    >>> r = one_by_one_is_matmul()
    >>> bool(r['max_difference'] < 1e-12)
    True
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 16, 5, 5))
    w = rng.standard_normal((4, 16, 1, 1))
    conv = F.conv2d(x, w)
    matmul = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x)
    return {"conv": conv, "matmul": matmul, "max_difference": float(np.abs(conv - matmul).max())}


# ---------------------------------------------------------------------------
# seed 000: a CNN learns the same with convolution or with correlation


@dataclass
class TrainingRun:
    """What one training run produced."""

    flip: bool                          # True: convolution layers
    losses: list[float] = field(default_factory=list)   # mean loss per epoch
    train_accuracy: float = 0.0
    test_accuracy: float = 0.0
    kernels: list[np.ndarray] = field(default_factory=list)   # learned conv weights


def _init(seed: int, channels: tuple[int, int]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c1, c2 = channels
    return {
        "w1": rng.standard_normal((c1, 1, 3, 3)) * np.sqrt(2 / 9),
        "b1": np.zeros(c1),
        "w2": rng.standard_normal((c2, c1, 3, 3)) * np.sqrt(2 / (9 * c1)),
        "b2": np.zeros(c2),
        "w3": rng.standard_normal((10, c2 * 4 * 4)) * np.sqrt(1 / (c2 * 16)),
        "b3": np.zeros(10),
    }


def _forward(p: dict[str, np.ndarray], x: np.ndarray, flip: bool) -> tuple[np.ndarray, dict]:
    z1 = F.conv2d(x, p["w1"], p["b1"], flip=flip)                  # 8x8 -> 6x6
    a1 = np.maximum(z1, 0)
    z2 = F.conv2d(a1, p["w2"], p["b2"], flip=flip)                 # 6x6 -> 4x4
    a2 = np.maximum(z2, 0)
    flat = a2.reshape(len(x), -1)
    logits = flat @ p["w3"].T + p["b3"]
    return logits, {"x": x, "z1": z1, "a1": a1, "z2": z2, "a2": a2, "flat": flat}


def _softmax_loss(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(shifted)
    prob /= prob.sum(axis=1, keepdims=True)
    loss = float(-np.log(prob[np.arange(len(y)), y]).mean())
    grad = prob
    grad[np.arange(len(y)), y] -= 1
    return loss, grad / len(y)


def _backward(p: dict[str, np.ndarray], cache: dict, g_logits: np.ndarray, flip: bool) -> dict:
    grads = {"w3": g_logits.T @ cache["flat"], "b3": g_logits.sum(axis=0)}
    g_a2 = (g_logits @ p["w3"]).reshape(cache["a2"].shape)
    g_z2 = g_a2 * (cache["z2"] > 0)
    grads["w2"] = G.conv2d_weight(cache["a1"], p["w2"].shape, g_z2, flip=flip)
    grads["b2"] = G.bias_grad(g_z2)
    g_a1 = G.conv2d_input(cache["a1"].shape, p["w2"], g_z2, flip=flip)
    g_z1 = g_a1 * (cache["z1"] > 0)
    grads["w1"] = G.conv2d_weight(cache["x"], p["w1"].shape, g_z1, flip=flip)
    grads["b1"] = G.bias_grad(g_z1)
    return grads


def digits_data(seed: int = 0, test_fraction: float = 0.25) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits (shipped with it, no download), scaled to
    [0, 1], split into train and test sets: ``(x_train, y_train, x_test, y_test)``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0)[:, None].astype(np.float64)
    y = digits.target
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def train_digits(*, flip: bool, params: dict[str, np.ndarray], epochs: int = 8,
                 batch_size: int = 32, learning_rate: float = 0.1, seed: int = 0,
                 data: tuple[np.ndarray, ...] | None = None) -> TrainingRun:
    """Train the small CNN (conv 1->8 3x3, ReLU, conv 8->8 3x3, ReLU, linear
    128->10, softmax) with plain SGD; the minibatch order depends on ``seed``
    only, so two runs see the same data in the same order."""
    x_train, y_train, x_test, y_test = data if data is not None else digits_data()
    p = {k: v.copy() for k, v in params.items()}
    order_rng = np.random.default_rng(seed)
    run = TrainingRun(flip=flip)
    for _ in range(epochs):
        order = order_rng.permutation(len(y_train))
        epoch_losses = []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits, cache = _forward(p, x_train[idx], flip)
            loss, g_logits = _softmax_loss(logits, y_train[idx])
            grads = _backward(p, cache, g_logits, flip)
            for k in p:
                p[k] -= learning_rate * grads[k]
            epoch_losses.append(loss)
        run.losses.append(float(np.mean(epoch_losses)))

    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        return float((_forward(p, x, flip)[0].argmax(axis=1) == y).mean())

    run.train_accuracy = accuracy(x_train, y_train)
    run.test_accuracy = accuracy(x_test, y_test)
    run.kernels = [p["w1"], p["w2"]]
    return run


def rotate180(w: np.ndarray) -> np.ndarray:
    """Kernels rotated by 180° on their spatial axes (the last two)."""
    return w[..., ::-1, ::-1].copy()


def learn_digits(epochs: int = 8, seed: int = 0, channels: tuple[int, int] = (8, 8)
                 ) -> dict[str, Any]:
    """Train the CNN with correlation layers, then with convolution layers
    started from the rotated kernels; compare.

    Returns ``correlation`` and ``convolution`` (:class:`TrainingRun`) and
    ``max_loss_difference``, ``max_kernel_difference`` (learned convolution
    kernels against the rotated correlation kernels).
    """
    data = digits_data(seed)
    start = _init(seed, channels)
    corr = train_digits(flip=False, params=start, epochs=epochs, seed=seed, data=data)
    rotated = dict(start, w1=rotate180(start["w1"]), w2=rotate180(start["w2"]))
    conv = train_digits(flip=True, params=rotated, epochs=epochs, seed=seed, data=data)
    return {
        "correlation": corr,
        "convolution": conv,
        "max_loss_difference": float(np.max(np.abs(np.subtract(corr.losses, conv.losses)))),
        "max_kernel_difference": float(max(np.abs(rotate180(a) - b).max()
                                           for a, b in zip(corr.kernels, conv.kernels))),
    }
