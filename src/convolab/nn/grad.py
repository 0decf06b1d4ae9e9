"""Gradients of the convolution layers, each one a convolution itself.

Named and ordered like ``torch.nn.grad``.  For a layer
``y = conv(x, w) + b`` (a cross-correlation) and the gradient ``gy = dL/dy``:

* ``dL/dx`` (:func:`conv2d_input`) is a **transposed convolution** of ``gy``:
  spread by the stride, then a full convolution with the kernel rotated 180°
  (its channel axes swapped).  :func:`convolab.nn.functional.transposed`.
* ``dL/dw`` (:func:`conv2d_weight`) is a **correlation of the input with the
  output gradient**: ``dw[o, c, j] = sum_n sum_i xpad[n, c, i s + j d] gy[n, o, i]``,
  i.e. ``gy`` is the kernel (dilated by the stride), the batch is the channel
  sum, and the output steps by the dilation.
* ``dL/db`` (:func:`bias_grad`) sums ``gy`` over the batch and positions.

Each is a :class:`~convolab.problem.ConvProblem` run by the same planner, so
every algorithm that serves the forward pass serves these.  ``padding_mode``
other than zeros adds the adjoint of the extension (each extended sample's
gradient goes back to the sample it copies).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..boundary import extend_adjoint
from ..errors import ConvolabError
from ..problem import PADDING_MODES, ConvProblem, _tuple, compute_dtype_for, from_nn, nn_padding
from .functional import _array, run_core, transposed

__all__ = ["conv1d_input", "conv2d_input", "conv3d_input", "conv1d_weight", "conv2d_weight",
           "conv3d_weight", "bias_grad"]


def _shape(size: Any, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"{name}={size!r} must be a sequence of ints") from None


def _check_layer(name: str, nd: int, x_shape: tuple, w_shape: tuple, gy: np.ndarray,
                 x_dtype: np.dtype, w_dtype: np.dtype, stride: Any, padding: Any, dilation: Any,
                 groups: Any, padding_mode: str) -> None:
    """Check the layer's arguments as the forward pass does, and that
    ``grad_output`` has the shape of the layer's output."""
    forward = from_nn(tuple(x_shape), tuple(w_shape), x_dtype, w_dtype, nd=nd, stride=stride,
                      padding=padding, dilation=dilation, groups=groups,
                      padding_mode=padding_mode, name=name)
    expected = (forward.batch, forward.groups * forward.out_channels) + forward.spatial_out
    if not forward.layout.batched:
        expected = expected[1:]
    if gy.shape != expected:
        raise ConvolabError(f"{name}: grad_output of shape {gy.shape} does not match the layer's "
                            f"output shape {expected}")


def _input_grad(nd: int, input_size: Any, weight: Any, grad_output: Any, stride: Any, padding: Any,
                dilation: Any, groups: int, padding_mode: str, method: str, flip: bool) -> np.ndarray:
    name = f"conv{nd}d_input"
    w, gy = _array(weight, "weight"), _array(grad_output, "grad_output")
    size = _shape(input_size, "input_size")
    if len(size) not in (nd + 1, nd + 2) or w.ndim != nd + 2 or gy.ndim != len(size):
        raise ConvolabError(f"{name}: input_size {size}, weight {w.shape} and grad_output "
                            f"{gy.shape} do not describe a {nd}-D layer")
    _check_layer(name, nd, size, w.shape, gy, gy.dtype, w.dtype, stride, padding, dilation,
                 groups, padding_mode)
    batched = len(size) == nd + 2
    if not batched:
        gy = gy[np.newaxis]
    stride_t = _tuple(stride, nd, "stride", 1)
    dilation_t = _tuple(dilation, nd, "dilation", 1)
    kernel = w.shape[2:]
    pads = nn_padding(padding, nd, kernel, dilation_t, stride_t)
    if flip:
        w = np.flip(w, axis=tuple(range(2, 2 + nd)))
    spatial = size[-nd:]
    boundary = PADDING_MODES[padding_mode]
    if boundary == "fill":
        gx = transposed(gy, w, nd=nd, stride=stride_t, pads=pads, out_size=spatial,
                        groups=groups, dilation=dilation_t, method=method, name=name)
    else:
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, pads))
        g_ext = transposed(gy, w, nd=nd, stride=stride_t, pads=((0, 0),) * nd, out_size=padded,
                           groups=groups, dilation=dilation_t, method=method, name=name)
        gx = extend_adjoint(g_ext, spatial, pads, boundary)
    return gx if batched else gx[0]


