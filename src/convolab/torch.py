"""PyTorch bridge: convolab's planner and gradients inside torch autograd.

``import convolab.torch`` needs torch (an optional extra); nothing else in
convolab imports it.

* :class:`ConvFunction`, a ``torch.autograd.Function`` whose forward and
  backward are convolab's (:mod:`convolab.nn.functional`,
  :mod:`convolab.nn.grad`), on CPU tensors;
* :func:`conv1d`, :func:`conv2d`, :func:`conv3d`: the functional form;
* :class:`Conv1d`, :class:`Conv2d`, :class:`Conv3d`: drop-in modules for
  torch's (they subclass them: same constructor arguments, same parameters
  and ``state_dict`` keys, same initialization), with a keyword-only
  ``method=``.

Examples
--------
>>> import torch
>>> import convolab.torch as ct
>>> layer = ct.Conv2d(3, 8, kernel_size=3, padding=1)
>>> layer(torch.zeros(2, 3, 16, 16)).shape
torch.Size([2, 8, 16, 16])
>>> sorted(layer.state_dict())
['bias', 'weight']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .nn import functional as _f
from .nn import grad as _g

__all__ = ["ConvFunction", "conv1d", "conv2d", "conv3d", "Conv1d", "Conv2d", "Conv3d"]


def _numpy(t: torch.Tensor, name: str) -> np.ndarray:
    if t.device.type != "cpu":
        raise ValueError(f"{name} is on {t.device}; convolab.torch runs on CPU tensors "
                         f"(move it with .cpu())")
    if t.dtype in (torch.bfloat16,):
        raise TypeError(f"{name} has dtype {t.dtype}, which numpy cannot hold; "
                        f"use float16, float32 or float64")
    return t.detach().numpy()


class ConvFunction(torch.autograd.Function):
    """Autograd function: ``ConvFunction.apply(input, weight, bias, nd, stride,
    padding, dilation, groups, padding_mode, method)``."""

    @staticmethod
    def forward(ctx: Any, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                nd: int, stride: Any, padding: Any, dilation: Any, groups: int,
                padding_mode: str, method: str) -> torch.Tensor:
        x, w = _numpy(input, "input"), _numpy(weight, "weight")
        b = None if bias is None else _numpy(bias, "bias")
        out = _f._conv(nd, x, w, b, stride, padding, dilation, groups, padding_mode, method, False)
        ctx.save_for_backward(input, weight)
        ctx.has_bias = bias is not None
        ctx.config = (nd, stride, padding, dilation, groups, padding_mode, method)
        return torch.from_numpy(np.ascontiguousarray(out))

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple:
        input, weight = ctx.saved_tensors
        nd, stride, padding, dilation, groups, padding_mode, method = ctx.config
        gy = _numpy(grad_output, "grad_output")
        x, w = _numpy(input, "input"), _numpy(weight, "weight")
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = torch.from_numpy(np.ascontiguousarray(getattr(_g, f"conv{nd}d_input")(
                x.shape, w, gy, stride, padding, dilation, groups,
                padding_mode=padding_mode, method=method)))
        if ctx.needs_input_grad[1]:
            gw = torch.from_numpy(np.ascontiguousarray(getattr(_g, f"conv{nd}d_weight")(
                x, w.shape, gy, stride, padding, dilation, groups,
                padding_mode=padding_mode, method=method)))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            batched = gy.ndim == nd + 2
            gb = torch.from_numpy(np.ascontiguousarray(_g.bias_grad(gy if batched else gy[None])))
        return gx, gw, gb, None, None, None, None, None, None, None


def _functional(nd: int):
    def conv(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
             stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1, *,
             padding_mode: str = "zeros", method: str = "auto") -> torch.Tensor:
        return ConvFunction.apply(input, weight, bias, nd, stride, padding, dilation, groups,
                                  padding_mode, method)
    conv.__name__ = conv.__qualname__ = f"conv{nd}d"
    conv.__doc__ = (f"``torch.nn.functional.conv{nd}d`` computed by convolab, with autograd.\n\n"
                    "Keyword-only: ``padding_mode`` and ``method``.")
    return conv


conv1d = _functional(1)
conv2d = _functional(2)
conv3d = _functional(3)


class _ConvMixin:
    """Forward through convolab; everything else is torch's own module."""

    _nd: int

    def __init__(self, *args: Any, method: str = "auto", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.method = method

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return ConvFunction.apply(input, self.weight, self.bias, self._nd, self.stride,
                                  self.padding, self.dilation, self.groups, self.padding_mode,
                                  self.method)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", method={self.method!r}"


class Conv1d(_ConvMixin, torch.nn.Conv1d):
    """``torch.nn.Conv1d`` computed by convolab (keyword-only ``method=``)."""
    _nd = 1


class Conv2d(_ConvMixin, torch.nn.Conv2d):
    """``torch.nn.Conv2d`` computed by convolab (keyword-only ``method=``)."""
    _nd = 2


class Conv3d(_ConvMixin, torch.nn.Conv3d):
    """``torch.nn.Conv3d`` computed by convolab (keyword-only ``method=``)."""
    _nd = 3
