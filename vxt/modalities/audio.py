"""Audio classifiers N_audio: PANNs CNN14 (Kong et al., 2020) and a tiny version of it.

CNN14 as in the paper and its reference code: ``bn0`` (BatchNorm2d over the 64
mel bins, applied with mel as the channel axis), six ConvBlocks (two 3x3 convs
without bias, each with BatchNorm and ReLU; channels 64..2048; 2x2 average
pooling after blocks 1-5, 1x1 after block 6; dropout 0.2 after each block in
training), mean over mel, max + mean over time, dropout 0.5, ``fc1`` 2048 +
ReLU (the 2048-d "embedding", our penultimate features), ``fc_audioset``
(527 AudioSet classes, multi-label: sigmoid). In training, SpecAugment as in
PANNs (two time stripes up to 64 frames, two frequency stripes up to 8 bins).

Attribute names equal PANNs', so the official checkpoints (``{"model": sd}``,
with ``spectrogram_extractor.*``/``logmel_extractor.*`` keys that are skipped
here: the log-mel front end is the data layer's) load as they are.

Input: log-mel ``[B, 1, frames, mel_bins]`` (or ``[B, frames, mel_bins]``).
The config records the front end the weights expect (``sample_rate``,
``window_size``, ``hop_size``, ``fmin``, ``fmax``, ``mel_bins``); the
defaults are those of PANNs' 16 kHz CNN14 (``Cnn14_16k``: window 512, hop
160, 50-8000 Hz), since vxt decodes audio at 16 kHz. The 32 kHz CNN14
(window 1024, hop 320, 50-14000 Hz) has the same keys: set those values when
loading it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vxt.errors import VxtError
from vxt.modalities.base import ModalityClassifier, as_tensor as _as_tensor
from vxt.registry import CLASSIFIERS


def _init_layer(layer: nn.Module) -> None:
    """PANNs' init: Xavier-uniform weights, zero bias."""
    nn.init.xavier_uniform_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)


def _init_bn(bn: nn.Module) -> None:
    nn.init.ones_(bn.weight)
    nn.init.zeros_(bn.bias)


