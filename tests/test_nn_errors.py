"""Bad arguments to :mod:`convolab.nn.functional` and :mod:`convolab.nn.grad`
raise a clear error that names the argument.

``ConvolabError`` (a ``ValueError``) for bad values, ``TypeError`` for bad
types and dtypes.  Where torch has the same function, a separate test checks
that torch refuses the same call too, so every case here is truly invalid.
"""

from __future__ import annotations

import numpy as np
import pytest

import convolab.nn.functional as cf
import convolab.nn.grad as cg
from convolab.errors import ConvolabError


def test_convolab_error_is_a_value_error():
    assert issubclass(ConvolabError, ValueError)


def _x(*shape, dtype=np.float64):
    return np.ones(shape, dtype=dtype)


X = _x(1, 4, 5, 5)
W = _x(2, 4, 3, 3)

# (id, callable taking the functional module (convolab's or torch's), error type, match)
# every call uses only arguments that torch.nn.functional also has
CONV_CASES = [
    ("groups-out", lambda F, t: F.conv2d(t(_x(1, 4, 5, 5)), t(_x(3, 2, 3, 3)), groups=2),
     ConvolabError, "groups"),
    ("groups-in", lambda F, t: F.conv2d(t(_x(1, 5, 5, 5)), t(_x(4, 2, 3, 3)), groups=2),
     ConvolabError, "groups"),
    ("groups-in-depthwise", lambda F, t: F.conv1d(t(_x(2, 3, 8)), t(_x(4, 1, 3)), groups=4),
     ConvolabError, "groups"),
    ("groups-zero", lambda F, t: F.conv2d(t(X), t(W), groups=0), ConvolabError, "groups"),
    ("weight-rank-low", lambda F, t: F.conv2d(t(X), t(_x(2, 4, 3))), ConvolabError, "weight"),
    ("weight-rank-high", lambda F, t: F.conv1d(t(_x(1, 4, 5)), t(_x(2, 4, 3, 3))),
     ConvolabError, "weight"),
    ("input-rank-low", lambda F, t: F.conv2d(t(_x(5, 5)), t(W)), ConvolabError, "input"),
    ("input-rank-high", lambda F, t: F.conv2d(t(_x(1, 1, 4, 5, 5)), t(W)), ConvolabError, "input"),
    ("input-rank-3d", lambda F, t: F.conv3d(t(_x(4, 5)), t(_x(1, 4, 1, 1, 1))),
     ConvolabError, "input"),
    ("stride-0", lambda F, t: F.conv2d(t(X), t(W), stride=0), ConvolabError, "stride"),
    ("stride-tuple-0", lambda F, t: F.conv2d(t(X), t(W), stride=(1, 0)), ConvolabError, "stride"),
    ("stride-negative", lambda F, t: F.conv1d(t(_x(1, 4, 5)), t(_x(2, 4, 3)), stride=-2),
     ConvolabError, "stride"),
    ("dilation-0", lambda F, t: F.conv2d(t(X), t(W), dilation=0), ConvolabError, "dilation"),
    ("dilation-tuple-0", lambda F, t: F.conv3d(t(_x(1, 1, 4, 4, 4)), t(_x(1, 1, 2, 2, 2)),
                                                dilation=(1, 0, 1)), ConvolabError, "dilation"),
    ("padding-negative", lambda F, t: F.conv2d(t(X), t(W), padding=-1), ConvolabError, "padding"),
    ("padding-tuple-negative", lambda F, t: F.conv2d(t(X), t(W), padding=(1, -1)),
     ConvolabError, "padding"),
    ("same-strided", lambda F, t: F.conv2d(t(X), t(W), stride=2, padding="same"),
     ConvolabError, "same"),
    ("same-strided-tuple", lambda F, t: F.conv1d(t(_x(1, 4, 9)), t(_x(2, 4, 3)), stride=(3,),
                                                  padding="same"), ConvolabError, "stride"),
    ("padding-unknown", lambda F, t: F.conv2d(t(X), t(W), padding="full"), ConvolabError, "padding"),
    ("padding-case", lambda F, t: F.conv2d(t(X), t(W), padding="SAME"), ConvolabError, "padding"),
    ("kernel-too-big", lambda F, t: F.conv2d(t(X), t(_x(2, 4, 6, 3))), ConvolabError, "kernel"),
    ("kernel-too-big-dilated", lambda F, t: F.conv1d(t(_x(1, 1, 5)), t(_x(1, 1, 3)), dilation=3),
     ConvolabError, "kernel"),
    ("kernel-too-big-padded", lambda F, t: F.conv2d(t(X), t(_x(2, 4, 8, 3)), padding=1),
     ConvolabError, "kernel"),
    ("dtype-mixed", lambda F, t: F.conv2d(t(X.astype(np.float32)), t(W)), TypeError, "float64"),
    ("dtype-mixed-int", lambda F, t: F.conv2d(t(X.astype(np.int64)), t(W)), TypeError, "dtype"),
    ("bias-dtype", lambda F, t: F.conv2d(t(X), t(W), t(np.ones(2, np.float32))), TypeError, "bias"),
    ("bias-shape", lambda F, t: F.conv2d(t(X), t(W), t(np.ones(3))), ConvolabError, "bias"),
    # transposed convolution
    ("t-output-padding", lambda F, t: F.conv_transpose2d(t(_x(1, 2, 3, 3)), t(_x(2, 1, 3, 3)),
                                                          stride=2, output_padding=2),
     ConvolabError, "output_padding"),
    ("t-output-padding-dilation", lambda F, t: F.conv_transpose1d(
        t(_x(1, 2, 3)), t(_x(2, 1, 3)), stride=2, output_padding=3, dilation=3),
     ConvolabError, "output_padding"),
    ("t-output-padding-default-stride", lambda F, t: F.conv_transpose2d(
        t(_x(1, 2, 3, 3)), t(_x(2, 1, 3, 3)), output_padding=(0, 1)), ConvolabError, "output_padding"),
    ("t-groups", lambda F, t: F.conv_transpose2d(t(_x(1, 4, 3, 3)), t(_x(4, 1, 3, 3)), groups=3),
     ConvolabError, "groups"),
    ("t-groups-channels", lambda F, t: F.conv_transpose2d(t(_x(1, 3, 3, 3)), t(_x(4, 1, 3, 3))),
     ConvolabError, "channels"),
    ("t-groups-zero", lambda F, t: F.conv_transpose1d(t(_x(1, 2, 3)), t(_x(2, 1, 3)), groups=0),
     ConvolabError, "groups"),
    ("t-stride-0", lambda F, t: F.conv_transpose2d(t(_x(1, 2, 3, 3)), t(_x(2, 1, 3, 3)), stride=0),
     ConvolabError, "stride"),
    ("t-dilation-0", lambda F, t: F.conv_transpose2d(t(_x(1, 2, 3, 3)), t(_x(2, 1, 3, 3)),
                                                      dilation=0), ConvolabError, "dilation"),
    ("t-padding-negative", lambda F, t: F.conv_transpose2d(t(_x(1, 2, 3, 3)), t(_x(2, 1, 3, 3)),
                                                            padding=-1), ConvolabError, "padding"),
    ("t-output-size", lambda F, t: F.conv_transpose2d(t(_x(1, 1, 3, 3)), t(_x(1, 1, 3, 3)),
                                                       padding=5), ConvolabError, "output size"),
    ("t-input-rank", lambda F, t: F.conv_transpose2d(t(_x(3, 3)), t(_x(1, 1, 3, 3))),
     ConvolabError, "input"),
    ("t-weight-rank", lambda F, t: F.conv_transpose2d(t(_x(1, 1, 3, 3)), t(_x(1, 1, 3))),
     ConvolabError, "weight"),
    ("t-dtype-mixed", lambda F, t: F.conv_transpose2d(t(_x(1, 1, 3, 3, dtype=np.float32)),
                                                       t(_x(1, 1, 3, 3))), TypeError, "float64"),
    ("t-bias-dtype", lambda F, t: F.conv_transpose2d(t(_x(1, 1, 3, 3)), t(_x(1, 1, 3, 3)),
                                                      t(np.ones(1, np.float32))), TypeError, "bias"),
    ("t-bias-shape", lambda F, t: F.conv_transpose2d(t(_x(1, 1, 3, 3)), t(_x(1, 1, 3, 3)),
                                                      t(np.ones(2))), ConvolabError, "bias"),
]


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CONV_CASES],
                         ids=[c[0] for c in CONV_CASES])
