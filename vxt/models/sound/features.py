"""The sampler's visual conditioning: per-frame ResNet features at 21.5 fps, cropped and resampled as SpecVQGAN.

Two sources (``config["features"]``):

* ``{"source": "files", "dir": DIR}``: one ``[T, d]`` float array per clip
  (``vxt train/decode --features DIR``), read from SpecVQGAN's own folders as
  they are: ``feature_resnet50_dim2048_21.5fps`` (215 x 2048 for 10 s), named
  by the clip's file name (``<clip>.pkl``, a pickled array, as SpecVQGAN
  writes them, or ``<clip>.npy``) or by vxt's example id (``<id>.npy``), in DIR
  or in ``DIR/<class label>/``; DIR may name the class folder ``*`` as
  SpecVQGAN's configs do, or ``{label}`` (VAS:
  ``features/*/feature_resnet50_dim2048_21.5fps``). Several folders
  joined by ``:`` (``--features RGB:FLOW``, SpecVQGAN's BN-Inception RGB and
  flow) give each frame their features concatenated, cut to the shortest;
* ``{"source": "resnet", "arch": "resnet50", "weights": FILE or None,
  "size": 224}``: extracted here from the video, 215 frames at 21.5 fps over
  the first 10 s (shorter side scaled to ``size``, centre crop, ImageNet
  normalisation), each frame's pooled ``layer4`` output (2,048-d for
  ResNet-50). ImageNet weights come from a local torchvision checkpoint;
  without one the backbone is at random init and says so once.

Then, as SpecVQGAN's data pipeline: zero-padded or trimmed to 215 rows, the
centre 212 kept (``feat_crop_len``), and :func:`resample_frames` to
``n_feats`` rows (1, 5 or 212: evenly spaced, shifted to the middle of their
stretch).
"""

from __future__ import annotations

import itertools
import os
import pickle
from pathlib import Path

import numpy as np

from vxt.errors import DataError, VxtError

FPS = 21.5
FEAT_LEN, FEAT_CROP = 215, 212
FEATURE_SUFFIXES = (".npy", ".pkl")

#: what a features pickle may hold: numpy arrays (and their dtypes), nothing that runs code
_ARRAY_PICKLE = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")}
_ARRAY_PICKLE |= {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
                  ("numpy._core.numeric", "_frombuffer")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ARRAY_PICKLE:
            raise pickle.UnpicklingError(f"it holds {module}.{name}, not a numpy array")
        return super().find_class(module, name)


def load_feature_file(path: str | Path) -> np.ndarray:
    """One clip's ``[T, d]`` features from a ``.npy`` file or a ``.pkl`` of a numpy array (SpecVQGAN's files; the
    pickle may hold arrays only: anything else is refused unread); a damaged file is a one-line error."""
    f = Path(path)
    try:
        if f.suffix == ".pkl":
            with open(f, "rb") as fh:
                arr = _ArrayUnpickler(fh).load()
        else:
            arr = np.load(f, allow_pickle=False)
    except pickle.UnpicklingError as e:
        raise DataError(f"cannot read the visual features ({e})", path=str(f)) from None
    except Exception as e:  # noqa: BLE001 - a damaged file (any error numpy or pickle raises): one line
        raise DataError(f"cannot read the visual features ({type(e).__name__}: {e})", path=str(f)) from None
    arr = np.asarray(arr)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"visual features must be a [frames, dim] number array, got {arr.dtype} {list(arr.shape)}",
                        path=str(f))
    return arr.astype(np.float32, copy=False)


