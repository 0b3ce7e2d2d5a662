"""Video classifiers N_video: torchvision's video networks, R(2+1)D-34, and a tiny 3-D CNN.

Registry entries (``vxt.registry.CLASSIFIERS``), all on Kinetics-400 by default:

- ``r2plus1d_18``, ``r3d_18``, ``mc3_18``, ``s3d``: ``torchvision.models.video``
  built at random init (torchvision's ``weights=`` enums are never used: they
  download). Local torchvision checkpoints load as they are.
- ``r2plus1d_34``: R(2+1)D-34 built like torchvision's VideoResNet (BasicBlock
  with Conv2Plus1D, layers [3, 4, 6, 3], R2Plus1dStem), BatchNorm eps 1e-3,
  the architecture VX2TEXT uses (32-frame Kinetics-finetuned R(2+1)D-34 of the
  VMZ / IG65M line); those checkpoints converted to torchvision key layout
  (``stem.*``, ``layer1.*``, ..., ``fc.*``) load directly.
- ``tiny-video``: a 4-block 3-D CNN (channels <= 32) for CPU tests and the
  synthetic recipe.

Input: float ``[B, 3, T, H, W]`` normalised with torchvision's Kinetics
mean/std (see :meth:`VideoClassifier.preprocess`), or ``[B, N, 3, T, H, W]``
for N clips per example, whose features (hence logits, the head being
linear) are averaged over the clips.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from vxt.errors import VxtError
from vxt.modalities.base import ModalityClassifier, as_tensor as _as_tensor
from vxt.registry import CLASSIFIERS

#: the Kinetics mean/std torchvision's video models are trained with (RGB, on [0, 1] pixels)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


class VideoClassifier(ModalityClassifier):
    """Single-label (softmax) video classifier on ``[B, 3, T, H, W]`` clips."""

    modality = "video"
    multi_label = False

    def _clip_features(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features ``[B, feature_dim]`` of ``[B, 3, T, H, W]`` (or ``[B, N, 3, T, H, W]``: clip mean)."""
        if x.dim() == 6:
            b, n = x.shape[:2]
            return self._clip_features(x.flatten(0, 1)).view(b, n, -1).mean(1)
        if x.dim() != 5 or x.shape[1] != 3:
            raise VxtError(
                f"the video classifier {self.name} expects [B, 3, T, H, W] (or [B, N, 3, T, H, W]) input, "
                f"got {list(x.shape)}"
            )
        return self._clip_features(x)

    def preprocess(self, array: Any) -> Tensor:
        """RGB frames -> normalised model input.

        ``np.uint8 [T, H, W, 3]`` -> float ``[3, T, H, W]``; ``[N, T, H, W, 3]``
        (N clips) -> ``[N, 3, T, H, W]``. Pixels are scaled to [0, 1] (float
        input is taken as already in [0, 1]) and normalised with the Kinetics
        mean/std. Resizing and cropping are the data layer's (``config["size"]``
        says what the network was trained at).
        """
        x = _as_tensor(array)
        if x.dim() not in (4, 5) or x.shape[-1] != 3:
            raise VxtError(
                f"video input must be uint8 frames [T, H, W, 3] (or [N, T, H, W, 3]), "
                f"got shape {list(x.shape)} ({x.dtype})"
            )
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        elif x.is_floating_point():
            x = x.float()
        else:
            raise VxtError(f"video frames must be uint8 (or float in [0, 1]), got {x.dtype}")
        mean = torch.tensor(KINETICS_MEAN, dtype=x.dtype)
        std = torch.tensor(KINETICS_STD, dtype=x.dtype)
        x = (x - mean) / std
        # [..., T, H, W, 3] -> [..., 3, T, H, W]
        return x.movedim(-1, -4).contiguous()


def _set_bn(module: nn.Module, eps: float) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eps = float(eps)


class VideoResNetClassifier(VideoClassifier):
    """torchvision VideoResNet (R(2+1)D / R3D / MC3), wrapped under ``net``; checkpoint keys are torchvision's."""

    head_prefix = "fc."
    ckpt_prefix = "net."

    def __init__(self, labels: list[str], config: dict, make: Callable[[int], nn.Module]):
        super().__init__(labels, config)
        self.net = make(len(self.labels))
        _set_bn(self.net, config.get("bn_eps", 1e-5))
        self.feature_dim = int(self.net.fc.in_features)
        self.dropout = nn.Dropout(float(config.get("dropout", 0.0)))

    def _clip_features(self, x: Tensor) -> Tensor:
        net = self.net
        x = net.stem(x)
        x = net.layer1(x)
        x = net.layer2(x)
        x = net.layer3(x)
        x = net.layer4(x)
        return net.avgpool(x).flatten(1)

    def classify(self, feats: Tensor) -> Tensor:
        return self.net.fc(self.dropout(feats))

    def reset_head(self) -> None:
        fc = nn.Linear(self.feature_dim, self.num_classes)
        nn.init.normal_(fc.weight, 0, 0.01)  # torchvision's VideoResNet init
        nn.init.zeros_(fc.bias)
        self.net.fc = fc