def test_conv_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(cf, np.asarray)


#: torch's conv_transpose casts a bias of another float dtype; convolab refuses it,
#: as torch's conv{n}d does
TORCH_ACCEPTS = {"t-bias-dtype"}


@pytest.mark.parametrize("call", [c[1] for c in CONV_CASES if c[0] not in TORCH_ACCEPTS],
                         ids=[c[0] for c in CONV_CASES if c[0] not in TORCH_ACCEPTS])
def test_torch_refuses_the_same_calls(call):
    """Each case above is invalid for torch.nn.functional as well."""
    torch = pytest.importorskip("torch")
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        call(torch.nn.functional, lambda a: torch.from_numpy(np.asarray(a)))


# --- arguments torch's functional API does not have, or types torch has no tensor for


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["zero", "mirror", "symmetric", "Reflect", None, 0])
def test_unknown_padding_mode(nd, mode):
    fn = getattr(cf, f"conv{nd}d")
    with pytest.raises(ConvolabError, match="padding_mode"):
        fn(_x(1, 1, *(4,) * nd), _x(1, 1, *(2,) * nd), padding=1, padding_mode=mode)


def test_padding_mode_reflect_ok_but_unknown_rejected_even_without_padding():
    # a valid mode is accepted; an invalid one is named even when no padding is used
    cf.conv2d(X, W, padding_mode="reflect")
    with pytest.raises(ConvolabError, match="padding_mode"):
        cf.conv2d(X, W, padding_mode="bogus")


