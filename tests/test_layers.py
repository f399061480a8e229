"""The layers of makemore.layers against their torch.nn counterparts, and BatchNorm1d's two paths
(the readable lines and the fused kernel) against each other."""

import pytest
import torch
import torch.nn as nn

from makemore.layers import (BatchNorm1d, Embedding, Flatten, FlattenConsecutive, Linear, Sequential,
                             Tanh)


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


# --- Embedding, Flatten, Sequential -----------------------------------------------------------------

def test_embedding_looks_up_rows_as_torch_does():
    ours = Embedding(27, 5, generator=generator())
    theirs = nn.Embedding(27, 5)
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
    idx = torch.randint(0, 27, (6, 8), generator=generator(1))
    assert ours(idx).shape == (6, 8, 5)
    assert torch.equal(ours(idx), theirs(idx))


def test_embedding_weights_come_from_the_generator():
    assert torch.equal(Embedding(27, 5, generator=generator(3)).weight, Embedding(27, 5, generator=generator(3)).weight)
    assert not torch.equal(Embedding(27, 5, generator=generator(3)).weight, Embedding(27, 5, generator=generator(4)).weight)


@pytest.mark.parametrize("T, n", [(8, 2), (16, 2), (4, 2), (8, 4), (6, 3)])
def test_flatten_consecutive_equals_unflatten_then_flatten(T, n):
    x = torch.randn(5, T, 3)
    ours = FlattenConsecutive(n)(x)
    # torch: split time into (T/n, n), then join each group of n vectors: (B, T/n, n * C)
    theirs = nn.Flatten(2)(nn.Unflatten(1, (T // n, n))(x))
    if T // n == 1:
        theirs = theirs.squeeze(1)
    assert torch.equal(ours, theirs)


def test_flatten_consecutive_joins_neighbours_in_order():
    x = torch.arange(8.0).view(1, 8, 1)  # positions 0..7, one channel
    assert FlattenConsecutive(2)(x).tolist() == [[[0, 1], [2, 3], [4, 5], [6, 7]]]


@pytest.mark.parametrize("context, shapes", [
    (8, [(32, 4, 20), (32, 2, 40), (32, 80)]),
    (16, [(32, 8, 20), (32, 4, 40), (32, 2, 80), (32, 160)]),
])
def test_repeated_pair_joins_halve_time_until_one_vector_is_left(context, shapes):
    x = torch.randn(32, context, 10)
    seen = []
    while x.ndim == 3:
        x = FlattenConsecutive(2)(x)
        seen.append(tuple(x.shape))
    assert seen == shapes  # the length-1 time axis of the last join is squeezed away


def test_flatten_consecutive_refuses_a_length_it_cannot_divide():
    with pytest.raises(ValueError, match="groups of 2 out of 3"):
        FlattenConsecutive(2)(torch.randn(4, 3, 5))


def test_flatten_is_torch_flatten_and_the_whole_context_joined():
    x = torch.randn(4, 8, 3)
    assert torch.equal(Flatten()(x), nn.Flatten()(x))
    assert torch.equal(Flatten()(x), FlattenConsecutive(8)(x))


def linear_pair(fan_in, fan_out, bias=True):
    ours = Linear(fan_in, fan_out, bias=bias, generator=generator())
    theirs = nn.Linear(fan_in, fan_out, bias=bias)
    with torch.no_grad():
        theirs.weight.copy_(ours.weight.T)  # torch keeps (fan_out, fan_in)
        if bias:
            ours.bias.copy_(torch.randn(fan_out, generator=generator(1)))
            theirs.bias.copy_(ours.bias)
    return ours, theirs


def test_sequential_runs_its_layers_in_order_as_torch_sequential_does():
    (l1, t1), (l2, t2) = linear_pair(6, 4, bias=False), linear_pair(4, 3)
    ours = Sequential(Flatten(), l1, Tanh(), l2)
    theirs = nn.Sequential(nn.Flatten(), t1, nn.Tanh(), t2)
    x = torch.randn(5, 2, 3)
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    assert len(ours) == 4 and ours[1] is l1 and list(ours) == list(ours.layers)


def test_sequential_owns_its_layers_parameters_and_buffers_and_modes():
    model = Sequential(Embedding(27, 4), FlattenConsecutive(2), Linear(8, 6, bias=False),
                       BatchNorm1d(6, time=2), Tanh())
    assert [name for name, _ in model.named_parameters()] == [
        "layers.0.weight", "layers.2.weight", "layers.3.gamma", "layers.3.beta"]
    assert set(model.state_dict()) >= {"layers.3.running_mean", "layers.3.running_var"}
    model.eval()
    assert not any(layer.training for layer in model.layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # reaches every layer's weights
    assert sum(p.numel() for group in optimizer.param_groups for p in group["params"]) == 27 * 4 + 8 * 6 + 12


# --- BatchNorm1d against torch ----------------------------------------------------------------------

def batchnorm_pair(dim, **kwargs):
    ours = BatchNorm1d(dim, **kwargs)
    theirs = nn.BatchNorm1d(dim)
    with torch.no_grad():
        for p in (ours.gamma, theirs.weight):
            p.copy_(torch.linspace(0.5, 2.0, dim))
        for p in (ours.beta, theirs.bias):
            p.copy_(torch.linspace(-1.0, 1.0, dim))
    return ours, theirs


@pytest.mark.parametrize("fused", [True, False])
def test_batchnorm_on_a_batch_of_vectors_matches_torch(fused):
    ours, theirs = batchnorm_pair(7, fused=fused)
    for step in range(3):  # training: outputs and the running statistics after a few batches
        x = torch.randn(32, 7, generator=generator(step)) * 4 + 2
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    assert ours.running_mean.shape == (7,)
    assert torch.allclose(ours.running_mean, theirs.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, theirs.running_var, atol=1e-5)
    ours.eval(), theirs.eval()
    x = torch.randn(10, 7)
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_batchnorm_over_batch_and_time_matches_torch_on_channels_first(fused):
    ours, theirs = batchnorm_pair(6, time=4, over_time=True, fused=fused)
    for step in range(3):
        x = torch.randn(32, 4, 6, generator=generator(step)) * 3 - 1  # (B, T, C)
        # torch's BatchNorm1d wants (B, C, T) and normalises each channel over batch and time
        assert torch.allclose(ours(x), theirs(x.transpose(1, 2)).transpose(1, 2), atol=1e-5)
    assert ours.running_mean.shape == (1, 1, 6)
    assert torch.allclose(ours.running_mean.view(-1), theirs.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var.view(-1), theirs.running_var, atol=1e-5)
    ours.eval(), theirs.eval()
    x = torch.randn(3, 4, 6)
    assert torch.allclose(ours(x), theirs(x.transpose(1, 2)).transpose(1, 2), atol=1e-5)


def test_the_lectures_bug_keeps_statistics_per_position_and_the_fix_per_channel():
    x = torch.randn(32, 4, 68)
    buggy, fixed = BatchNorm1d(68, time=4, over_time=False), BatchNorm1d(68, time=4, over_time=True)
    buggy(x), fixed(x)
    assert buggy.running_mean.shape == buggy.running_var.shape == (1, 4, 68)
    assert fixed.running_mean.shape == fixed.running_var.shape == (1, 1, 68)
    # the bug normalises each position on its own: every (t, c) has zero mean over the batch alone
    assert buggy(x).mean(0).abs().max() < 1e-5
    shifted = x + torch.arange(4.0).view(1, 4, 1)  # positions with different means
    assert fixed(shifted).mean(0).abs().max() > 0.5  # the fix keeps the differences between positions
    assert buggy(shifted).mean(0).abs().max() < 1e-5  # the bug erases them


def test_the_bug_equals_torch_batchnorm_over_each_position_as_a_feature():
    ours = BatchNorm1d(5, time=3, over_time=False)
    theirs = nn.BatchNorm1d(15, affine=False)
    x = torch.randn(16, 3, 5)
    assert torch.allclose(ours(x), theirs(x.reshape(16, 15)).view(16, 3, 5), atol=1e-5)
    assert torch.allclose(ours.running_var.view(-1), theirs.running_var, atol=1e-6)


def test_a_3d_input_needs_a_batchnorm_built_for_it():
    with pytest.raises(ValueError, match="time"):
        BatchNorm1d(5)(torch.randn(4, 3, 5))


@pytest.mark.parametrize("fused", [True, False])
def test_batchnorm_refuses_to_train_on_one_value_per_feature(fused):
    with pytest.raises(ValueError):
        BatchNorm1d(5, fused=fused)(torch.randn(1, 5))


# --- the readable layer teaches, the fused op trains --------------------------------------------------

@pytest.mark.parametrize("shape, kwargs", [
    ((32, 10), {}),
    ((32, 4, 10), dict(time=4, over_time=True)),
    ((32, 4, 10), dict(time=4, over_time=False)),
])
def test_readable_and_fused_batchnorm_agree_in_outputs_gradients_and_running_statistics(shape, kwargs):
    readable, fused = BatchNorm1d(10, fused=False, **kwargs), BatchNorm1d(10, fused=True, **kwargs)
    with torch.no_grad():
        for bn in (readable, fused):
            bn.gamma.copy_(torch.linspace(0.5, 2.0, 10))
            bn.beta.copy_(torch.linspace(-1.0, 1.0, 10))
    upstream = torch.randn(shape, generator=generator(9))
    for step in range(3):
        x = torch.randn(shape, generator=generator(step)) * 3 + 1
        xr, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
        yr, yf = readable(xr), fused(xf)
        assert torch.allclose(yr, yf, atol=1e-5)
        (yr * upstream).sum().backward()
        (yf * upstream).sum().backward()
        assert torch.allclose(xr.grad, xf.grad, atol=1e-5)
    assert torch.allclose(readable.gamma.grad, fused.gamma.grad, atol=1e-4)
    assert torch.allclose(readable.beta.grad, fused.beta.grad, atol=1e-4)
    assert torch.allclose(readable.running_mean, fused.running_mean, atol=1e-6)
    assert torch.allclose(readable.running_var, fused.running_var, atol=1e-5)
    readable.eval(), fused.eval()
    x = torch.randn(shape)
    assert torch.allclose(readable(x), fused(x), atol=1e-5)


def test_batchnorm_normalises_with_the_biased_variance_and_keeps_the_unbiased_one():
    bn = BatchNorm1d(3, momentum=1.0, fused=False)  # momentum 1: the running stats are the last batch's
    x = torch.randn(8, 3) * 2 + 5
    y = bn(x)
    assert torch.allclose(y.var(0, unbiased=False), torch.ones(3), atol=1e-4)
    assert torch.allclose(bn.running_var, x.var(0, unbiased=True), atol=1e-5)


def test_a_trained_batchnorms_state_loads_into_a_new_one():
    trained = BatchNorm1d(6, time=4, over_time=False)
    trained(torch.randn(32, 4, 6) + 3)
    fresh = BatchNorm1d(6, time=4, over_time=False)
    fresh.load_state_dict(trained.state_dict())  # same shapes from the start: the disk cache works
    assert torch.equal(fresh.running_mean, trained.running_mean)