def resolve_feature_dirs(spec: str | Path) -> str:
    """A ``--features`` value (``A`` or ``A:B``) with each folder checked and made absolute, as a config keeps it;
    a missing folder is a one-line error. ``{label}`` stands for a whole folder name (``DIR/{label}/...``); such a
    folder is checked up to it."""
    out = []
    for d in (x for x in str(spec).split(os.pathsep) if x):
        # SpecVQGAN's configs write the class folder as a glob (features/*/feature_resnet50_dim2048_21.5fps)
        d = "/".join("{label}" if part == "*" else part for part in d.split("/"))
        head, sep, rest = d.partition("{label}")
        if sep and head and not head.endswith("/"):
            raise DataError("{label} in --features must be a whole folder name (DIR/{label}/...)", path=d)
        if not Path(head or ".").is_dir():
            raise DataError("no such features folder", path=head if sep else d)
        out.append(str(Path(head or ".").resolve()) + ("/{label}" + rest if sep else ""))
    if not out:
        raise DataError("--features names no folder", path=str(spec))
    return os.pathsep.join(out)


def find_feature_file(folder: str, example: dict) -> Path | None:
    """The file of ``example`` in one features folder (see the module docstring for the names tried)."""
    label = example.get("label")
    if "{label}" in folder:
        if not label:
            return None
        bases = [Path(folder.replace("{label}", str(label)))]
    else:
        bases = [Path(folder)] + ([Path(folder) / str(label)] if label else [])
    names = [str(example.get("id"))]
    if example.get("video"):
        names.append(Path(str(example["video"])).stem)
    found = (b / f"{n}{x}" for b, n, x in itertools.product(bases, names, FEATURE_SUFFIXES))
    return next((f for f in found if f.is_file()), None)


def resample_frames(feats: np.ndarray, n: int) -> np.ndarray:
    """SpecVQGAN's ResampleFrames: ``n`` evenly spaced rows, each shifted by ``len // (n + 1)``."""
    L = len(feats)
    if L < n:
        raise ValueError(f"cannot resample {L} feature rows to {n}")
    idx = np.linspace(0, L, n, dtype=np.int32, endpoint=False) + L // (n + 1)
    return feats[idx]


def prepare_rows(feats: np.ndarray, n: int) -> np.ndarray:
    """Pad/trim to 215 rows, keep the centre 212, resample to ``n`` (float32 ``[n, d]``)."""
    f = np.asarray(feats, dtype=np.float32)
    if f.ndim != 2:
        raise ValueError(f"visual features must be [T, d], got shape {f.shape}")
    out = np.zeros((FEAT_LEN, f.shape[1]), dtype=np.float32)
    out[: min(len(f), FEAT_LEN)] = f[:FEAT_LEN]
    o = (FEAT_LEN - FEAT_CROP) // 2
    return resample_frames(out[o : o + FEAT_CROP], int(n))


