"""CNN layers with torch.nn.functional's semantics, on numpy arrays.

:mod:`convolab.nn.functional` has the forward functions, :mod:`convolab.nn.grad`
their gradients, :mod:`convolab.nn.experiments` the seeds' experiments.
"""

from . import functional, grad

__all__ = ["functional", "grad"]
