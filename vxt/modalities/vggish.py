"""VGGish (Hershey et al., 2017) as an audio classifier: 128-d embeddings of 0.96 s log-mel patches.

torchaudio 2.11 ships no VGGish (its ``prototype`` pipelines are gone), so
this is the network of the released weights in the PyTorch port's key layout
(harritaylor/torchvggish ``vggish-10086976.pth``): ``features.{0,3,6,8,11,13}``
(3x3 convolutions 64-128-256-256-512-512 with 2x2 max pools) and
``embeddings.{0,2,4}`` (4096-4096-128, each followed by ReLU). The
checkpoint has no classification head, so loading it keeps a fresh ``fc``
(the feature store uses the embeddings only); its PCA post-processing
(``pproc.*``) is not applied and is skipped on load.

Input: a log-mel patch ``[B, 1, frames, 64]`` in vxt's front end
(:func:`vxt.data.media.log_mel`: dB of the power mel spectrogram, 50-8000 Hz);
it is turned into VGGish's ``log(magnitude + 0.01)`` scale and cropped or
padded to 96 frames. The mel filters differ from VGGish's own (125-7500 Hz,
HTK): with the released weights the embeddings are close to, not equal to,
the TensorFlow model's.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vxt.errors import VxtError
from vxt.modalities.base import ModalityClassifier, as_tensor
from vxt.registry import CLASSIFIERS


class VGGish(ModalityClassifier):
    """VGGish embeddings (128-d) + a linear head (multi-label, as audio events are)."""

    modality = "audio"
    multi_label = True
    head_prefix = "fc."
    ckpt_prefix = "net."  # the network lives under ``net`` (checkpoint keys: features.*, embeddings.*)
    ignore_prefixes = ("pproc.",)

    def __init__(self, labels: list[str], config: dict):
        super().__init__(labels, config)
        self.mel_bins, self.patch = int(config["mel_bins"]), int(config["patch_frames"])

        def conv(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]

        pool = [nn.MaxPool2d(2, 2)]
        self.net = nn.Module()
        self.net.features = nn.Sequential(*conv(1, 64), *pool, *conv(64, 128), *pool, *conv(128, 256), *conv(256, 256),
                                      *pool, *conv(256, 512), *conv(512, 512), *pool)
        flat = 512 * (self.patch // 16) * (self.mel_bins // 16)
        self.net.embeddings = nn.Sequential(nn.Linear(flat, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 4096),
                                        nn.ReLU(inplace=True), nn.Linear(4096, 128), nn.ReLU(inplace=True))
        self.feature_dim = 128
        self.reset_head()

    def features_of(self, x: Tensor) -> Tensor:
        """The network on VGGish-scaled patches ``[B, 1, 96, 64]``."""
        x = self.net.features(x)
        x = x.permute(0, 2, 3, 1).flatten(1)  # channels last, as the TensorFlow model flattens
        return self.net.embeddings(x)

    def features(self, x: Tensor) -> Tensor:
        """128-d embeddings of vxt log-mel patches ``[B, 1, frames, mel]`` (see the module docstring)."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[3] != self.mel_bins:
            raise VxtError(f"VGGish expects log-mel [B, 1, frames, {self.mel_bins}], got {list(x.shape)}")
        x = torch.log(torch.pow(10.0, x.float() / 20.0) + 0.01)  # dB of power -> log(magnitude + 0.01)
        if x.shape[2] < self.patch:
            x = F.pad(x, (0, 0, 0, self.patch - x.shape[2]), value=float(torch.log(torch.tensor(0.01))))
        return self.features_of(x[:, :, : self.patch])

    def classify(self, feats: Tensor) -> Tensor:
        return self.fc(feats)

    def reset_head(self) -> None:
        self.fc = nn.Linear(self.feature_dim, self.num_classes)

    def preprocess(self, array: Any) -> Tensor:
        """Log-mel ``[frames, mel_bins]`` -> ``[1, frames, mel_bins]``."""
        x = as_tensor(array)
        if x.dim() != 2 or x.shape[1] != self.mel_bins or not x.is_floating_point():
            raise VxtError(f"audio input must be a float log-mel spectrogram [frames, {self.mel_bins}], "
                           f"got {list(x.shape)} ({x.dtype})")
        return x.float().unsqueeze(0).contiguous()


@CLASSIFIERS.register("vggish", default_config={"label_space": "audioset", "mel_bins": 64, "patch_frames": 96})
def build_vggish(labels: list[str], config: dict) -> ModalityClassifier:
    """VGGish (128-d embeddings of 0.96 s patches; the released weights in torchvggish's layout)"""
    return VGGish(labels, config)