class VisualFeatures:
    """Per-example visual features as the config says (see the module docstring), kept in memory."""

    def __init__(self, config: dict):
        self.config = dict(config)
        self._cache: dict[str, np.ndarray] = {}
        self._net = None

    def dim(self, example: dict | None = None, path: Path | None = None) -> int:
        if self.config["source"] == "files":
            if example is None:
                raise VxtError("the feature size of a features folder is read from an example's file")
            return int(self.raw(example, path).shape[1])
        return {"resnet18": 512, "resnet34": 512}.get(self.config.get("arch", "resnet50"), 2048)

    def raw(self, example: dict, path: Path | None = None) -> np.ndarray:
        key = str(example.get("id"))
        if key not in self._cache:
            if self.config["source"] == "files":
                self._cache[key] = self._from_files(example)
            else:
                if path is None:
                    raise DataError("no video to extract visual features from", example_id=example.get("id"))
                self._cache[key] = self._extract(path, float(example.get("start") or 0.0))
        return self._cache[key]

    def _from_files(self, example: dict) -> np.ndarray:
        parts = []
        for folder in str(self.config["dir"]).split(os.pathsep):
            f = find_feature_file(folder, example)
            if f is None:
                stem = Path(str(example.get("video") or "")).stem or example.get("id")
                raise DataError(f"no visual features for this example in the --features folder (looked for "
                                f"{stem}.pkl / .npy and {example.get('id')}.npy, also under its label's folder)",
                                path=folder, example_id=example.get("id"))
            parts.append(load_feature_file(f))
        if len(parts) == 1:
            return parts[0]
        n = min(len(p) for p in parts)
        return np.concatenate([p[:n] for p in parts], axis=1)

    def rows(self, example: dict, n: int, path: Path | None = None) -> np.ndarray:
        return prepare_rows(self.raw(example, path), n)

    def _backbone(self):
        if self._net is None:
            import torch
            import torchvision.models as tvm

            from vxt.utils import say_once

            arch = self.config.get("arch", "resnet50")
            net = getattr(tvm, arch)(weights=None)
            w = self.config.get("weights")
            if w:
                try:
                    state = torch.load(w, map_location="cpu", weights_only=True)
                except Exception as e:  # noqa: BLE001 - a damaged or pickled file: one line
                    raise VxtError(f"cannot read the {arch} weights ({type(e).__name__})", path=str(w)) from None
                missing, unexpected = net.load_state_dict(state, strict=False)
                if missing:
                    raise VxtError(f"the {arch} weights do not fit (missing {missing[:3]})", path=str(w))
            else:
                say_once(f"the visual features come from a random-init {arch} (no ImageNet weights given: "
                         "--set visual_weights=FILE); use SpecVQGAN's own features with --features DIR")
            net.fc = torch.nn.Identity()
            self._net = net.eval()
        return self._net

    def _extract(self, path: Path, start: float) -> np.ndarray:
        import torch

        from vxt.data.media import read_clips

        size = int(self.config.get("size", 224))
        frames = read_clips(path, 1, FEAT_LEN, size, start=start, end=start + FEAT_LEN / FPS, fps=FPS)[0]
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
        mean = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
        std = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]
        net = self._backbone()
        out = []
        with torch.no_grad():
            for i in range(0, len(x), 32):
                out.append(net((x[i : i + 32] - mean) / std))
        return torch.cat(out).numpy().astype(np.float32)


def write_feature_files(data_dir: str | Path, out_dir: str | Path, config: dict | None = None,
                        splits: tuple[str, ...] = ("train", "val", "test"), seed: int = 0) -> dict:
    """Extract the raw visual features of every ``--task sound`` example of ``splits`` once, into
    ``out_dir/<example id>.npy`` (the ``--features DIR`` layout), so that several sampler runs share them.

    ``config``: the backbone (``{"arch", "size", "weights"}``; default ResNet-50 at 224 px; without
    ``weights`` at random init, drawn from ``seed``, so a rerun writes the same features). Files already there
    are kept. Returns ``{"written", "kept", "dim", "config"}``.
    """
    import torch

    from vxt.data.loader import task_examples
    from vxt.data.manifest import resolve_media
    from vxt.utils import atomic_open

    cfg = {"source": "resnet", "arch": "resnet50", "size": 224, "weights": None, **(config or {})}
    vf = VisualFeatures(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        vf._backbone()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = kept = 0
    dim = None
    for split in splits:
        if not (Path(data_dir) / f"{split}.jsonl").is_file():
            continue
        for ex in task_examples(data_dir, split, "sound"):
            f = out / f"{ex['id']}.npy"
            if f.is_file():
                kept += 1
                continue
            rel = ex.get("video")
            if not rel:
                raise DataError("no video to extract visual features from", example_id=ex.get("id"))
            feats = vf.raw(ex, resolve_media(data_dir, rel))
            with atomic_open(f, "wb", encoding=None) as fh:
                np.save(fh, np.ascontiguousarray(feats, dtype=np.float32), allow_pickle=False)
            vf._cache.clear()  # one clip at a time in memory
            written += 1
            dim = int(feats.shape[1])
    return {"written": written, "kept": kept, "dim": dim if dim is not None else vf.dim(), "config": cfg}