class ConvBlock(nn.Module):
    """Two 3x3 convs (no bias), each followed by BatchNorm and ReLU, then average pooling."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        _init_layer(self.conv1)
        _init_layer(self.conv2)
        _init_bn(self.bn1)
        _init_bn(self.bn2)

    def forward(self, x: Tensor, pool_size: tuple[int, int] = (2, 2)) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        if pool_size != (1, 1):
            x = F.avg_pool2d(x, kernel_size=pool_size)
        return x


def _drop_stripes(x: Tensor, dim: int, drop_width: int, stripes_num: int) -> Tensor:
    """Zero ``stripes_num`` random stripes of width < ``drop_width`` along ``dim`` of each example."""
    total = x.shape[dim]
    out = x.clone()
    for n in range(x.shape[0]):
        for _ in range(stripes_num):
            width = int(torch.randint(0, max(1, min(drop_width, total + 1)), (1,)))
            start = int(torch.randint(0, total - width + 1, (1,)))
            out[n].narrow(dim - 1, start, width).zero_()
    return out


class PANNsCNN(ModalityClassifier):
    """PANNs CNN: ``bn0``, ``conv_block1..N``, ``fc1``, ``fc_audioset``; multi-label (sigmoid)."""

    modality = "audio"
    multi_label = True
    head_prefix = "fc_audioset."
    ignore_prefixes = ("spectrogram_extractor.", "logmel_extractor.")

    def __init__(self, labels: list[str], config: dict):
        super().__init__(labels, config)
        self.mel_bins = int(config["mel_bins"])
        channels = [int(c) for c in config["channels"]]
        if not channels:
            raise VxtError(f"the audio classifier {self.name} needs at least one conv block")
        if self.mel_bins % (2 ** (len(channels) - 1)):
            raise VxtError(f"mel_bins={self.mel_bins} cannot be pooled {len(channels) - 1} times by 2")
        self.n_blocks = len(channels)
        self.block_dropout = float(config.get("block_dropout", 0.2))
        self.fc_dropout = float(config.get("dropout", 0.5))
        self.spec_augment = bool(config.get("spec_augment", False))
        emb = int(config.get("embedding_dim") or channels[-1])
        self.bn0 = nn.BatchNorm2d(self.mel_bins)
        cin = 1
        for i, c in enumerate(channels, 1):
            self.add_module(f"conv_block{i}", ConvBlock(cin, c))
            cin = c
        self.fc1 = nn.Linear(cin, emb, bias=True)
        self.fc_audioset = nn.Linear(emb, self.num_classes, bias=True)
        self.feature_dim = emb
        _init_bn(self.bn0)
        _init_layer(self.fc1)
        _init_layer(self.fc_audioset)

    @property
    def min_frames(self) -> int:
        """Fewest frames the pooling stack takes (shorter inputs are padded)."""
        return 2 ** (self.n_blocks - 1)

    def features(self, x: Tensor) -> Tensor:
        """The 2048-d embedding (``relu(fc1(.))``) of log-mel ``[B, 1, frames, mel]``."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[3] != self.mel_bins:
            raise VxtError(
                f"the audio classifier {self.name} expects log-mel [B, 1, frames, {self.mel_bins}], got {list(x.shape)}"
            )
        x = x.transpose(1, 3)  # mel bins as channels for bn0
        x = self.bn0(x)
        x = x.transpose(1, 3)
        if self.training and self.spec_augment:
            x = _drop_stripes(x, dim=2, drop_width=64, stripes_num=2)  # time
            x = _drop_stripes(x, dim=3, drop_width=8, stripes_num=2)  # frequency
        if x.shape[2] < self.min_frames:  # after bn0, 0 is the mean level
            x = F.pad(x, (0, 0, 0, self.min_frames - x.shape[2]))
        for i in range(1, self.n_blocks + 1):
            pool = (2, 2) if i < self.n_blocks else (1, 1)
            x = getattr(self, f"conv_block{i}")(x, pool_size=pool)
            x = F.dropout(x, p=self.block_dropout, training=self.training)
        x = x.mean(dim=3)  # over mel
        x = x.max(dim=2).values + x.mean(dim=2)  # over time
        x = F.dropout(x, p=self.fc_dropout, training=self.training)
        return F.relu(self.fc1(x))

    def classify(self, feats: Tensor) -> Tensor:
        return self.fc_audioset(feats)

    def reset_head(self) -> None:
        self.fc_audioset = nn.Linear(self.feature_dim, self.num_classes, bias=True)
        _init_layer(self.fc_audioset)

    def preprocess(self, array: Any) -> Tensor:
        """Log-mel ``np.float32 [frames, mel_bins]`` -> ``[1, frames, mel_bins]`` (CNN14's channel-first layout)."""
        x = _as_tensor(array)
        if x.dim() == 3 and x.shape[0] == 1:
            x = x[0]
        if x.dim() != 2 or x.shape[1] != self.mel_bins:
            raise VxtError(
                f"audio input must be a log-mel spectrogram [frames, {self.mel_bins}], got shape {list(x.shape)}"
            )
        if not x.is_floating_point():
            raise VxtError(f"a log-mel spectrogram must be float, got {x.dtype}")
        return x.float().unsqueeze(0).contiguous()


_FRONT_END_16K = {"sample_rate": 16000, "window_size": 512, "hop_size": 160, "fmin": 50, "fmax": 8000, "mel_bins": 64}


@CLASSIFIERS.register(
    "cnn14",
    default_config={
        "label_space": "audioset",
        "channels": [64, 128, 256, 512, 1024, 2048],
        "embedding_dim": 2048,
        "block_dropout": 0.2,
        "dropout": 0.5,
        "spec_augment": True,
        **_FRONT_END_16K,
    },
)
def build_cnn14(labels: list[str], config: dict) -> ModalityClassifier:
    """PANNs CNN14 (AudioSet, 527 classes; 80.8M parameters)"""
    return PANNsCNN(labels, config)


@CLASSIFIERS.register(
    "tiny-audio",
    default_config={
        "label_space": "audioset",
        "channels": [8, 16, 32, 32],
        "embedding_dim": 32,
        "block_dropout": 0.2,
        "dropout": 0.5,
        "spec_augment": False,
        **_FRONT_END_16K,
    },
)
def build_tiny_audio(labels: list[str], config: dict) -> ModalityClassifier:
    """a 4-block CNN14 with tiny channels, for CPU tests and the synthetic recipe"""
    return PANNsCNN(labels, config)
