"""vxt.nn.quantize.VectorQuantizer: nearest codes, straight-through gradients, the VQ loss."""

from __future__ import annotations

import pytest
import torch

from vxt.nn.quantize import VectorQuantizer


def _vq():
    vq = VectorQuantizer(3, 2, beta=0.25)
    with torch.no_grad():
        vq.embedding.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]]))
    return vq


def test_nearest_codes_and_shapes():
    vq = _vq()
    z = torch.tensor([[0.2, 0.1], [0.9, 1.3], [-0.8, 1.5], [0.6, 0.6]])  # [N=4, D=2] as a sequence
    zq, loss, idx = vq(z[None], channels_first=False)
    assert idx.tolist() == [[0, 1, 2, 1]]
    assert torch.allclose(zq[0], vq.embedding.weight[idx[0]])
    m = torch.randn(2, 2, 3, 4)  # a channels-first map
    zq, _, idx = vq(m)
    assert zq.shape == m.shape and idx.shape == (2, 3, 4)
    assert torch.allclose(vq.lookup(idx), zq.detach(), atol=1e-6)


def test_straight_through_gradient():
    vq = _vq()
    z = torch.randn(2, 2, 3, 3, requires_grad=True)
    zq, _, _ = vq(z)
    g = torch.randn_like(zq)
    (zq * g).sum().backward()
    assert torch.equal(z.grad, g)  # the decoder's gradient reaches the encoder unchanged


def test_codebook_and_commitment_loss_values():
    vq = _vq()
    z = torch.tensor([[[0.2, 0.1]]], requires_grad=True)  # nearest code: (0, 0)
    _, loss, idx = vq(z, channels_first=False)
    assert idx.item() == 0
    # mean((sg[z] - e)^2) + 0.25 mean((z - sg[e])^2) = (0.04 + 0.01) / 2 * 1.25
    assert loss.item() == pytest.approx(0.03125)
    loss.backward()
    # the codebook term moves the code towards z, the commitment term (x 0.25) moves z towards the code
    assert torch.allclose(vq.embedding.weight.grad[0], torch.tensor([-0.2, -0.1]))
    assert torch.allclose(vq.embedding.weight.grad[1:], torch.zeros(2, 2))
    assert torch.allclose(z.grad, 0.25 * torch.tensor([[[0.2, 0.1]]]))
