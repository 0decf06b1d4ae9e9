"""A drop-in for ``torch.nn.functional``'s convolutions, on numpy arrays.

``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d`` with torch's argument names,
order and defaults, torch's layout (``input (N, C_in, *S)``, ``weight
(C_out, C_in/groups, *K)``; the batch axis may be left out) and torch's
output sizes.  Every call is a :class:`~convolab.problem.ConvProblem` run by
the planner, so ``method=`` works as in :mod:`convolab.signal`.

Two facts the seeds ask about, stated plainly:

* **A CNN "convolution" is a cross-correlation**: the kernel slides over the
  input without being reversed, ``out[n, o, i] = sum_c sum_j x[n, c, i + j] *
  w[o, c, j]``.  A true convolution (reversed kernel) is available with
  ``flip=True``; a network learns the same with either, its kernels rotated
  by 180° (:mod:`convolab.nn.experiments` shows it).
* **The channel sum is the "dot product along the depth"**: at each
  position, the window of every input channel is multiplied element-wise with
  the kernel and everything is summed: one dot product between the flattened
  receptive field (channels x taps) and the flattened filter.  The
  ``im2col`` method computes all of them as one matrix product.

Keyword-only additions: ``padding_mode`` (``'zeros'``, ``'reflect'``,
``'replicate'``, ``'circular'``: torch has it only on the module; here any
pad width works, also wider than the input), ``method`` and ``flip``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from .. import engine, planner
from ..errors import ConvolabError
from ..problem import ConvProblem, _tuple, compute_dtype_for, from_nn

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "plan"]


def _array(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name} has dtype {arr.dtype!r}; allowed: bool, integer, float, complex")
    return arr


def _with_bound(problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> ConvProblem:
    """Integers: a bound on |output| (decides FFT exactness and wrap warnings)."""
    if problem.out_dtype.kind not in "biu" or x.size == 0 or w.size == 0:
        return problem
    bound = (float(np.abs(x.astype(np.float64)).max()) * float(np.abs(w.astype(np.float64)).max())
             * problem.kernel_taps * problem.in_channels)
    return dataclasses.replace(problem, value_bound=bound)


def _with_rank(problem: ConvProblem, w: np.ndarray) -> ConvProblem:
    """The kernel's low-rank structure (lets the planner consider 'separable')."""
    from ..algorithms.separable import problem_rank
    if problem.in_channels * problem.out_channels * problem.groups > 64:
        return problem            # many kernels: the SVDs would cost more than they save
    rank = problem_rank(problem, w)
    return dataclasses.replace(problem, kernel_rank=rank) if rank else problem


def run_core(problem: ConvProblem, x: np.ndarray, w: np.ndarray, method: str) -> np.ndarray:
    """Plan and run a core-layout problem; returns the core-layout output."""
    problem = _with_rank(_with_bound(problem, x, w), w)
    chosen = planner.plan(problem, method)
    return engine.execute(problem, x, w, chosen.method)


def add_bias(out: np.ndarray, bias: Any, channels: int, name: str, batched: bool = True) -> np.ndarray:
    if bias is None:
        return out
    b = _array(bias, "bias")
    if b.shape != (channels,):
        raise ConvolabError(f"{name}: bias of shape {b.shape} must have shape ({channels},)")
    if b.dtype != out.dtype:
        raise TypeError(f"{name}: bias is {b.dtype} but input is {out.dtype}; mixed dtypes are refused")
    axis = 1 if batched else 0
    shape = [1] * out.ndim
    shape[axis] = channels
    return out + b.reshape(shape)


