"""LPAPS: SpecVQGAN's perceptual loss for spectrograms (LPIPS with a VGG-16-like net trained on VGGSound).

The net is VGGishish's conv stack (13 3x3 convs, ReLU, max-pools: 64, 64,
MP, 128, 128, MP, 256 x 3, MP, 512 x 3, MP, 512 x 3) read at relu1_2,
relu2_2, relu3_3, relu4_3 and relu5_3; each map is unit-normalised over
channels, the squared difference of the two inputs' maps weighted per
channel by a learned 1x1 conv, averaged over positions and summed over the
five taps. Inputs in [-1, 1] are standardised per mel bin first (the train
set's means and stds, scaled to [-1, 1]).

The weights are required (``--set perceptual=DIR``): ``DIR/lpaps.safetensors``
holds the whole state (``net.slice{1..5}.*``, ``lin{0..4}.model.1.weight``,
``scaling_layer.shift``, ``scaling_layer.scale``: the layout of SpecVQGAN's
``vggishish_lpaps`` checkpoint plus its mean/std file, converted to
safetensors: vxt never reads pickles). A path that does not load stops the
run with one line. The five widths are read from the file (``lin{k}``'s
input channels): SpecVQGAN's are 64, 128, 256, 512, 512; a narrower stack
of the same layout (a CPU stand-in, :meth:`LPAPS.save` writes one) loads
the same way.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from vxt.errors import VxtError

CHANNELS = (64, 128, 256, 512, 512)
_CONVS = (64, 64, "MP", 128, 128, "MP", 256, 256, 256, "MP", 512, 512, 512, "MP", 512, 512, 512)
#: (first, last + 1) index of each tap's slice in the feature stack (relu1_2 ... relu5_3)
_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))
WEIGHTS_FILE = "lpaps.safetensors"


def vggishish_features(channels: tuple[int, ...] = CHANNELS) -> list[nn.Module]:
    """VGGishish's conv stack (SpecVQGAN's ``vggish.yaml`` layers, no batch norm) with the widths ``channels`` at
    its five taps: the layers (and their indices) LPAPS's slices hold."""
    width = dict(zip(CHANNELS[:4], channels[:4]))  # 64, 128, 256, 512 -> the stack's own (the last: channels[4])
    layers: list[nn.Module] = []
    cin, level = 1, 0
    for v in _CONVS:
        if v == "MP":
            layers.append(nn.MaxPool2d(2, 2))
            level += 1
        else:
            c = int(channels[4]) if level == 4 else int(width[int(v)])
            layers += [nn.Conv2d(cin, c, 3, 1, 1), nn.ReLU(inplace=False)]
            cin = c
    return layers


