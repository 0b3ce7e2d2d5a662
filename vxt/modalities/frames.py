"""Per-frame image backbones as video classifiers: torchvision's ImageNet ResNets applied to every frame.

Registry entries (``vxt.registry.CLASSIFIERS``): ``resnet101`` (TAVT's frame
features, 2048-d), ``resnet50``, ``resnet18``. Built with ``weights=None``
(torchvision's download enums are never used); a local torchvision ImageNet
checkpoint (``resnet101-*.pth``, keys ``conv1.*``, ``layer1.*``, ..., ``fc.*``)
loads as it is (``--video-weights`` / ``feature_settings.video_weights``).

Input as every video classifier: ``[B, 3, T, H, W]``; the features are each
frame's global-average-pooled ``layer4`` output, averaged over the T frames
(with ``frames=1`` in the feature store: one row per frame). Pixels are
normalised with ImageNet's mean/std.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from vxt.modalities.video import VideoClassifier
from vxt.registry import CLASSIFIERS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FrameResNetClassifier(VideoClassifier):
    """A torchvision ImageNet ResNet on each frame (wrapped under ``net``; checkpoint keys are torchvision's)."""

    head_prefix = "fc."
    ckpt_prefix = "net."

    def __init__(self, labels: list[str], config: dict, arch: str):
        super().__init__(labels, config)
        import torchvision.models as tvm

        self.net = getattr(tvm, arch)(weights=None, num_classes=len(self.labels))
        self.feature_dim = int(self.net.fc.in_features)

    def _clip_features(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        n = self.net
        y = x.transpose(1, 2).reshape(b * t, c, h, w)
        y = n.maxpool(n.relu(n.bn1(n.conv1(y))))
        y = n.layer4(n.layer3(n.layer2(n.layer1(y))))
        return n.avgpool(y).flatten(1).view(b, t, -1).mean(1)

    def classify(self, feats: Tensor) -> Tensor:
        return self.net.fc(feats)

    def reset_head(self) -> None:
        self.net.fc = nn.Linear(self.feature_dim, self.num_classes)

    def preprocess(self, array: Any) -> Tensor:
        """Frames as :meth:`VideoClassifier.preprocess` takes them, normalised with ImageNet's mean/std."""
        from vxt.modalities.video import KINETICS_MEAN, KINETICS_STD

        x = super().preprocess(array)  # [.., 3, T, H, W], Kinetics-normalised
        shape = (3, 1, 1, 1)
        kin_m, kin_s = torch.tensor(KINETICS_MEAN).view(shape), torch.tensor(KINETICS_STD).view(shape)
        img_m, img_s = torch.tensor(IMAGENET_MEAN).view(shape), torch.tensor(IMAGENET_STD).view(shape)
        return ((x * kin_s + kin_m - img_m) / img_s).contiguous()


for _arch, _dim in (("resnet101", 2048), ("resnet50", 2048), ("resnet18", 512)):

    def _build(labels: list[str], config: dict, _a: str = _arch) -> FrameResNetClassifier:
        return FrameResNetClassifier(labels, config, _a)

    _build.__doc__ = f"torchvision {_arch} on each frame (ImageNet layout; {_dim}-d features per frame)"
    # no built-in ImageNet label space: give labels (or num_classes); the feature store uses the features only
    CLASSIFIERS.register(_arch, default_config={"label_space": None, "frames": 1, "size": 224})(_build)