def _weight_grad(nd: int, input: Any, weight_size: Any, grad_output: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, padding_mode: str, method: str,
                 flip: bool) -> np.ndarray:
    name = f"conv{nd}d_weight"
    x, gy = _array(input, "input"), _array(grad_output, "grad_output")
    wsize = _shape(weight_size, "weight_size")
    if x.ndim not in (nd + 1, nd + 2) or len(wsize) != nd + 2 or gy.ndim != x.ndim:
        raise ConvolabError(f"{name}: input {x.shape}, weight_size {wsize} and grad_output "
                            f"{gy.shape} do not describe a {nd}-D layer")
    if x.dtype != gy.dtype:
        raise TypeError(f"{name}: input is {x.dtype} but grad_output is {gy.dtype}")
    _check_layer(name, nd, x.shape, wsize, gy, x.dtype, x.dtype, stride, padding, dilation,
                 groups, padding_mode)
    if x.ndim == nd + 1:
        x, gy = x[np.newaxis], gy[np.newaxis]
    n, c_in = x.shape[:2]
    c_out, c_in_g = wsize[:2]
    kernel = wsize[2:]
    g = groups
    if c_in != c_in_g * g or c_out % g or gy.shape[1] != c_out:
        raise ConvolabError(f"{name}: groups={g}, input {x.shape}, weight_size {wsize} and "
                            f"grad_output {gy.shape} do not agree")
    stride_t = _tuple(stride, nd, "stride", 1)
    dilation_t = _tuple(dilation, nd, "dilation", 1)
    pads = nn_padding(padding, nd, kernel, dilation_t, stride_t)
    # input as (C_in/g, G, N, *S): the batch becomes the summed channel axis
    x_core = x.reshape((n, g, c_in_g) + x.shape[2:]).transpose((2, 1, 0) + tuple(range(3, 3 + nd)))
    # output gradient as the kernel (G, C_out/g, N, *O), sampled every `stride`
    gy_core = gy.reshape((n, g, c_out // g) + gy.shape[2:]).transpose((1, 2, 0) + tuple(range(3, 3 + nd)))
    problem = ConvProblem(x_shape=x_core.shape, w_shape=gy_core.shape, out_dtype=x.dtype,
                          compute_dtype=compute_dtype_for(x.dtype), pad=pads,
                          boundary=PADDING_MODES[padding_mode], stride=dilation_t,
                          dilation=stride_t, flip=False,
                          label=f"{name}(input {x.shape}, grad_output {gy.shape})")
    out = run_core(problem, x_core, gy_core, method)          # (C_in/g, G, C_out/g, *K')
    out = out[(Ellipsis,) + tuple(slice(0, k) for k in kernel)]
    dw = out.transpose((1, 2, 0) + tuple(range(3, 3 + nd))).reshape(wsize)
    if flip:
        dw = np.flip(dw, axis=tuple(range(2, 2 + nd)))
    return np.ascontiguousarray(dw)


def bias_grad(grad_output: Any) -> np.ndarray:
    """``dL/db``: the output gradient summed over the batch and every position.

    >>> import numpy as np
    >>> bias_grad(np.ones((2, 3, 4, 4)))
    array([32., 32., 32.])
    """
    gy = _array(grad_output, "grad_output")
    return gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))


def _input_function(nd: int):
    def conv_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1, *,
                   padding_mode="zeros", method="auto", flip=False):
        return _input_grad(nd, input_size, weight, grad_output, stride, padding, dilation, groups,
                           padding_mode, method, flip)
    conv_input.__name__ = conv_input.__qualname__ = f"conv{nd}d_input"
    conv_input.__doc__ = (
        f"Gradient of ``conv{nd}d`` with respect to its input (``torch.nn.grad.conv{nd}d_input``).\n\n"
        "A transposed convolution of ``grad_output`` with ``weight``: the full convolution\n"
        "with the kernel rotated 180 degrees.  Keyword-only: ``padding_mode``, ``method``, ``flip``.\n")
    return conv_input


def _weight_function(nd: int):
    def conv_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1, *,
                    padding_mode="zeros", method="auto", flip=False):
        return _weight_grad(nd, input, weight_size, grad_output, stride, padding, dilation, groups,
                            padding_mode, method, flip)
    conv_weight.__name__ = conv_weight.__qualname__ = f"conv{nd}d_weight"
    conv_weight.__doc__ = (
        f"Gradient of ``conv{nd}d`` with respect to its weight (``torch.nn.grad.conv{nd}d_weight``).\n\n"
        "A correlation of the (extended) input with ``grad_output``, summed over the batch.\n"
        "Keyword-only: ``padding_mode``, ``method``, ``flip``.\n")
    return conv_weight


conv1d_input, conv2d_input, conv3d_input = (_input_function(nd) for nd in (1, 2, 3))
conv1d_weight, conv2d_weight, conv3d_weight = (_weight_function(nd) for nd in (1, 2, 3))
