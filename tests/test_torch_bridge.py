"""The PyTorch bridge: autograd Function and drop-in modules."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import convolab.torch as ct  # noqa: E402

MODULES = {1: (ct.Conv1d, torch.nn.Conv1d), 2: (ct.Conv2d, torch.nn.Conv2d),
           3: (ct.Conv3d, torch.nn.Conv3d)}


CONFIGS = [dict(stride=1, padding=1, groups=1),
           dict(stride=2, padding=2, dilation=2, groups=2),
           dict(stride=1, padding="same", groups=4)]
MODES = ["zeros", "reflect", "replicate", "circular"]
# every combination in 1-D and 2-D; a few in 3-D, where gradcheck is slow
CASES = ([(nd, m, c) for nd in (1, 2) for m in MODES for c in range(3)]
         + [(3, "zeros", 1), (3, "reflect", 0), (3, "circular", 2)])


@pytest.mark.parametrize("nd, padding_mode, config", CASES)
def test_gradcheck(nd, padding_mode, config):
    torch.manual_seed(nd)
    layer = MODULES[nd][0](4, 4, 3, padding_mode=padding_mode, **CONFIGS[config]).double()
    x = torch.randn((1, 4) + ((5,) * nd if nd < 3 else (4,) * nd), dtype=torch.float64,
                    requires_grad=True)

    def f(x, w, b):
        return ct.ConvFunction.apply(x, w, b, nd, layer.stride, layer.padding, layer.dilation,
                                     layer.groups, padding_mode, "auto")

    assert torch.autograd.gradcheck(f, (x, layer.weight, layer.bias))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
def test_module_is_a_drop_in(nd, padding_mode):
    ours_cls, theirs_cls = MODULES[nd]
    args = dict(in_channels=4, out_channels=6, kernel_size=3, stride=1, padding=1,
                dilation=1, groups=2, bias=True, padding_mode=padding_mode)
    torch.manual_seed(0)
    theirs = theirs_cls(**args).double()
    ours = ours_cls(**args).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn((3, 4) + (7,) * nd, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y_ours, y_theirs = ours(x), theirs(x2)
    torch.testing.assert_close(y_ours, y_theirs, rtol=1e-10, atol=1e-10)
    gy = torch.randn_like(y_ours)
    y_ours.backward(gy)
    y_theirs.backward(gy)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-10, atol=1e-10)


def test_same_initialization_as_torch():
    torch.manual_seed(3)
    a = torch.nn.Conv2d(3, 5, 3)
    torch.manual_seed(3)
    b = ct.Conv2d(3, 5, 3)
    torch.testing.assert_close(a.weight, b.weight)
    torch.testing.assert_close(a.bias, b.bias)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_trains_to_the_same_loss_as_torch(dtype):
    """A small network with convolab's Conv2d trains like the same network
    with torch's Conv2d from the same initial state and data."""
    def net(conv_cls):
        torch.manual_seed(0)
        return torch.nn.Sequential(conv_cls(1, 4, 3, padding=1), torch.nn.ReLU(),
                                   conv_cls(4, 4, 3, stride=2), torch.nn.ReLU(),
                                   torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 3)).to(dtype)

    theirs, ours = net(torch.nn.Conv2d), net(ct.Conv2d)
    ours.load_state_dict(theirs.state_dict())
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 1, 8, 8, generator=gen, dtype=dtype)
    # learnable labels: which half of the image has the larger sum
    top, bottom = x[:, 0, :4].sum((1, 2)), x[:, 0, 4:].sum((1, 2))
    y = (top > bottom).long() + (top > 0).long()
    losses = {}
    for name, model in (("theirs", theirs), ("ours", ours)):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        curve = []
        for step in range(30):
            batch = slice((step * 16) % 64, (step * 16) % 64 + 16)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            opt.step()
            curve.append(loss.item())
        losses[name] = np.array(curve)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    np.testing.assert_allclose(losses["ours"], losses["theirs"], rtol=tol, atol=tol)
    assert losses["ours"][-8:].mean() < losses["ours"][:8].mean()     # it did learn


def test_functional_matches_torch():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    w = torch.randn(6, 2, 3, 3, dtype=torch.float64)
    b = torch.randn(6, dtype=torch.float64)
    out = ct.conv2d(x, w, b, stride=2, padding=1, groups=2, method="fft")
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x, w, b, 2, 1, 1, 2))


def test_cuda_or_bfloat16_tensors_are_refused_with_a_reason():
    with pytest.raises(TypeError, match="bfloat16"):
        ct.conv2d(torch.zeros(1, 1, 4, 4, dtype=torch.bfloat16),
                  torch.zeros(1, 1, 3, 3, dtype=torch.bfloat16))
