"""SparseSync's network: the two encoders, the selectors and the global transformer.

Video ``[B, 3, T, H, W]`` -> encoder -> tokens ``[B, t, h, w, Cv]`` -> linear
to ``d``; audio ``[B, 1, F, T]`` -> encoder -> tokens ``[B, f, t, Ca]`` (->
linear to ``d`` when ``Ca != d``). Per modality: LayerNorm, learned
positions factorised per axis (:class:`~vxt.nn.positions.FactorisedPositions`),
``n_selectors`` learned queries reading the tokens
(:class:`~vxt.nn.selectors.QuerySelector`). The global transformer runs over
``[OFF, video selectors, MOD, audio selectors]`` (or, with
``selectors=false``, over all the tokens themselves); a linear head on OFF
gives the offset logits.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from vxt.errors import VxtError
from vxt.nn.attention import gpt_init
from vxt.nn.positions import FactorisedPositions
from vxt.nn.selectors import QuerySelector


# ---------------------------------------------------------------- encoders


class TinyVideo(nn.Module):
    """Three Conv3d + ReLU: ``[B, 3, 125, 64, 64]`` -> ``[B, C, 16, 4, 4]`` (time /8, space /16)."""

    def __init__(self, channels: list[int]):
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        self.net = nn.Sequential(
            nn.Conv3d(3, c1, (3, 4, 4), (2, 4, 4), (1, 0, 0)), nn.ReLU(),
            nn.Conv3d(c1, c2, (3, 2, 2), (2, 2, 2), (1, 0, 0)), nn.ReLU(),
            nn.Conv3d(c2, c3, (3, 2, 2), (2, 2, 2), (1, 0, 0)), nn.ReLU(),
        )
        self.out_channels = c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TinyAudio(nn.Module):
    """Conv2d(3, stride 2) + ReLU per channel count: ``[B, 1, 257, 626]`` -> ``[B, C, 9, 20]`` with five."""

    def __init__(self, channels: list[int]):
        super().__init__()
        layers, prev = [], 1
        for c in channels:
            layers += [nn.Conv2d(prev, int(c), 3, 2, 1), nn.ReLU()]
            prev = int(c)
        self.net = nn.Sequential(*layers)
        self.out_channels = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class S3DVideo(nn.Module):
    """torchvision S3D's feature trunk: ``[B, 3, 125, 224, 224]`` -> ``[B, 1024, 16, 7, 7]``."""

    out_channels = 1024

    def __init__(self):
        super().__init__()
        from torchvision.models.video import s3d

        self.features = s3d(weights=None).features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def load_weights(self, path: str | Path) -> int:
        """torchvision's Kinetics-400 S3D state dict (or a vxt ``s3d`` classifier's): its ``features.*``."""
        state = _strip(_read_state(path))
        feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        if not feats:
            raise VxtError("no S3D 'features.*' weights in this file (a torchvision s3d state dict)", path=str(path))
        missing, _ = self.features.load_state_dict(feats, strict=False)
        if missing:
            raise VxtError(f"these S3D weights lack {len(missing)} tensors (first: {missing[0]})", path=str(path))
        return len(feats)