def _conv(nd: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
          groups: Any, padding_mode: str, method: str, flip: bool) -> np.ndarray:
    name = f"conv{nd}d"
    x, w = _array(input, "input"), _array(weight, "weight")
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=nd, stride=stride, padding=padding,
                      dilation=dilation, groups=groups, padding_mode=padding_mode, flip=flip,
                      name=name)
    xc, wc = problem.layout.to_core(x, w)
    out = problem.layout.from_core(run_core(problem, xc, wc, method))
    return add_bias(out, bias, w.shape[0], name, problem.layout.batched)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1, *, padding_mode: str = "zeros",
           method: str = "auto", flip: bool = False) -> np.ndarray:
    """1-D convolution layer (``torch.nn.functional.conv1d``): a cross-correlation.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.nn.functional import conv1d
    >>> x = np.arange(6.0).reshape(1, 1, 6)          # (N, C_in, L)
    >>> w = np.array([[[1.0, 0.0, -1.0]]])           # (C_out, C_in, k)
    >>> conv1d(x, w)                                 # x[i] - x[i + 2]: no flip
    array([[[-2., -2., -2., -2.]]])
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups, padding_mode, method, flip)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1, *, padding_mode: str = "zeros",
           method: str = "auto", flip: bool = False) -> np.ndarray:
    """2-D convolution layer (``torch.nn.functional.conv2d``): a cross-correlation.

    Parameters
    ----------
    input : array (N, C_in, H, W) or (C_in, H, W)
    weight : array (C_out, C_in / groups, kH, kW)
    bias : array (C_out,), optional
    stride, padding, dilation : int or tuple
        ``padding`` may also be ``'valid'`` (none) or ``'same'`` (output the
        size of the input; stride 1 only; an odd total puts the extra sample
        at the end, as torch).
    groups : int
        Input and output channels split into ``groups`` independent groups;
        ``groups = C_in`` is a depthwise convolution.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}, keyword-only
    method : str, keyword-only
        ``'auto'`` (planner), ``'direct'``, ``'im2col'``, ``'fft'``, ``'oa'``, ``'reference'``.
    flip : bool, keyword-only
        ``True`` reverses the kernel: a true convolution.

    Examples
    --------
    Seed 001's example as a one-channel layer:

    >>> import numpy as np
    >>> from convolab.nn.functional import conv2d
    >>> A = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
    >>> B = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    >>> conv2d(A[None, None], B[None, None])[0, 0]
    array([[4, 3, 4],
           [2, 4, 3],
           [2, 3, 4]])
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, padding_mode, method, flip)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1, *, padding_mode: str = "zeros",
           method: str = "auto", flip: bool = False) -> np.ndarray:
    """3-D convolution layer (``torch.nn.functional.conv3d``): a cross-correlation.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.nn.functional import conv3d
    >>> conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((3, 2, 2, 2, 2))).shape
    (1, 3, 3, 3, 3)
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups, padding_mode, method, flip)


def plan(input: Any, weight: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
         groups: int = 1, *, padding_mode: str = "zeros", method: str = "auto") -> planner.Plan:
    """The planner's decision for a ``conv{1,2,3}d`` layer, without running it.

    The dimension comes from ``weight`` (``weight.ndim - 2``).  ``print`` the
    plan for the explanation.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.nn.functional import plan
    >>> p = plan(np.zeros((8, 64, 56, 56), np.float32), np.zeros((64, 1, 31, 31), np.float32),
    ...          padding='same', groups=64)
    >>> p.method
    'os'
    >>> print(p)                                   # doctest: +ELLIPSIS
    convolab plan for conv2d(input (8, 64, 56, 56) float32, weight (64, 1, 31, 31))
      problem: correlation of x(8, 64, 1, 56, 56) with w(64, 1, 1, 31, 31) -> out(8, 64, 1, 56, 56), ...
    ...
      choice: os (least estimated time)
    """
    x, w = _array(input, "input"), _array(weight, "weight")
    nd = w.ndim - 2
    if nd not in (1, 2, 3):
        raise ConvolabError(f"weight of shape {w.shape} must have 3, 4 or 5 dimensions")
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=nd, stride=stride, padding=padding,
                      dilation=dilation, groups=groups, padding_mode=padding_mode,
                      name=f"conv{nd}d")
    return planner.plan(_with_rank(_with_bound(problem, x, w), w), method)


# ---------------------------------------------------------------------------
# transposed convolution


def transposed(grad: np.ndarray, weight: np.ndarray, *, nd: int, stride: tuple[int, ...],
               pads: tuple[tuple[int, int], ...], out_size: tuple[int, ...], groups: int,
               dilation: tuple[int, ...], method: str = "auto", name: str = "conv_transpose"
               ) -> np.ndarray:
    """The adjoint of a correlation layer: ``grad (N, C_out, *O)`` and the
    forward ``weight (C_out, C_in/g, *K)`` give ``(N, C_in, *out_size)``.

    It is itself a correlation: spread ``grad`` by the stride (zeros in
    between), extend it by ``d (k - 1) - pad`` on each side, and correlate
    with the kernel rotated 180° and its channel axes swapped.  That is the
    "full convolution with the rotated kernel" of backpropagation.
    """
    n, c_out = grad.shape[:2]
    o = grad.shape[2:]
    kernel = weight.shape[2:]
    c_in_g = weight.shape[1]
    # 1. the stride becomes zeros between the samples
    up_shape = tuple((m - 1) * s + 1 for m, s in zip(o, stride))
    up = np.zeros((n, c_out) + up_shape, dtype=grad.dtype)
    up[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)] = grad
    # 2. pads of the equivalent correlation; negative ones crop afterwards
    lo = [d * (k - 1) - p_lo for d, k, (p_lo, _) in zip(dilation, kernel, pads)]
    hi = [size - u - l + d * (k - 1) for size, u, l, d, k in zip(out_size, up_shape, lo, dilation, kernel)]
    crop_lo = [max(0, -v) for v in lo]
    crop_hi = [max(0, -v) for v in hi]
    core_pads = tuple((max(0, a), max(0, b)) for a, b in zip(lo, hi))
    # 3. kernel: (C_out, C_in/g, K) -> core (G, C_in/g, C_out/g, K), rotated 180 degrees
    g = groups
    w_core = weight.reshape((g, c_out // g, c_in_g) + kernel).swapaxes(1, 2)
    x_core = up.reshape((n, g, c_out // g) + up_shape)
    compute = compute_dtype_for(grad.dtype)
    problem = ConvProblem(x_shape=x_core.shape, w_shape=w_core.shape, out_dtype=grad.dtype,
                          compute_dtype=compute, pad=core_pads, stride=(1,) * nd,
                          dilation=dilation, flip=True, label=f"{name}(grad {grad.shape}, weight {weight.shape})")
    out = run_core(problem, x_core, w_core, method)
    out = out.reshape((n, g * c_in_g) + out.shape[3:])
    crop = tuple(slice(a, out.shape[2 + i] - b) for i, (a, b) in enumerate(zip(crop_lo, crop_hi)))
    return out[(slice(None), slice(None)) + crop]


def _conv_transpose(nd: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
                    output_padding: Any, groups: Any, dilation: Any, method: str) -> np.ndarray:
    name = f"conv_transpose{nd}d"
    x, w = _array(input, "input"), _array(weight, "weight")
    if x.ndim not in (nd + 1, nd + 2):
        raise ConvolabError(f"{name}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                            f"input, but got input of shape {x.shape}")
    if w.ndim != nd + 2:
        raise ConvolabError(f"{name}: weight of shape {w.shape} must have {nd + 2} dimensions "
                            f"(in_channels, out_channels/groups, *kernel)")
    if x.dtype != w.dtype:
        raise TypeError(f"{name}: input is {x.dtype} but weight is {w.dtype}; mixed dtypes are refused")
    batched = x.ndim == nd + 2
    xb = x if batched else x[np.newaxis]
    from ..problem import as_int
    groups = as_int(groups, "groups")
    if groups < 1:
        raise ConvolabError(f"groups={groups} must be a positive integer")
    if xb.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ConvolabError(f"{name}: weight of shape {w.shape} expects input with {w.shape[0]} "
                            f"channels divisible by groups={groups}; got input {x.shape}")
    stride_t = _tuple(stride, nd, "stride", 1)
    dilation_t = _tuple(dilation, nd, "dilation", 1)
    if isinstance(padding, str):
        raise ConvolabError(f"{name}: padding={padding!r} must be an int or a tuple of ints")
    pad_t = _tuple(padding, nd, "padding", 0)
    out_pad = _tuple(output_padding, nd, "output_padding", 0)
    if any(op >= s and op >= d for op, s, d in zip(out_pad, stride_t, dilation_t)):
        raise ConvolabError(f"{name}: output_padding={output_padding!r} must be smaller than "
                            f"either stride ({stride_t}) or dilation ({dilation_t})")
    kernel = w.shape[2:]
    out_size = tuple((m - 1) * s - 2 * p + d * (k - 1) + op + 1 for m, s, p, d, k, op
                     in zip(xb.shape[2:], stride_t, pad_t, dilation_t, kernel, out_pad))
    if any(v <= 0 for v in out_size):
        raise ConvolabError(f"{name}: the output size {out_size} would not be positive "
                            f"(input {x.shape}, kernel {kernel}, padding {pad_t})")
    # the forward layer this is the adjoint of has weight (C_in_fwd=C_out here...):
    # weight (C_in, C_out/g, *K) is exactly a forward weight (C_out_fwd, C_in_fwd/g, *K)
    out = transposed(xb, w, nd=nd, stride=stride_t, pads=tuple((p, p) for p in pad_t),
                     out_size=out_size, groups=groups, dilation=dilation_t, method=method,
                     name=name)
    out = add_bias(out, bias, out.shape[1], name)
    return out if batched else out[0]


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1, *,
                     method: str = "auto") -> np.ndarray:
    """1-D transposed convolution (``torch.nn.functional.conv_transpose1d``).

    ``weight`` is ``(C_in, C_out/groups, k)``; note ``groups`` comes before
    ``dilation``, as in torch.  It is the adjoint (the input gradient) of
    :func:`conv1d` with the same arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.nn.functional import conv_transpose1d
    >>> conv_transpose1d(np.array([[[1.0, 2.0]]]), np.array([[[1.0, 1.0, 1.0]]]), stride=2)
    array([[[1., 1., 3., 2., 2.]]])
    """
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, method)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1, *,
                     method: str = "auto") -> np.ndarray:
    """2-D transposed convolution (``torch.nn.functional.conv_transpose2d``).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.nn.functional import conv_transpose2d
    >>> conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 4, 3, 3)), stride=2).shape
    (1, 4, 7, 7)
    """
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, method)


def conv_transpose3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1, *,
                     method: str = "auto") -> np.ndarray:
    """3-D transposed convolution (``torch.nn.functional.conv_transpose3d``).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.nn.functional import conv_transpose3d
    >>> conv_transpose3d(np.ones((1, 1, 2, 2, 2)), np.ones((1, 1, 2, 2, 2))).shape
    (1, 1, 3, 3, 3)
    """
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, method)