def test_transposed_padding_string_refused():
    with pytest.raises(ConvolabError, match="padding"):
        cf.conv_transpose2d(_x(1, 1, 3, 3), _x(1, 1, 3, 3), padding="same")


@pytest.mark.parametrize("kw, error, match", [
    (dict(groups=1.5), TypeError, "groups"),
    (dict(groups=True), TypeError, "groups"),
    (dict(stride=1.0), TypeError, "stride"),
    (dict(padding=1.5), TypeError, "padding"),
    (dict(dilation="2"), TypeError, "dilation"),
    (dict(stride=(1,)), ConvolabError, "stride"),
    (dict(padding=(1, 1, 1)), ConvolabError, "padding"),
    (dict(dilation=(1, 1, 1)), ConvolabError, "dilation"),
    (dict(method="tiled"), ConvolabError, "method"),
])
def test_argument_types_and_lengths(kw, error, match):
    with pytest.raises(error, match=match):
        cf.conv2d(X, W, **kw)


@pytest.mark.parametrize("which", ["input", "weight", "bias"])
@pytest.mark.parametrize("bad", ["object", "str", "bytes", "datetime"])
def test_object_and_string_arrays(which, bad):
    make = {"object": lambda s: np.ones(s, dtype=object),
            "str": lambda s: np.full(s, "a"),
            "bytes": lambda s: np.full(s, b"a"),
            "datetime": lambda s: np.zeros(s, dtype="datetime64[s]")}[bad]
    args = {"input": X, "weight": W, "bias": np.ones(2)}
    args[which] = make(args[which].shape)
    with pytest.raises(TypeError, match=which) as info:
        cf.conv2d(args["input"], args["weight"], args["bias"])
    assert "dtype" in str(info.value)


