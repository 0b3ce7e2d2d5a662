"""The LPAPS perceptual network loads from a folder (or stops with one line) and measures distances."""

from __future__ import annotations

import pytest
import torch

from vxt.errors import VxtError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_lpaps_loads_and_measures(tmp_path):
    from safetensors.torch import save_file

    from vxt.models.sound.lpaps import LPAPS

    torch.manual_seed(0)
    state = LPAPS().state_dict()
    assert {"net.slice1.0.weight", "net.slice5.28.weight", "lin4.model.1.weight", "scaling_layer.shift"} <= set(state)
    # random conv weights; non-negative channel weights (as LPIPS' learned ones)
    state = {k: (torch.randn_like(v) * 0.05 if k.endswith("weight") else v) for k, v in state.items()}
    state = {k: (v.abs() if k.startswith("lin") else v) for k, v in state.items()}
    save_file(state, str(tmp_path / "lpaps.safetensors"))
    net = LPAPS.load(tmp_path)
    assert not any(p.requires_grad for p in net.parameters())
    x = torch.rand(2, 1, 80, 64) * 2 - 1
    assert torch.allclose(net(x, x), torch.zeros(2, 1, 1, 1))
    assert (net(x, x.flip(-1)) > 0).all()
    with pytest.raises(VxtError, match="no LPAPS perceptual network here"):
        LPAPS.load(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    save_file({"lin0.model.1.weight": torch.zeros(1, 3, 1, 1)}, str(bad / "lpaps.safetensors"))
    with pytest.raises(VxtError, match="do not fit"):
        LPAPS.load(bad)
