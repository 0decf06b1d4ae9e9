"""``ConvProblem``: one frozen, hashable description of a convolution.

Every public entry point turns its arguments into a ``ConvProblem`` (all
argument checking happens here, once), hands it to the planner, and runs the
chosen algorithm.  The problem is stated in one *core layout* that every
algorithm understands::

    x   (N, G, Cin,  *S)      N: batch, G: groups, Cin: input channels per group
    w   (G, Cout, Cin, *K)    one kernel per (group, output channel, input channel)
    out (N, G, Cout, *O)

    out[n, g, o, i] = sum_c sum_j  xpad[n, g, c, i*stride + j*dilation] * w[g, o, c, j]

that is, a *cross-correlation* of the extended input ``xpad`` with the kernel,
summed over input channels (the "dot product along the depth" of a CNN).  A
convolution is the same computation with the kernel reversed (``flip=True``);
the engine reverses it, so algorithms only ever correlate.  ``xpad`` is ``x``
extended by ``pad[i] = (lo, hi)`` samples on spatial axis ``i`` with the
``boundary`` rule.

scipy.signal's ``mode`` (``full``/``same``/``valid``) and torch's ``padding``
are both just rules for ``pad``: data, not code.  A signal-family problem has
``Cin = Cout = 1``; its non-convolved axes are batch axes (``N`` when the
kernel is shared, ``G`` when each slice has its own kernel).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .boundary import normalize_boundary
from .errors import ConvolabError, not_one_of
from .typing import MODES, NAN_POLICIES

# ---------------------------------------------------------------------------
# dtype rules

_INT_KINDS = "biu"


def compute_dtype_for(out_dtype: np.dtype) -> np.dtype:
    """The dtype the algorithms accumulate in for a given output dtype.

    Integers and bools accumulate in 64 bits (modular arithmetic, so the
    cast back gives the same bits as scipy's narrow accumulation, and the
    engine can tell when that cast wraps); float16 computes in float32.
    """
    if out_dtype.kind in "bi":
        return np.dtype(np.int64)
    if out_dtype.kind == "u":
        return np.dtype(np.uint64) if out_dtype == np.uint64 else np.dtype(np.int64)
    if out_dtype == np.float16:
        return np.dtype(np.float32)
    return out_dtype


def check_array_dtype(a: np.ndarray, name: str) -> None:
    """Refuse dtypes that have no arithmetic (object, strings, datetimes...)."""
    if a.dtype.kind not in "biufc":
        raise TypeError(
            f"{name} has dtype {a.dtype!r}, which convolab cannot convolve; "
            f"allowed: bool, integer, float16/32/64/longdouble and complex arrays")


# ---------------------------------------------------------------------------
# small argument normalizers

def as_int(value: Any, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int`` or raise naming the argument."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r} must be an integer, not a bool")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}={value!r} must be an integer") from None
    if minimum is not None and result < minimum:
        raise ConvolabError(f"{name}={value!r} must be an integer >= {minimum}")
    return result


def normalize_axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """Normalize ``axes`` (None, int or sequence) to sorted, unique, non-negative axes.

    Error messages are scipy.fft's, so code that matches on them keeps working.
    """
    if axes is None:
        return tuple(range(ndim))
    arr = np.asarray(axes)
    if arr.ndim > 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ConvolabError(f"axes must be a scalar or iterable of integers (got axes={axes!r})")
    seq = [int(a) for a in arr.ravel()]
    if not seq:
        raise ConvolabError("when provided, axes cannot be empty")
    for a in seq:
        if not -ndim <= a < ndim:
            raise ConvolabError(f"axes exceeds dimensionality of input (axes={axes!r}, "
                                f"arrays have {ndim} dimensions: allowed {-ndim}..{ndim - 1})")
    out = [a % ndim for a in seq]
    if len(set(out)) != len(out):
        raise ConvolabError(f"all axes must be unique (got axes={axes!r})")
    return tuple(sorted(out))


def check_mode(mode: Any) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise ConvolabError("acceptable mode flags are 'valid', 'same', or 'full'"
                            f" (got mode={mode!r})")
    return mode


#: every nan_policy of the signal functions.  'omit' (normalized convolution,
#: convolab.masked) runs as several 'propagate' problems, so a ConvProblem
#: itself only ever holds 'propagate' or 'raise'.
SIGNAL_NAN_POLICIES: tuple[str, ...] = ("propagate", "raise", "omit")


def check_nan_policy(nan_policy: Any) -> str:
    if nan_policy not in NAN_POLICIES or nan_policy == "omit":
        raise not_one_of("nan_policy", nan_policy, SIGNAL_NAN_POLICIES,
                         "'omit' runs through convolab.masked, not as one problem"
                         if nan_policy == "omit" else "")
    return nan_policy


# ---------------------------------------------------------------------------
# layouts: how user arrays map to and from the core layout


@dataclass(frozen=True)
class SignalLayout:
    """How a scipy.signal-style pair of N-D arrays maps onto the core layout.

    The convolved ``axes`` move to the end; the other axes broadcast (numpy
    rules) and become batch axes.  When the kernel has size 1 on every batch
    axis it is shared by the whole batch (core ``N``); otherwise each batch
    slice has its own kernel (core ``G``, a depthwise problem).
    """

    ndim: int
    axes: tuple[int, ...]          # convolved axes of the user's arrays
    batch_shape: tuple[int, ...]   # broadcast shape of the other axes
    shared_kernel: bool            # kernel identical for every batch slice

    @functools.cached_property
    def permutation(self) -> tuple[int, ...]:
        batch = tuple(a for a in range(self.ndim) if a not in self.axes)
        return batch + self.axes

    @functools.cached_property
    def _inverse(self) -> tuple[int, ...] | None:
        """The permutation back to the user's axis order (None: identity)."""
        perm = self.permutation
        return None if perm == tuple(range(self.ndim)) else tuple(np.argsort(perm).tolist())

    def to_core(self, in1: np.ndarray, in2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._inverse is None:
            x, w = in1, in2
        else:
            x = np.transpose(in1, self.permutation)
            w = np.transpose(in2, self.permutation)
        nb = len(self.batch_shape)
        spatial_x, spatial_w = x.shape[nb:], w.shape[nb:]
        if x.shape[:nb] != self.batch_shape:
            x = np.broadcast_to(x, self.batch_shape + spatial_x)
        if self.shared_kernel:
            x = x.reshape((-1, 1, 1) + spatial_x)
            w = w.reshape((1, 1, 1) + spatial_w)
        else:
            if w.shape[:nb] != self.batch_shape:
                w = np.broadcast_to(w, self.batch_shape + spatial_w)
            x = x.reshape((1, -1, 1) + spatial_x)
            w = w.reshape((-1, 1, 1) + spatial_w)
        return x, w

    def from_core(self, out: np.ndarray) -> np.ndarray:
        out = out.reshape(self.batch_shape + out.shape[3:])
        return out if self._inverse is None else np.transpose(out, self._inverse)


# ---------------------------------------------------------------------------
# the problem


@dataclass(frozen=True)
class ConvProblem:
    """A convolution problem in the core layout (see the module docstring).

    Instances are immutable and hashable, so plans can be cached on them.
    """

    x_shape: tuple[int, ...]            # (N, G, Cin, *S) before extension
    w_shape: tuple[int, ...]            # (G, Cout, Cin, *K)
    out_dtype: np.dtype                 # dtype returned to the user
    compute_dtype: np.dtype             # dtype the algorithms accumulate in
    pad: tuple[tuple[int, int], ...]    # (lo, hi) extension per spatial axis
    boundary: str = "fill"              # canonical boundary name
    fillvalue: complex = 0              # value for boundary='fill'
    stride: tuple[int, ...] = ()        # per spatial axis (empty: all 1)
    dilation: tuple[int, ...] = ()      # per spatial axis (empty: all 1)
    flip: bool = True                   # True: convolution, False: correlation
    conj: bool = False                  # conjugate the kernel (signal correlate)
    nan_policy: str = "propagate"
    value_bound: float = 0.0            # integers: bound on |output| (FFT exactness)
    kernel_rank: int = 0                # low-rank terms of the kernel values; 0: unknown
    layout: Any = field(default=None, compare=True)   # user <-> core mapping
    label: str = field(default="", compare=False)      # for messages: "convolve(mode='same')"

    def __hash__(self) -> int:
        # plans and prepared problems are looked up by problem on every call:
        # hash the fields once, not on each lookup
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.compare))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict:
        # string hashes differ between processes: never ship the cached one
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state

    # -- derived sizes -------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of convolved (spatial) axes."""
        return len(self.x_shape) - 3

    @property
    def spatial_in(self) -> tuple[int, ...]:
        return self.x_shape[3:]

    @property
    def kernel_spatial(self) -> tuple[int, ...]:
        return self.w_shape[3:]

    @property
    def strides(self) -> tuple[int, ...]:
        return self.stride or (1,) * self.ndim

    @property
    def dilations(self) -> tuple[int, ...]:
        return self.dilation or (1,) * self.ndim

    @functools.cached_property
    def dilated_kernel(self) -> tuple[int, ...]:
        return tuple((k - 1) * d + 1 if k else 0 for k, d in zip(self.kernel_spatial, self.dilations))

    @functools.cached_property
    def padded_in(self) -> tuple[int, ...]:
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.spatial_in, self.pad))

    @functools.cached_property
    def spatial_out(self) -> tuple[int, ...]:
        return tuple(max(0, (p - kd) // s + 1) if p >= kd else 0
                     for p, kd, s in zip(self.padded_in, self.dilated_kernel, self.strides))

    @property
    def batch(self) -> int:
        return self.x_shape[0]

    @property
    def groups(self) -> int:
        return self.x_shape[1]

    @property
    def in_channels(self) -> int:
        return self.x_shape[2]

    @property
    def out_channels(self) -> int:
        return self.w_shape[1]

    @functools.cached_property
    def out_shape(self) -> tuple[int, ...]:
        """Core output shape ``(N, G, Cout, *O)``."""
        return (self.batch, self.groups, self.out_channels) + self.spatial_out

    @property
    def is_integer(self) -> bool:
        return self.out_dtype.kind in _INT_KINDS

    @property
    def is_complex(self) -> bool:
        return self.compute_dtype.kind == "c"

    @functools.cached_property
    def kernel_taps(self) -> int:
        return math.prod(self.kernel_spatial)

    @functools.cached_property
    def macs(self) -> int:
        """Multiply-accumulates of a direct evaluation."""
        return math.prod(self.out_shape) * self.in_channels * self.kernel_taps

    @property
    def itemsize(self) -> int:
        return self.compute_dtype.itemsize

    def describe(self) -> str:
        """One line: shapes, operation, extension."""
        op = "convolution" if self.flip else "correlation"
        parts = [f"{op} of x{_shape(self.x_shape)} with w{_shape(self.w_shape)} -> "
                 f"out{_shape(self.out_shape)}", f"{self.out_dtype}"]
        if any(lo or hi for lo, hi in self.pad):
            ext = f"pad={list(self.pad)} boundary={self.boundary!r}"
            if self.boundary == "fill" and self.fillvalue != 0:
                ext += f" fillvalue={self.fillvalue!r}"
            parts.append(ext)
        if any(s != 1 for s in self.strides):
            parts.append(f"stride={self.strides}")
        if any(d != 1 for d in self.dilations):
            parts.append(f"dilation={self.dilations}")
        return ", ".join(parts)


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


# ---------------------------------------------------------------------------
# constructor for the scipy.signal family

#: how 'same' centres an even kernel: 'scipy' takes the centred part of the
#: full output (start (k-1)//2, as signal.convolve/correlate/convolve2d do);
#: 'correlate2d' starts one sample earlier for even kernels (scipy #1968).
SAME_RULES = ("scipy", "correlate2d")


def signal_pads(mode: str, n: int, k: int, same_rule: str = "scipy") -> tuple[int, int]:
    """Per-axis ``(lo, hi)`` extension that produces scipy's ``mode`` output.

    ``n`` is in1's length, ``k`` in2's length on the axis.  The core computes a
    correlation of the extended in1 with (possibly reversed) in2.
    """
    if mode == "full":
        return (k - 1, k - 1)
    if mode == "same":
        start = (k - 1) // 2 if same_rule == "scipy" else k // 2
        return (k - 1 - start, start)
    # valid: when in2 is the longer input the roles swap (scipy does the same);
    # zero extension of in1 by k - n on each side gives exactly that result.
    return (0, 0) if n >= k else (k - n, k - n)


def from_signal(in1: np.ndarray, in2: np.ndarray, *, mode: str, flip: bool,
                out_dtype: np.dtype, axes: Any = None, boundary: str = "fill",
                fillvalue: Any = 0, nan_policy: str = "propagate",
                same_rule: str = "scipy", broadcast_length_one: bool = False,
                label: str = "") -> ConvProblem:
    """Describe a scipy.signal-style call as a :class:`ConvProblem`.

    ``in1`` and ``in2`` must already be arrays with the same ``ndim >= 1`` and
    nonzero size.  ``broadcast_length_one`` applies fftconvolve's rule that an
    axis where either input has length 1 is broadcast rather than convolved
    (mathematically the same in ``full`` mode).
    """
    mode = check_mode(mode)
    nan_policy = check_nan_policy(nan_policy)
    boundary = normalize_boundary(boundary)
    check_array_dtype(in1, "in1")
    check_array_dtype(in2, "in2")
    ndim = in1.ndim
    conv_axes = normalize_axes(axes, ndim)
    s1, s2 = in1.shape, in2.shape
    batch_axes = [a for a in range(ndim) if a not in conv_axes]
    for a in batch_axes:
        if not (s1[a] == s2[a] or s1[a] == 1 or s2[a] == 1):
            raise ConvolabError(f"incompatible shapes for in1 and in2: {s1} and {s2}"
                                f" (axis {a} is not convolved, so it must broadcast)")
    if broadcast_length_one:
        # fftconvolve's rule: an axis where either input has length 1 is
        # broadcast, not convolved.  The results agree except in 'valid' mode,
        # where it decides which axes must satisfy the size rule.  In 'same'
        # mode an in1 of length 1 stays convolved (the output keeps length 1).
        moved = [a for a in conv_axes if s2[a] == 1 or (s1[a] == 1 and mode != "same")]
        conv_axes = tuple(a for a in conv_axes if a not in moved)
        batch_axes = sorted(batch_axes + moved)
    if mode == "valid":
        ok1 = all(s1[a] >= s2[a] for a in conv_axes)
        ok2 = all(s2[a] >= s1[a] for a in conv_axes)
        if not (ok1 or ok2):
            raise ConvolabError("For 'valid' mode, one must be at least "
                                "as large as the other in every dimension"
                                f" (in1 {s1}, in2 {s2}, axes {conv_axes})")
    batch_shape = tuple(max(s1[a], s2[a]) for a in batch_axes)
    shared = all(s2[a] == 1 for a in batch_axes)
    layout = SignalLayout(ndim=ndim, axes=tuple(conv_axes), batch_shape=batch_shape,
                          shared_kernel=shared)
    pads = []
    for a in conv_axes:
        lo, hi = signal_pads(mode, s1[a], s2[a], same_rule)
        pads.append((lo, hi))
    swapped = mode == "valid" and any(s1[a] < s2[a] for a in conv_axes)
    if swapped:
        boundary, fillvalue = "fill", 0   # the swap's extension is the zero padding of 'valid'
    spatial_x = tuple(s1[a] for a in conv_axes)
    spatial_w = tuple(s2[a] for a in conv_axes)
    nbatch = math.prod(batch_shape)
    if shared:
        x_shape = (nbatch, 1, 1) + spatial_x
        w_shape = (1, 1, 1) + spatial_w
    else:
        x_shape = (1, nbatch, 1) + spatial_x
        w_shape = (nbatch, 1, 1) + spatial_w
    compute = compute_dtype_for(out_dtype)
    fill = _checked_fill(fillvalue, compute, out_dtype)
    bound = 0.0
    if out_dtype.kind in _INT_KINDS:
        bound = _value_bound(in1, in2, math.prod(spatial_w),
                             abs(fill) if boundary == "fill" and any(lo or hi for lo, hi in pads) else 0)
    conj = (not flip) and compute.kind == "c"
    problem = ConvProblem(x_shape=x_shape, w_shape=w_shape, out_dtype=out_dtype,
                          compute_dtype=compute, pad=tuple(pads), boundary=boundary,
                          fillvalue=fill, flip=flip, conj=conj, nan_policy=nan_policy,
                          value_bound=bound, layout=layout, label=label)
    if problem.macs < 200_000 or problem.kernel_taps <= 9:
        # a small problem or kernel: analysing the kernel would cost more than
        # 1-D passes could save (a 3x3 kernel is 6 taps in passes against 9)
        return problem
    from .algorithms.separable import problem_rank     # lazy: algorithms import this module
    rank = problem_rank(problem, in2, spatial_axes=conv_axes)
    return dataclasses.replace(problem, kernel_rank=rank) if rank else problem


def _checked_fill(fillvalue: Any, compute: np.dtype, out_dtype: np.dtype | None = None) -> Any:
    """The fill value as a hashable scalar of the compute dtype's kind.

    For integer outputs it must be an integer value in the output's range, as
    scipy requires ("could not cast `fillvalue` directly to the output")."""
    arr = np.asarray(fillvalue)
    if arr.size != 1:
        raise ConvolabError("`fillvalue` must be scalar or an array with one element "
                            f"(got fillvalue={fillvalue!r})")
    value = arr.reshape(()).item()
    if compute.kind != "c" and isinstance(value, complex):
        if value.imag != 0:
            raise ConvolabError("could not cast `fillvalue` directly to the output type "
                                f"{compute} (got fillvalue={fillvalue!r}, a complex value for real inputs)")
        value = value.real
    if not isinstance(value, (int, float, complex, bool)):
        raise TypeError(f"fillvalue={fillvalue!r} must be a number")
    if out_dtype is not None and out_dtype.kind in _INT_KINDS:
        lo, hi = (0, 1) if out_dtype.kind == "b" else (np.iinfo(out_dtype).min, np.iinfo(out_dtype).max)
        # as scipy: a float is truncated, NaN or a value out of range is refused
        if not (math.isfinite(float(value)) and lo <= int(value) <= hi):
            raise ConvolabError(f"could not cast `fillvalue` directly to the output type {out_dtype}: "
                                f"fillvalue={fillvalue!r}; allowed: finite values in [{lo}, {hi}]")
        value = int(value)
    return value


def _value_bound(in1: np.ndarray, in2: np.ndarray, taps: int, fill: float = 0) -> float:
    """Upper bound on ``|sum x*w|`` for integer inputs (decides if FFT is exact)."""
    def maxabs(a: np.ndarray) -> float:
        if a.size == 0:
            return 0.0
        return float(max(abs(int(a.max())), abs(int(a.min()))))
    return max(maxabs(in1), float(fill)) * maxabs(in2) * taps


# ---------------------------------------------------------------------------
# constructor for the torch.nn.functional family

#: torch's padding_mode -> convolab's boundary
PADDING_MODES: dict[str, str] = {"zeros": "fill", "reflect": "reflect",
                                 "replicate": "nearest", "circular": "wrap"}


def _tuple(value: Any, nd: int, name: str, minimum: int) -> tuple[int, ...]:
    """An int or a sequence of ``nd`` ints, each ``>= minimum``."""
    if isinstance(value, (list, tuple)):
        if len(value) != nd:
            raise ConvolabError(f"{name}={value!r} must be an int or a tuple of {nd} ints")
        items = tuple(as_int(v, name) for v in value)
    else:
        items = (as_int(value, name),) * nd
    if any(v < minimum for v in items):
        what = {0: "negative", 1: "non-positive"}[minimum]
        raise ConvolabError(f"{name}={value!r}: {what} {name} is not supported")
    return items


@dataclass(frozen=True)
class NNLayout:
    """torch's layout ``input (N, C_in, *S)``, ``weight (C_out, C_in/groups, *K)``
    (``input`` may lack the batch axis, as torch allows) onto the core layout."""

    groups: int
    batched: bool

    def to_core(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.batched:
            x = x[np.newaxis]
        g = self.groups
        x = x.reshape((x.shape[0], g, x.shape[1] // g) + x.shape[2:])
        w = w.reshape((g, w.shape[0] // g) + w.shape[1:])
        return x, w

    def from_core(self, out: np.ndarray) -> np.ndarray:
        out = out.reshape((out.shape[0], out.shape[1] * out.shape[2]) + out.shape[3:])
        return out if self.batched else out[0]


def nn_padding(padding: Any, nd: int, kernel: tuple[int, ...], dilation: tuple[int, ...],
               stride: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """torch's ``padding`` (int, tuple, 'same', 'valid') as per-axis ``(lo, hi)``."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ConvolabError("padding='same' is not supported for strided convolutions "
                                    f"(stride={stride})")
            # as torch: the odd extra sample goes at the end
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise not_one_of("padding", padding, ["valid", "same", "an int", "a tuple of ints"])
    return tuple((p, p) for p in _tuple(padding, nd, "padding", 0))


def from_nn(x_shape: tuple[int, ...], w_shape: tuple[int, ...], x_dtype: np.dtype,
            w_dtype: np.dtype, *, nd: int, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
            groups: Any = 1, padding_mode: str = "zeros", flip: bool = False,
            name: str = "conv") -> ConvProblem:
    """Describe a ``torch.nn.functional.conv{nd}d`` call as a :class:`ConvProblem`.

    Raises with torch's wording where torch has one, naming the argument.
    """
    if len(x_shape) not in (nd + 1, nd + 2):
        raise ConvolabError(f"{name}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                            f"input, but got input of shape {x_shape}")
    if len(w_shape) != nd + 2:
        raise ConvolabError(f"{name}: weight of shape {w_shape} must have {nd + 2} dimensions "
                            f"(out_channels, in_channels/groups, *kernel)")
    if x_dtype != w_dtype:
        raise TypeError(f"{name}: input is {x_dtype} but weight is {w_dtype}; "
                        f"mixed dtypes are refused, as in torch: cast one of them")
    check_dtype = np.dtype(x_dtype)
    if check_dtype.kind not in "biufc":
        raise TypeError(f"{name}: dtype {check_dtype} cannot be convolved")
    batched = len(x_shape) == nd + 2
    full_x = x_shape if batched else (1,) + x_shape
    groups = as_int(groups, "groups")
    if groups < 1:
        raise ConvolabError(f"groups={groups} must be a positive integer")
    c_in, c_out, kernel = full_x[1], w_shape[0], tuple(w_shape[2:])
    if c_out % groups:
        raise ConvolabError(f"{name}: out_channels (weight.shape[0] = {c_out}) must be "
                            f"divisible by groups={groups}")
    if c_in != w_shape[1] * groups:
        raise ConvolabError(f"{name}: given groups={groups}, weight of shape {w_shape}, expected "
                            f"input {x_shape} to have {w_shape[1] * groups} channels, but got "
                            f"{c_in} channels instead")
    stride_t = _tuple(stride, nd, "stride", 1)
    dilation_t = _tuple(dilation, nd, "dilation", 1)
    pads = nn_padding(padding, nd, kernel, dilation_t, stride_t)
    if padding_mode not in PADDING_MODES:
        raise not_one_of("padding_mode", padding_mode, list(PADDING_MODES))
    spatial = full_x[2:]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, pads))
    extent = tuple(d * (k - 1) + 1 for d, k in zip(dilation_t, kernel))
    if any(p < e for p, e in zip(padded, extent)) or 0 in kernel:
        raise ConvolabError(f"{name}: calculated padded input size per channel {padded}, kernel "
                            f"size {extent} (with dilation): kernel size can't be greater than "
                            f"actual input size")
    if 0 in full_x or 0 in w_shape:
        raise ConvolabError(f"{name}: empty input {x_shape} or weight {w_shape}")
    out_dtype = np.dtype(x_dtype)
    compute = compute_dtype_for(out_dtype)
    x_core = (full_x[0], groups, c_in // groups) + spatial
    w_core = (groups, c_out // groups, w_shape[1]) + kernel
    return ConvProblem(x_shape=x_core, w_shape=w_core, out_dtype=out_dtype, compute_dtype=compute,
                       pad=pads, boundary=PADDING_MODES[padding_mode], fillvalue=0,
                       stride=stride_t, dilation=dilation_t, flip=flip, conj=False,
                       nan_policy="propagate", value_bound=0.0,
                       layout=NNLayout(groups=groups, batched=batched),
                       label=f"{name}(input {x_shape} {out_dtype}, weight {w_shape})")