@pytest.mark.parametrize("bad", [np.ones((1, 1, 3, 3), dtype=object), np.full((1, 1, 3, 3), "x")])
def test_object_arrays_transposed(bad):
    with pytest.raises(TypeError, match="dtype"):
        cf.conv_transpose2d(bad, _x(1, 1, 2, 2))
    with pytest.raises(TypeError, match="dtype"):
        cf.conv_transpose2d(_x(1, 1, 3, 3), bad)


# ---------------------------------------------------------------------------
# nn.grad


GX = _x(1, 4, 5, 5)
GW = _x(2, 2, 3, 3)        # groups=2
GY = _x(1, 2, 3, 3)


@pytest.mark.parametrize("call, error, match", [
    (lambda: cg.conv2d_input(GX.shape, GW, GY, groups=2, padding_mode="bogus"),
     ConvolabError, "padding_mode"),
    (lambda: cg.conv2d_input(GX.shape, GW, GY, groups=2, stride=0), ConvolabError, "stride"),
    (lambda: cg.conv2d_input(GX.shape, GW, GY, groups=2, dilation=0), ConvolabError, "dilation"),
    (lambda: cg.conv2d_input(GX.shape, GW, GY, groups=2, padding=-1), ConvolabError, "padding"),
    (lambda: cg.conv2d_input(GX.shape, GW, GY, groups=2, padding="full"), ConvolabError, "padding"),
    (lambda: cg.conv2d_input(GX.shape, GW, GY, groups=2, stride=2, padding="same"),
     ConvolabError, "same"),
    (lambda: cg.conv2d_input(5, GW, GY), TypeError, "input_size"),
    (lambda: cg.conv2d_input(GX.shape, _x(2, 2, 3), GY, groups=2), ConvolabError, "weight"),
    (lambda: cg.conv2d_input((4, 5, 5), GW, GY, groups=2), ConvolabError, "grad_output"),
    (lambda: cg.conv2d_input(GX.shape, np.ones(GW.shape, object), GY, groups=2), TypeError, "weight"),
    (lambda: cg.conv2d_weight(GX, GW.shape, GY, groups=2, stride=0), ConvolabError, "stride"),
    (lambda: cg.conv2d_weight(GX, GW.shape, GY, groups=2, dilation=0), ConvolabError, "dilation"),
    (lambda: cg.conv2d_weight(GX, GW.shape, GY, groups=2, padding=-1), ConvolabError, "padding"),
    (lambda: cg.conv2d_weight(GX, GW.shape, GY, groups=2, stride=2, padding="same"),
     ConvolabError, "same"),
    (lambda: cg.conv2d_weight(GX, GW.shape, GY, groups=3), ConvolabError, "groups"),
    (lambda: cg.conv2d_weight(GX, GW.shape, GY, groups=1), ConvolabError, "groups"),
    (lambda: cg.conv2d_weight(GX, (2, 2, 3), GY, groups=2), ConvolabError, "weight_size"),
    (lambda: cg.conv2d_weight(GX, 3, GY, groups=2), TypeError, "weight_size"),
    (lambda: cg.conv2d_weight(GX, GW.shape, GY.astype(np.float32), groups=2), TypeError, "float32"),
    (lambda: cg.conv2d_weight(np.full(GX.shape, "a"), GW.shape, GY, groups=2), TypeError, "input"),
    (lambda: cg.bias_grad(np.full((1, 2, 3), "a")), TypeError, "grad_output"),
], ids=["in-padding_mode", "in-stride", "in-dilation", "in-padding", "in-padding-str",
        "in-same-strided", "in-input_size-type", "in-weight-rank", "in-rank-mismatch",
        "in-object", "w-stride", "w-dilation", "w-padding", "w-same-strided", "w-groups",
        "w-groups-1", "w-weight_size-rank", "w-weight_size-type", "w-dtype", "w-str",
        "bias-str"])
