"""SpecVQGAN's stage 1: the spectrogram codebook (a VQGAN, taming-transformers' encoder/decoder on one channel).

The encoder is a 3x3 conv, then per level ``num_res_blocks`` residual blocks
(GroupNorm, swish, 3x3 conv, twice) with self-attention where the time axis
has the lowest resolution (``attn_resolutions``: 53 of 848), and a strided
conv that halves both axes after every level but the last; then a middle
block (residual, attention, residual), GroupNorm, swish and a 3x3 conv to
``z_channels``, a 1x1 conv to the codebook width and the vector quantiser
(:class:`vxt.nn.quantize.VectorQuantizer`, beta 0.25). Channel multipliers
``1, 1, 2, 2, 4`` give four halvings: 80 x 848 -> 5 x 53 = 265 codes. The
decoder mirrors it (``num_res_blocks + 1`` blocks per level, nearest
up-sampling then a 3x3 conv). Inputs and outputs are in [-1, 1].

The paper's preset: ``ch`` 128, codebook 1,024 x 256, 2 residual blocks per
level, GroupNorm with 32 groups; the tiny preset shrinks the widths (and the
groups) only, so it has the same 16x geometry.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vxt.nn.quantize import VectorQuantizer


def _norm(ch: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=min(groups, ch), num_channels=ch, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin, groups), nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2, self.conv2 = _norm(cout, groups), nn.Conv2d(cout, cout, 3, 1, 1)
        self.dropout = nn.Dropout(dropout)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all positions of the map (taming's AttnBlock)."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm = _norm(ch, groups)
        self.q, self.k, self.v = (nn.Conv2d(ch, ch, 1) for _ in range(3))
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        h = self.norm(x)
        B, C, H, W = h.shape
        q = self.q(h).flatten(2).transpose(1, 2)
        k = self.k(h).flatten(2).transpose(1, 2)
        v = self.v(h).flatten(2).transpose(1, 2)
        o = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.proj_out(o.transpose(1, 2).reshape(B, C, H, W))


class Downsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # taming's asymmetric padding: exact halving


class Upsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Encoder(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        ch, mult, nrb, g = int(cfg["ch"]), list(cfg["ch_mult"]), int(cfg["num_res_blocks"]), int(cfg["norm_groups"])
        res, attn, drop = int(cfg["resolution"]), set(cfg["attn_resolutions"]), float(cfg.get("dropout", 0.0))
        self.conv_in = nn.Conv2d(int(cfg["in_channels"]), ch, 3, 1, 1)
        self.down = nn.ModuleList()
        cin = ch
        for i, m in enumerate(mult):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            cout = ch * m
            for _ in range(nrb):
                level.block.append(ResnetBlock(cin, cout, g, drop))
                cin = cout
                if res in attn:
                    level.attn.append(AttnBlock(cin, g))
            if i != len(mult) - 1:
                level.downsample = Downsample(cin)
                res //= 2
            self.down.append(level)
        self.mid_1, self.mid_attn, self.mid_2 = ResnetBlock(cin, cin, g, drop), AttnBlock(cin, g), ResnetBlock(cin, cin, g, drop)
        self.norm_out = _norm(cin, g)
        self.conv_out = nn.Conv2d(cin, int(cfg["z_channels"]), 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for level in self.down:
            for i, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[i](h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        h = self.mid_2(self.mid_attn(self.mid_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        ch, mult, nrb, g = int(cfg["ch"]), list(cfg["ch_mult"]), int(cfg["num_res_blocks"]), int(cfg["norm_groups"])
        attn, drop = set(cfg["attn_resolutions"]), float(cfg.get("dropout", 0.0))
        res = int(cfg["resolution"]) // 2 ** (len(mult) - 1)
        cin = ch * mult[-1]
        self.conv_in = nn.Conv2d(int(cfg["z_channels"]), cin, 3, 1, 1)
        self.mid_1, self.mid_attn, self.mid_2 = ResnetBlock(cin, cin, g, drop), AttnBlock(cin, g), ResnetBlock(cin, cin, g, drop)
        ups = []
        for i in reversed(range(len(mult))):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            cout = ch * mult[i]
            for _ in range(nrb + 1):
                level.block.append(ResnetBlock(cin, cout, g, drop))
                cin = cout
                if res in attn:
                    level.attn.append(AttnBlock(cin, g))
            if i != 0:
                level.upsample = Upsample(cin)
                res *= 2
            ups.append(level)
        self.up = nn.ModuleList(ups)  # lowest resolution first
        self.norm_out = _norm(cin, g)
        self.conv_out = nn.Conv2d(cin, int(cfg["out_ch"]), 3, 1, 1)

    def forward(self, z):
        h = self.mid_2(self.mid_attn(self.mid_1(self.conv_in(z))))
        for level in self.up:
            for i, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[i](h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VQGAN(nn.Module):
    """Encoder -> 1x1 conv -> codebook -> 1x1 conv -> decoder, on ``[B, 1, 80, 848]`` spectrograms in [-1, 1]."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = dict(cfg)
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quant_conv = nn.Conv2d(int(cfg["z_channels"]), int(cfg["embed_dim"]), 1)
        self.post_quant_conv = nn.Conv2d(int(cfg["embed_dim"]), int(cfg["z_channels"]), 1)
        self.quantize = VectorQuantizer(int(cfg["n_embed"]), int(cfg["embed_dim"]), beta=float(cfg.get("beta", 0.25)))

    @property
    def down_factor(self) -> int:
        return 2 ** (len(self.cfg["ch_mult"]) - 1)

    def encode(self, x):
        """``(z_q [B, D, h, w], vq loss, codes [B, h, w])``."""
        return self.quantize(self.quant_conv(self.encoder(x)))

    def decode(self, zq):
        return self.decoder(self.post_quant_conv(zq))

    def decode_codes(self, codes):
        """Spectrograms from code indices ``[B, h, w]``."""
        return self.decode(self.quantize.lookup(codes))

    def forward(self, x):
        zq, qloss, codes = self.encode(x)
        return self.decode(zq), qloss, codes

    def last_layer(self) -> torch.Tensor:
        return self.decoder.conv_out.weight


class PatchDiscriminator(nn.Module):
    """The PatchGAN discriminator (pix2pix's NLayerDiscriminator): 4x4 convs, ``n_layers`` of them strided,
    BatchNorm, LeakyReLU 0.2; one logit per patch. Weights N(0, 0.02), BatchNorm scales N(1, 0.02)."""

    def __init__(self, in_channels: int = 1, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * mult),
                       nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=False), nn.BatchNorm2d(ndf * mult),
                   nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.main = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.main(x)


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """``(mean relu(1 - D(x)) + mean relu(1 + D(G(z)))) / 2``."""
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def hinge_g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    return -logits_fake.mean()
