"""vxt.nn.weights.save_weights / load_weights: the one way every system writes and reads model.safetensors."""

from __future__ import annotations

import pytest
import torch

from vxt.errors import VxtError
from vxt.nn.weights import load_weights, save_weights


def test_same_tensors_same_bytes_and_one_line_mismatch(tmp_path):
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    save_weights(tmp_path / "a.safetensors", a.state_dict(), {"arch": "x", "b": "y"})
    save_weights(tmp_path / "b.safetensors", a.state_dict(), {"b": "y", "arch": "x"})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    b = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    load_weights(b, tmp_path / "a.safetensors")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    wider = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Linear(5, 2))
    with pytest.raises(VxtError) as e:
        load_weights(wider, tmp_path / "a.safetensors")
    assert "\n" not in str(e.value) and "3 tensor(s) of another shape, the first 0.bias" in str(e.value)
    longer = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2), torch.nn.Linear(2, 2))
    with pytest.raises(VxtError, match="2 tensor\\(s\\) missing, 0 unexpected, the first 2.weight"):
        load_weights(longer, tmp_path / "a.safetensors")
    with pytest.raises(VxtError, match="no model.safetensors"):
        load_weights(b, tmp_path / "none.safetensors")
