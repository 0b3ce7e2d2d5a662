"""The unimodal encoders: Video Swin on frames, a transformer on log-mel frames, a transformer on subtitles.

Each returns tokens of the model width ``D`` and their mask (True = valid)::

    VideoEncoder  [B, 3, T, H, W]            -> [B, T/2 * H/32 * W/32, D]   (16 x 224 px: 8 x 7 x 7 = 392)
    AudioEncoder  [B, F, mels], mask [B, F]  -> [B, F / pool, D]           (256 frames -> 64 tokens)
    TextEncoder   ids [B, L], mask [B, L]    -> [B, L, D]
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from vxt.errors import VxtError
from vxt.models.avcap.config import SWIN_WIDTHS
from vxt.nn.attention import EncoderLayer


def _swin(vcfg: dict) -> tuple[nn.Module, int]:
    """torchvision's Video Swin (random init) and its output width."""
    backbone = vcfg["backbone"]
    if backbone in SWIN_WIDTHS:
        from torchvision.models import video as tvv

        return getattr(tvv, backbone)(weights=None), SWIN_WIDTHS[backbone]
    from torchvision.models.video.swin_transformer import SwinTransformer3d

    depths = [int(x) for x in vcfg["depths"]]
    net = SwinTransformer3d(patch_size=[int(x) for x in vcfg["patch"]], embed_dim=int(vcfg["embed_dim"]),
                            depths=depths, num_heads=[int(x) for x in vcfg["heads"]],
                            window_size=[int(x) for x in vcfg["window"]], stochastic_depth_prob=0.0, num_classes=1)
    return net, int(vcfg["embed_dim"]) * 2 ** (len(depths) - 1)


class VideoEncoder(nn.Module):
    """Video Swin Transformer's last-stage tokens (after its final LayerNorm), then a linear layer to ``D``."""

    def __init__(self, vcfg: dict, d_model: int):
        super().__init__()
        self.backbone, self.width = _swin(vcfg)
        self.backbone.head = nn.Identity()  # the Kinetics classifier is not used (nor stored)
        self.proj = nn.Linear(self.width, d_model)

    def load_backbone(self, path: str | Path) -> None:
        """Kinetics weights from a local file in torchvision's key layout (the classifier head is dropped)."""
        from vxt.modalities.base import read_state_dict

        state = read_state_dict(Path(path))
        state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
        missing, unexpected = self.backbone.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise VxtError(f"these are not Video Swin weights for this backbone (missing {missing[:3]}, unexpected "
                           f"{unexpected[:3]})", path=str(path))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.backbone
        h = n.norm(n.features(n.pos_drop(n.patch_embed(x))))  # [B, T', H', W', C]
        return self.proj(h.flatten(1, 3))


class AudioEncoder(nn.Module):
    """A transformer over log-mel frames (each frame a token), then average pooling over time by ``pool``.

    Padded frames are masked in attention and left out of the pooling; a
    pooled token with no valid frame is masked (a missing audio stream is a
    fully masked stream).
    """

    def __init__(self, acfg: dict, d_model: int, dropout: float):
        super().__init__()
        self.pool = int(acfg["pool"])
        self.inp = nn.Linear(int(acfg["n_mels"]), d_model)
        self.pos = nn.Parameter(torch.randn(int(acfg["max_frames"]), d_model) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer(d_model, int(acfg["heads"]), int(acfg["d_ff"]), dropout)
                                    for _ in range(int(acfg["layers"])))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, mel: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, F, _ = mel.shape
        if F > self.pos.shape[0] or F % self.pool:
            raise VxtError(f"the audio encoder takes at most {self.pos.shape[0]} frames, a multiple of {self.pool}; "
                           f"got {F}")
        mask = mask.bool()
        x = self.inp(mel) + self.pos[:F]
        for layer in self.layers:
            x = layer(x, mask)
        x = self.norm(x)
        m = mask.to(x.dtype)
        summed = (x * m.unsqueeze(-1)).view(B, F // self.pool, self.pool, -1).sum(2)
        count = m.view(B, F // self.pool, self.pool).sum(2)
        return summed / count.clamp(min=1).unsqueeze(-1), count > 0


class TextEncoder(nn.Module):
    """The subtitles (speech transcript) through a transformer: word embeddings, learned positions, layers."""

    def __init__(self, tcfg: dict, vocab_size: int, d_model: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.pos = nn.Parameter(torch.randn(int(tcfg["max_tokens"]), d_model) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer(d_model, int(tcfg["heads"]), int(tcfg["d_ff"]), dropout)
                                    for _ in range(int(tcfg["layers"])))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = mask.bool()
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x), mask