class LPAPS(nn.Module):
    def __init__(self, n_mels: int = 80, channels: tuple[int, ...] = CHANNELS):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) != 5 or min(channels) < 1:
            raise ValueError(f"LPAPS has five widths (relu1_2 ... relu5_3), got {channels}")
        self.channels = channels
        feats = vggishish_features(channels)
        self.net = nn.Module()
        for k, (lo, hi) in enumerate(_SLICES, 1):
            s = nn.Sequential()
            for i in range(lo, hi):
                s.add_module(str(i), feats[i])
            setattr(self.net, f"slice{k}", s)
        for k, c in enumerate(channels):
            lin = nn.Module()
            lin.model = nn.Sequential(nn.Dropout(), nn.Conv2d(c, 1, 1, bias=False))
            setattr(self, f"lin{k}", lin)
        self.scaling_layer = nn.Module()
        self.scaling_layer.register_buffer("shift", torch.zeros(1, 1, n_mels, 1))
        self.scaling_layer.register_buffer("scale", torch.ones(1, 1, n_mels, 1))
        self.requires_grad_(False)
        self.eval()  # frozen from the start: its dropout never runs

    @classmethod
    def load(cls, directory: str | Path) -> "LPAPS":
        """The perceptual network from ``directory`` (see the module docstring); one-line errors otherwise."""
        from safetensors.torch import load_file

        d = Path(directory)
        f = d / WEIGHTS_FILE if d.is_dir() else d
        if not f.is_file():
            raise VxtError(f"no LPAPS perceptual network here (expected {WEIGHTS_FILE}); give it with "
                           "--set perceptual=DIR, or train without it with --set perceptual=none", path=str(f))
        try:
            state = load_file(str(f))
        except Exception as e:  # noqa: BLE001 - a damaged file: one line
            raise VxtError(f"cannot read the LPAPS weights ({type(e).__name__})", path=str(f)) from None
        widths = [state.get(f"lin{k}.model.1.weight") for k in range(5)]
        channels = tuple(int(w.shape[1]) for w in widths) if all(w is not None and w.ndim == 4 for w in widths) \
            else CHANNELS
        model = cls(n_mels=int(state["scaling_layer.shift"].shape[2]) if "scaling_layer.shift" in state else 80,
                    channels=channels)
        own = model.state_dict()
        missing = sorted(set(own) - set(state))
        bad = sorted(k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape))
        if missing or bad:
            raise VxtError(f"the LPAPS weights do not fit (missing {missing[:3]}, wrong shape {bad[:3]})", path=str(f))
        model.load_state_dict({k: v for k, v in state.items() if k in own})
        model.eval()
        return model

    @classmethod
    def from_vggishish(cls, classifier) -> "LPAPS":
        """The LPAPS SpecVQGAN meant to run: the conv stack of a trained VGGishish (``vxt train --task classify
        --model vggishish``: its ``net``), the per-bin scaling from that classifier's input statistics (in [0, 1],
        mapped to the codebook's [-1, 1] as SpecVQGAN's ScalingLayer does); the 1x1 layers at their init (nothing
        trains them in SpecVQGAN: seed the RNG first)."""
        net = getattr(classifier, "net", classifier)
        if getattr(net, "kind", None) != "vggishish":
            raise VxtError("LPAPS reads a VGGishish's conv stack: train one with --task classify --model vggishish")
        mean, std = net.norm_mean.detach().float().reshape(-1), net.norm_std.detach().float().reshape(-1)
        convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
        model = cls(n_mels=int(mean.numel()), channels=tuple(int(convs[i].out_channels) for i in (1, 3, 6, 9, 12)))
        stack = {str(i): m for i, m in enumerate(net.features)}
        for k, (lo, hi) in enumerate(_SLICES, 1):
            s = getattr(model.net, f"slice{k}")
            for i in range(lo, hi):
                if isinstance(stack[str(i)], nn.Conv2d):
                    s.get_submodule(str(i)).load_state_dict(stack[str(i)].state_dict())
        model.scaling_layer.shift.copy_((2 * mean - 1)[None, None, :, None])
        model.scaling_layer.scale.copy_((2 * std)[None, None, :, None])
        return model.eval()

    def save(self, directory: str | Path) -> Path:
        """Write the whole state to ``directory/lpaps.safetensors`` (what :meth:`load` reads)."""
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, str(d / WEIGHTS_FILE))
        return d / WEIGHTS_FILE

    def train(self, mode: bool = True) -> "LPAPS":
        return super().train(False)  # frozen: never dropout

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The perceptual distance of each pair: ``[B, 1, 1, 1]``."""
        sl = self.scaling_layer
        hx, hy = (x - sl.shift) / sl.scale, (y - sl.shift) / sl.scale
        total = 0.0
        for k in range(5):
            s = getattr(self.net, f"slice{k + 1}")
            hx, hy = s(hx), s(hy)
            nx = hx / (hx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            ny = hy / (hy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            d = getattr(self, f"lin{k}").model((nx - ny) ** 2)
            total = total + d.mean(dim=(2, 3), keepdim=True)
        return total