class ResNet18Audio(nn.Module):
    """torchvision ResNet-18 without pooling and head, one input channel: ``[B, 1, 257, 626]`` -> ``[B, 512, 9, 20]``."""

    out_channels = 512

    def __init__(self):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        net.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        self.net = nn.Sequential(*list(net.children())[:-2])
        self._names = [n for n, _ in net.named_children()][:-2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def load_weights(self, path: str | Path) -> int:
        """A torchvision ResNet-18 state dict (ImageNet: ``conv1`` is summed over RGB to one channel)."""
        state = _strip(_read_state(path))
        index = {n: str(i) for i, n in enumerate(self._names)}
        mine = {}
        for k, v in state.items():
            head, _, rest = k.partition(".")
            if head in index:
                if k == "conv1.weight" and v.shape[1] != 1:
                    v = v.sum(dim=1, keepdim=True)
                mine[f"{index[head]}.{rest}"] = v
        if not mine:
            raise VxtError("no ResNet-18 weights in this file (conv1.*, layer1.*, ...)", path=str(path))
        missing, _ = self.net.load_state_dict(mine, strict=False)
        if missing:
            raise VxtError(f"these ResNet-18 weights lack {len(missing)} tensors (first: {missing[0]})", path=str(path))
        return len(mine)


def _read_state(path) -> dict:
    from vxt.modalities.base import read_state_dict

    return read_state_dict(Path(path))


def _strip(state: dict) -> dict:
    out = {}
    for k, v in state.items():
        for pre in ("module.", "net.", "model."):
            if k.startswith(pre):
                k = k[len(pre):]
        out[k] = v
    return out


def build_encoders(cfg: dict) -> tuple[nn.Module, nn.Module]:
    video = S3DVideo() if cfg["video_encoder"] == "s3d" else TinyVideo(cfg["tiny_video_channels"])
    audio = ResNet18Audio() if cfg["audio_encoder"] == "resnet18" else TinyAudio(cfg["tiny_audio_channels"])
    return video, audio


def token_shapes(cfg: dict) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The token grids ``(t, h, w)`` and ``(f, t)`` the encoders make of one input (found on the meta device)."""
    T = int(round(float(cfg["clip_seconds"]) * float(cfg["fps"])))
    N = int(round(float(cfg["clip_seconds"]) * int(cfg["sample_rate"])))
    F, Ta = int(cfg["n_fft"]) // 2 + 1, N // int(cfg["hop"]) + 1
    with torch.device("meta"):
        video, audio = build_encoders(cfg)
        v = video(torch.empty(1, 3, T, int(cfg["crop"]), int(cfg["crop"])))
        a = audio(torch.empty(1, 1, F, Ta))
    return tuple(int(s) for s in v.shape[2:]), tuple(int(s) for s in a.shape[2:])


# ---------------------------------------------------------------- the transformer


class SparseSyncNet(nn.Module):
    """Tokens of both modalities -> offset logits (see the module docstring)."""

    def __init__(self, cfg: dict, video_shape, audio_shape, video_channels: int, audio_channels: int):
        super().__init__()
        d, heads, p = int(cfg["d"]), int(cfg["heads"]), float(cfg["dropout"])
        self.use_selectors = bool(cfg["selectors"])
        self.v_proj = nn.Linear(video_channels, d)
        self.a_proj = nn.Linear(audio_channels, d) if audio_channels != d else nn.Identity()
        self.v_norm, self.a_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        timed = cfg.get("position_init", "random") == "time"  # old checkpoints' configs have no position_init
        secs = float(cfg["clip_seconds"])
        self.v_pos = FactorisedPositions(video_shape, d, time_axis=0 if timed else None, seconds=secs)
        self.a_pos = FactorisedPositions(audio_shape, d, time_axis=1 if timed else None, seconds=secs)
        if self.use_selectors:
            n, L = int(cfg["n_selectors"]), int(cfg["selector_layers"])
            self.v_sel = QuerySelector(n, d, L, heads, p)
            self.a_sel = QuerySelector(n, d, L, heads, p)
        self.off_tok = nn.Parameter(torch.randn(1, 1, d))
        self.mod_tok = nn.Parameter(torch.randn(1, 1, d))
        self.g_v_norm, self.g_a_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(p)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, heads, 4 * d, p, activation="gelu", batch_first=True, norm_first=True)
            for _ in range(int(cfg["layers"])))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, int(cfg["n_classes"]), bias=False)
        for m in (self.v_proj, self.a_proj, self.layers, self.head, self.v_norm, self.a_norm, self.ln_f):
            m.apply(gpt_init)

    def forward(self, video_tokens: torch.Tensor, audio_tokens: torch.Tensor) -> torch.Tensor:
        """``[B, t, h, w, Cv]``, ``[B, f, t, Ca]`` -> logits ``[B, n_classes]``."""
        B = video_tokens.shape[0]
        v = self.v_pos(self.v_norm(self.v_proj(video_tokens))).flatten(1, -2)
        a = self.a_pos(self.a_norm(self.a_proj(audio_tokens))).flatten(1, -2)
        if self.use_selectors:
            v, a = self.v_sel(v), self.a_sel(a)
        x = torch.cat([self.off_tok.expand(B, -1, -1).to(v.dtype), self.g_v_norm(v),
                       self.mod_tok.expand(B, -1, -1).to(v.dtype), self.g_a_norm(a)], dim=1)
        x = self.drop(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.ln_f(x[:, 0]))
