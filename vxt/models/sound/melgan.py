"""MelGAN (Kumar et al., NeurIPS 2019): the vocoder SpecVQGAN turns its spectrograms into sound with.

:class:`MelGANGenerator` maps a ``[B, 80, T]`` spectrogram (SpecVQGAN's
normalised log-mel in [0, 1]) to a ``[B, 1, T x 256]`` wave: a 7-tap
convolution to ``16 ngf`` channels, then per up-sampling ratio (8, 8, 2, 2:
their product is the front end's hop, 256) a transposed convolution halving
the channels and a stack of residual blocks with dilations 1, 3, 9, then a
7-tap convolution to one channel and tanh. Every convolution is weight
normalised (``torch.nn.utils.parametrizations.weight_norm``).

:class:`MultiScaleDiscriminator`: ``num_D`` (3) discriminators of the same
shape on the wave average-pooled 1, 2 and 4 times (``AvgPool1d(4, 2)``); each
is a 15-tap convolution, ``n_layers`` (4) strided grouped convolutions
(stride ``downsampling`` = 4, 41 taps, channels x 4 up to 1,024), a 5-tap
and a 3-tap convolution; it returns every layer's output, the last being the
score map. Losses (:func:`discriminator_loss`, :func:`generator_loss`): hinge
for the discriminators; for the generator ``-mean(D(G(s)))`` plus
``lambda_feat`` (10) times the L1 feature matching between the
discriminators' layers on real and generated sound, each layer weighted
``4 / (n_layers + 1)`` and each discriminator ``1 / num_D``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm

from vxt.models.sound.options import VOCODER  # noqa: F401 - the paper's settings, re-exported


def _conv(*args, **kwargs) -> nn.Module:
    return weight_norm(nn.Conv1d(*args, **kwargs))


class ResidualBlock(nn.Module):
    """``x -> shortcut(x) + conv1x1(lrelu(conv3_dilated(lrelu(x))))`` (reflection padding)."""

    def __init__(self, dim: int, dilation: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.LeakyReLU(0.2), nn.ReflectionPad1d(dilation), _conv(dim, dim, 3, dilation=dilation),
            nn.LeakyReLU(0.2), _conv(dim, dim, 1))
        self.shortcut = _conv(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class MelGANGenerator(nn.Module):
    """``[B, n_mels, T]`` -> ``[B, 1, T x prod(ratios)]`` in [-1, 1] (see the module docstring)."""

    def __init__(self, cfg: dict, n_mels: int = 80):
        super().__init__()
        ngf, ratios = int(cfg["ngf"]), [int(r) for r in cfg["ratios"]]
        self.hop = math.prod(ratios)
        mult = 2 ** len(ratios)
        layers: list[nn.Module] = [nn.ReflectionPad1d(3), _conv(n_mels, mult * ngf, 7)]
        for r in ratios:
            layers += [nn.LeakyReLU(0.2),
                       weight_norm(nn.ConvTranspose1d(mult * ngf, mult * ngf // 2, 2 * r, stride=r,
                                                      padding=r // 2 + r % 2, output_padding=r % 2))]
            layers += [ResidualBlock(mult * ngf // 2, 3 ** j) for j in range(int(cfg["n_residual"]))]
            mult //= 2
        layers += [nn.LeakyReLU(0.2), nn.ReflectionPad1d(3), _conv(ngf, 1, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel)


class NLayerDiscriminator(nn.Module):
    """One MelGAN discriminator: ``[B, 1, N]`` -> the outputs of its ``n_layers + 3`` layers (the last: scores)."""

    def __init__(self, ndf: int, n_layers: int, downsampling: int):
        super().__init__()
        layers = [nn.Sequential(nn.ReflectionPad1d(7), _conv(1, ndf, 15), nn.LeakyReLU(0.2))]
        nf, s = ndf, int(downsampling)
        for _ in range(int(n_layers)):
            prev, nf = nf, min(nf * s, 1024)
            layers.append(nn.Sequential(_conv(prev, nf, s * 10 + 1, stride=s, padding=s * 5, groups=max(1, prev // 4)),
                                        nn.LeakyReLU(0.2)))
        nf2 = min(nf * 2, 1024)
        layers.append(nn.Sequential(_conv(nf, nf2, 5, padding=2), nn.LeakyReLU(0.2)))
        layers.append(_conv(nf2, 1, 3, padding=1))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


class MultiScaleDiscriminator(nn.Module):
    """``num_D`` :class:`NLayerDiscriminator` s on the wave pooled ``0 .. num_D - 1`` times: a list per scale."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.n_layers = int(cfg["n_layers_D"])
        self.discriminators = nn.ModuleList(
            NLayerDiscriminator(int(cfg["ndf"]), self.n_layers, int(cfg["downsampling"])) for _ in range(int(cfg["num_D"])))
        self.pool = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        for i, d in enumerate(self.discriminators):
            if i:
                x = self.pool(x)
            out.append(d(x))
        return out


def discriminator_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Hinge: ``sum_scales mean(relu(1 - D(x))) + mean(relu(1 + D(G(s))))``."""
    return sum(F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(real, fake))


def generator_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]], n_layers: int,
                   lambda_feat: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(total, adversarial, feature matching)``: ``-sum_scales mean(D(G(s)))`` + ``lambda_feat`` x the L1
    distance of every layer but the last between real (treated as constants) and generated."""
    adv = sum(-f[-1].mean() for f in fake)
    w = (4.0 / (n_layers + 1)) * (1.0 / len(fake))
    fm = sum(w * F.l1_loss(f[j], r[j].detach()) for r, f in zip(real, fake) for j in range(len(f) - 1))
    return adv + lambda_feat * fm, adv, fm