class S3DClassifier(VideoClassifier):
    """torchvision S3D, wrapped under ``net``; head ``classifier.1`` (a 1x1x1 conv).

    torchvision pools with a fixed (2, 7, 7) window (stride 1) and then
    averages the head's output over positions; this is the same as averaging
    the pooled features and applying the (linear) head, which is what
    ``features``/``classify`` do. Inputs too small for that window (under
    16 x 224 x 224) are pooled globally instead.
    """

    head_prefix = "classifier.1."
    ckpt_prefix = "net."

    def __init__(self, labels: list[str], config: dict):
        super().__init__(labels, config)
        from torchvision.models.video import s3d

        self.net = s3d(weights=None, num_classes=len(self.labels), dropout=float(config.get("dropout", 0.2)))
        self.feature_dim = 1024

    def _clip_features(self, x: Tensor) -> Tensor:
        f = self.net.features(x)
        kt, kh, kw = self.net.avgpool.kernel_size
        if f.shape[2] >= kt and f.shape[3] >= kh and f.shape[4] >= kw:
            f = self.net.avgpool(f)
        return f.mean(dim=(2, 3, 4))

    def classify(self, feats: Tensor) -> Tensor:
        return self.net.classifier(feats[:, :, None, None, None]).flatten(1)

    def reset_head(self) -> None:
        self.net.classifier[1] = nn.Conv3d(self.feature_dim, self.num_classes, kernel_size=1, stride=1, bias=True)


class TinyVideoClassifier(VideoClassifier):
    """A small 3-D CNN: ``len(channels)`` blocks of Conv3d 3x3x3 + BN + ReLU, global average pool, fc.

    The first block halves H and W, the others halve T, H and W, so an
    8 x 64 x 64 clip ends at 1 x 4 x 4 before pooling.
    """

    head_prefix = "fc."

    def __init__(self, labels: list[str], config: dict):
        super().__init__(labels, config)
        channels = [int(c) for c in config["channels"]]
        blocks = []
        cin = 3
        for i, c in enumerate(channels):
            stride = (1, 2, 2) if i == 0 else (2, 2, 2)
            blocks.append(
                nn.Sequential(
                    nn.Conv3d(cin, c, kernel_size=3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm3d(c),
                    nn.ReLU(inplace=True),
                )
            )
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = cin
        self.dropout = nn.Dropout(float(config.get("dropout", 0.0)))
        self.fc = nn.Linear(cin, self.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        self.reset_head()

    def _clip_features(self, x: Tensor) -> Tensor:
        return self.blocks(x).mean(dim=(2, 3, 4))

    def classify(self, feats: Tensor) -> Tensor:
        return self.fc(self.dropout(feats))

    def reset_head(self) -> None:
        self.fc = nn.Linear(self.feature_dim, self.num_classes)
        nn.init.normal_(self.fc.weight, 0, 0.01)
        nn.init.zeros_(self.fc.bias)


# ---------------------------------------------------------------- registry entries


def _r2plus1d_34(num_classes: int) -> nn.Module:
    from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, R2Plus1dStem, VideoResNet

    return VideoResNet(BasicBlock, [Conv2Plus1D] * 4, [3, 4, 6, 3], R2Plus1dStem, num_classes=num_classes)


def _torchvision(fn_name: str) -> Callable[[int], nn.Module]:
    def make(num_classes: int) -> nn.Module:
        import torchvision.models.video as tvv

        # weights=None: never the download enums
        return getattr(tvv, fn_name)(weights=None, num_classes=num_classes)

    return make


_RESNET_DEFAULTS = {"label_space": "kinetics400", "bn_eps": 1e-5, "dropout": 0.0, "frames": 16, "size": 112}

for _name in ("r2plus1d_18", "r3d_18", "mc3_18"):

    def _build(labels: list[str], config: dict, _fn: str = _name) -> ModalityClassifier:
        return VideoResNetClassifier(labels, config, _torchvision(_fn))

    _build.__doc__ = f"torchvision {_name} (Kinetics-400 layout, 16 x 112 x 112 clips)"
    CLASSIFIERS.register(_name, default_config=dict(_RESNET_DEFAULTS))(_build)


@CLASSIFIERS.register(
    "r2plus1d_34",
    default_config={"label_space": "kinetics400", "bn_eps": 1e-3, "dropout": 0.0, "frames": 32, "size": 112},
)
def build_r2plus1d_34(labels: list[str], config: dict) -> ModalityClassifier:
    """R(2+1)D-34 in torchvision layout (VX2TEXT's video classifier; 32 x 112 x 112 clips)"""
    return VideoResNetClassifier(labels, config, _r2plus1d_34)


@CLASSIFIERS.register("s3d", default_config={"label_space": "kinetics400", "dropout": 0.2, "frames": 16, "size": 224})
def build_s3d(labels: list[str], config: dict) -> ModalityClassifier:
    """torchvision S3D (224 x 224 clips)"""
    return S3DClassifier(labels, config)


@CLASSIFIERS.register(
    "tiny-video",
    default_config={"label_space": "kinetics400", "channels": [16, 32, 32, 32], "dropout": 0.0, "frames": 8, "size": 64},
)
def build_tiny_video(labels: list[str], config: dict) -> ModalityClassifier:
    """a tiny 3-D CNN for CPU tests and the synthetic recipe (8 x 64 x 64 clips)"""
    return TinyVideoClassifier(labels, config)