def test_grad_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- bugs: each test states what torch does and what convolab should do


def test_grad_weight_unknown_padding_mode():
    with pytest.raises(ConvolabError, match="padding_mode"):
        cg.conv2d_weight(GX, GW.shape, GY, groups=2, padding=1, padding_mode="bogus")


@pytest.mark.parametrize("weight, grad_output, groups", [
    (_x(3, 2, 3, 3), _x(1, 3, 3, 3), 2),      # out channels 3 not divisible by groups 2
    (_x(2, 2, 3, 3), _x(1, 2, 3, 3), 3),      # groups 3 does not divide 2 out channels
    (_x(2, 3, 3, 3), _x(1, 2, 3, 3), 2),      # 3 * 2 = 6 input channels, input_size has 4
], ids=["out-not-divisible", "groups-too-large", "in-channels-mismatch"])
def test_grad_input_groups_checked(weight, grad_output, groups):
    with pytest.raises(ConvolabError, match="groups"):
        cg.conv2d_input((1, 4, 5, 5), weight, grad_output, groups=groups)


def test_grad_input_groups_zero():
    with pytest.raises(ConvolabError, match="groups"):
        cg.conv2d_input(GX.shape, GW, GY, groups=0)


@pytest.mark.parametrize("input_size, grad_output", [
    ((1, 4, 5, 5), _x(1, 2, 4, 4)),           # layer output is 3x3
    ((1, 4, 2, 2), _x(1, 2, 3, 3)),           # kernel 3x3 does not even fit a 2x2 input
], ids=["wrong-output-shape", "kernel-larger-than-input"])
def test_grad_input_checks_grad_output_shape(input_size, grad_output):
    with pytest.raises(ConvolabError, match="grad_output|kernel"):
        cg.conv2d_input(input_size, GW, grad_output, groups=2)


@pytest.mark.parametrize("weight_size, grad_output", [
    (GW.shape, _x(1, 2, 4, 4)),               # layer output is 3x3
    ((2, 2, 6, 6), _x(1, 2, 3, 3)),           # kernel larger than the input
], ids=["wrong-output-shape", "kernel-larger-than-input"])
def test_grad_weight_checks_shapes(weight_size, grad_output):
    with pytest.raises(ConvolabError, match="grad_output|weight_size|kernel"):
        cg.conv2d_weight(GX, weight_size, grad_output, groups=2)


def test_grad_input_mixed_dtypes():
    with pytest.raises(TypeError, match="float32|float64|dtype"):
        cg.conv2d_input(GX.shape, GW.astype(np.float32), GY, groups=2)


def test_torch_refuses_the_buggy_grad_calls():
    """The calls in the tests above are invalid for torch.nn.grad too."""
    torch = pytest.importorskip("torch")
    t = torch.from_numpy
    tg = torch.nn.grad
    bad = [
        lambda: tg.conv2d_input((1, 4, 5, 5), t(_x(2, 2, 3, 3)), t(_x(1, 2, 4, 4)), groups=2),
        lambda: tg.conv2d_weight(t(GX), (2, 2, 3, 3), t(_x(1, 2, 4, 4)), groups=2),
        lambda: tg.conv2d_input((1, 4, 5, 5), t(GW.astype(np.float32)), t(GY), groups=2),
        lambda: tg.conv2d_input((1, 4, 5, 5), t(_x(3, 2, 3, 3)), t(_x(1, 3, 3, 3)), groups=2),
        lambda: tg.conv2d_input((1, 4, 5, 5), t(_x(2, 3, 3, 3)), t(_x(1, 2, 3, 3)), groups=2),
    ]
    for call in bad:
        with pytest.raises((RuntimeError, ValueError, TypeError)):
            call()
