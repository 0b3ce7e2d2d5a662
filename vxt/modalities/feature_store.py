"""Feature streams of whole videos for the dense captioners (BMT, MDVC): extracted once, read many times.

A dense captioner sees a video as two time series: a visual stream ``[T_v, D_v]``
(one row per stack of frames) and an audio stream ``[T_a, D_a]`` (one row per
0.96 s of audio), each with its time step in seconds. :class:`FeatureStore`
gives them per manifest example, from one of two sources:

``backbone`` (from raw media, through vxt's own modality classifiers)
    the penultimate features (``clf.features(x)``) of the video classifier for
    each stack of ``frames`` frames at ``fps`` (``ceil(duration / step)``
    stacks spread uniformly over the video, read with
    :func:`vxt.data.media.read_clips`), and the embedding of the audio
    classifier (CNN14's ``relu(fc1)``) for each 0.96 s of log-mel. A
    classifier without local weights is built at random init from a fixed
    seed (``seed``), so the same settings always give the same features.
    With a data dir, the streams are cached in BMT's layout::

        DATA/features/<settings key>/<name>_video.npy     [T_v, D_v] float32
        DATA/features/<settings key>/<name>_vggish.npy    [T_a, D_a] float32 (absent: no audio)
        DATA/features/<settings key>/<name>.json          steps, duration, what is missing (written last)

    (``<name>`` is the media file's stem), each file written atomically, so a
    killed run leaves no half file and a rerun extracts only what is missing.
    Changing any setting (classifier, weights file, frames, step, size, fps)
    changes the key, hence the folder.

``files`` (pre-extracted)
    ``<name>_rgb.npy`` + ``<name>_flow.npy`` (I3D; summed or concatenated,
    ``combine``) and ``<name>_vggish.npy`` (VGGish) in a folder, as BMT ships
    them (:func:`vxt.data.features.load_bmt_features`); a folder in the
    ``backbone`` cache layout above (``<name>_video.npy``) is read too.

A missing audio stream (the example lists it as missing, the file has none,
or no VGGish file exists) is ``None``: the models treat it as a masked stream.

``norm`` (optional): per-dimension mean and std of each stream (from the
training videos, :func:`feature_stats`); :meth:`FeatureStore.get` then
returns standardised streams. Random-init backbone features vary by a few
hundredths, far below the sinusoidal positions the captioners add to them;
standardising makes their content visible. The files on disk stay raw.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from vxt.data.features import example_duration
from vxt.errors import DataError, MediaError, VxtError

#: bump when the stored content changes meaning (it is part of every key)
FEATURE_FORMAT = 1
SOURCES = ("backbone", "files")


@dataclass(frozen=True)
class BackboneSettings:
    """How streams are extracted from raw media (see the module docstring)."""

    video_classifier: str = "tiny-video"
    audio_classifier: str = "tiny-audio"
    video_weights: str | None = None
    audio_weights: str | None = None
    frames: int = 8
    step: float = 1.0
    size: int = 64
    fps: float | None = 8.0
    audio_window: float = 0.96
    audio_sr: int = 16000
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict | None) -> "BackboneSettings":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d or {}) - names)
        if unknown:
            raise VxtError(f"unknown feature settings {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        from vxt.registry import check_values, number, whole

        # a zero step or frame count would divide the extraction schedule by zero: refused here, in one line
        check_values(d or {}, {"frames": whole(1), "step": number(0, low_open=True), "size": whole(1),
                               "fps": number(0, low_open=True, null=True), "audio_window": number(0, low_open=True),
                               "audio_sr": whole(1), "seed": whole(0)}, prefix="feature_settings.")
        return cls(**(d or {}))

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self) -> str:
        """A short stable folder name, e.g. ``tiny-video+tiny-audio-f8-st1-s64-fps8-1a2b3c4d``."""
        blob = json.dumps([FEATURE_FORMAT, self.to_dict(), _fingerprint(self.video_weights),
                           _fingerprint(self.audio_weights)], sort_keys=True)
        digest = hashlib.sha1(blob.encode()).hexdigest()[:8]
        fps = "native" if self.fps is None else f"{float(self.fps):g}"
        from vxt.files import safe_name

        step = f"{self.step:g}" if isinstance(self.step, (int, float)) else str(self.step)
        return safe_name(f"{self.video_classifier}+{self.audio_classifier}-f{self.frames}-st{step}"
                         f"-s{self.size}-fps{fps}-{digest}")


def _fingerprint(weights: str | None) -> Any:
    """What identifies a weights file or dir cheaply: its path, size and modification time."""
    if not weights:
        return None
    p = Path(weights)
    files = [p] if p.is_file() else sorted(p.glob("*")) if p.is_dir() else []
    return [str(p.resolve())] + [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.is_file()]


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


class FeatureStore:
    """Per-example feature streams from raw media (``backbone``) or pre-extracted files (``files``).

    ``get(example)`` returns ``{"video": float32 [T_v, D_v] | None, "audio":
    float32 [T_a, D_a] | None, "video_step": s, "audio_step": s, "duration": s,
    "missing": [...]}``.
    """

    def __init__(self, source: str = "backbone", *, data_dir: str | Path | None = None,
                 settings: BackboneSettings | dict | None = None, files_dir: str | Path | None = None,
                 audio_dir: str | Path | None = None, combine: str = "sum", max_memory_items: int = 4096,
                 norm: dict | None = None, cache_root: str | Path | None = None):
        if source not in SOURCES:
            raise VxtError(f"feature source must be one of {', '.join(SOURCES)}, got {source!r}")
        if combine not in ("sum", "concat"):
            raise VxtError(f"feature_combine must be 'sum' or 'concat', got {combine!r}")
        self.source = source
        self.data_dir = None if data_dir is None else Path(data_dir)
        #: where extracted streams are cached (None: ``DATA/features``, the data dir the run was given)
        self.cache_root = None if cache_root is None else Path(cache_root)
        self.settings = settings if isinstance(settings, BackboneSettings) else BackboneSettings.from_dict(settings)
        self.files_dir = None if files_dir is None else Path(files_dir)
        self.audio_dir = None if audio_dir is None else Path(audio_dir)
        self.combine = combine
        if source == "files":
            if self.files_dir is None:
                raise VxtError("the 'files' feature source needs a features folder (--features DIR)")
            if not self.files_dir.is_dir():
                raise DataError("no such features folder", path=str(self.files_dir))
        self._memory: OrderedDict[str, dict] = OrderedDict()
        self._max_memory = max_memory_items
        self._classifiers: dict[str, Any] | None = None
        self.norm = norm

    # ------------------------------------------------------------ config

    def to_config(self) -> dict:
        """What rebuilds this store (JSON): the source and its settings (not the data dir)."""
        if self.source == "files":
            return {"source": "files", "dir": str(self.files_dir.resolve()),
                    "audio_dir": None if self.audio_dir is None else str(self.audio_dir.resolve()),
                    "combine": self.combine}
        return {"source": "backbone", **self.settings.to_dict()}

    @classmethod
    def from_config(cls, cfg: dict, data_dir: str | Path | None = None) -> "FeatureStore":
        cfg = dict(cfg)
        source = cfg.pop("source", "backbone")
        if source == "files":
            return cls("files", data_dir=data_dir, files_dir=cfg.get("dir"), audio_dir=cfg.get("audio_dir"),
                       combine=cfg.get("combine", "sum"))
        return cls("backbone", data_dir=data_dir, settings=cfg)

    @property
    def cache_dir(self) -> Path | None:
        """Where extracted streams are cached (None: no data dir, or pre-extracted files): ``cache_root``,
        else the data dir's ``features/``, in a folder named by the settings' key."""
        if self.source != "backbone":
            return None
        root = self.cache_root if self.cache_root is not None else (
            None if self.data_dir is None else self.data_dir / "features")
        return None if root is None else root / self.settings.key()

    # ------------------------------------------------------------ naming

    def _media_path(self, example: dict) -> Path | None:
        from vxt.data.manifest import resolve_media

        rel = example.get("video") or example.get("audio")
        if rel is None:
            return None
        p = Path(rel)
        if p.is_absolute():
            return p
        if self.data_dir is None:
            raise DataError(f"the media path {rel!r} is relative but no data dir is known",
                            example_id=example.get("id"))
        return resolve_media(self.data_dir, rel)

    @staticmethod
    def names(example: dict) -> list[str]:
        """Names a video's features may be stored under: the media file's stem, then the example id."""
        out = []
        rel = example.get("video") or example.get("audio")
        if rel:
            out.append(Path(str(rel)).stem)
        eid = str(example.get("id", ""))
        if eid:
            out += [eid[: -len("-dense")]] if eid.endswith("-dense") else []
            out.append(eid)
        return list(dict.fromkeys(n for n in out if n))

    # ------------------------------------------------------------ reading

    def get(self, example: dict) -> dict:
        """The streams of ``example``'s whole video (see the class docstring)."""
        key = json.dumps([example.get("video") or example.get("audio"), example.get("id"),
                          sorted(example.get("missing") or [])])
        hit = self._memory.get(key)
        if hit is not None:
            self._memory.move_to_end(key)
            return self._normalised(hit)
        feats = self._files(example) if self.source == "files" else self._backbone(example)
        if feats["video"] is None and feats["audio"] is None:
            raise DataError("no video and no audio features for this example", example_id=example.get("id"))
        self._memory[key] = feats
        while len(self._memory) > self._max_memory:
            self._memory.popitem(last=False)
        return self._normalised(feats)

    def _normalised(self, feats: dict) -> dict:
        if not self.norm:
            return feats
        out = dict(feats)
        for m in ("video", "audio"):
            st = self.norm.get(m)
            if out.get(m) is None or not st:
                continue
            mean, std = np.asarray(st["mean"], dtype=np.float32), np.asarray(st["std"], dtype=np.float32)
            if mean.shape[0] != out[m].shape[1]:
                raise DataError(f"the {m} features have {out[m].shape[1]} dims but the model was trained on "
                                f"{mean.shape[0]}-d ones")
            out[m] = (out[m] - mean) / std
        return out

    def raw(self, example: dict) -> dict:
        """The streams of ``example`` without normalisation."""
        norm, self.norm = self.norm, None
        try:
            return self.get(example)
        finally:
            self.norm = norm

    def prepare(self, examples: list[dict], progress: bool = True) -> None:
        """Extract (or load) the streams of every example now, with a progress bar (a warm-up before training)."""
        from vxt.utils import progress as progress_bar

        todo = [ex for ex in examples if ex.get("video") or ex.get("audio")]
        with progress_bar() as bar:
            desc = "extracting features" if self.source == "backbone" else "loading features"
            task = bar.add_task(desc, total=len(todo), visible=progress and bool(todo))
            for ex in todo:
                self.get(ex)
                bar.advance(task)

    def dims(self, examples: list[dict] | None = None) -> tuple[int | None, int | None]:
        """(video width, audio width) of this store's features (None where unknown)."""
        dv = da = None
        for ex in examples or []:
            f = self.get(ex)
            if dv is None and f["video"] is not None:
                dv = int(f["video"].shape[1])
            if da is None and f["audio"] is not None:
                da = int(f["audio"].shape[1])
            if dv is not None and da is not None:
                break
        if self.source == "backbone" and (dv is None or da is None):
            clfs = self._load_classifiers()
            dv = int(clfs["video"].feature_dim) if dv is None else dv
            da = int(clfs["audio"].feature_dim) if da is None else da
        return dv, da

    def _files(self, example: dict) -> dict:
        from vxt.data.features import VGGISH_STEP, _load_npy, load_bmt_features

        d = self.files_dir
        path = None
        try:
            path = self._media_path(example)
        except DataError:
            path = None
        duration = example_duration(example, path if path is not None and path.exists() else None)
        missing_in_example = set(example.get("missing") or [])
        for name in self.names(example):
            if (d / f"{name}_rgb.npy").exists() or (d / f"{name}_flow.npy").exists() or (
                    (d / f"{name}_vggish.npy").exists() and not (d / f"{name}_video.npy").exists()):
                f = load_bmt_features(d, video_name=name, combine=self.combine, duration=duration,
                                      audio_dir=self.audio_dir)
                feats = {k: f[k] for k in ("video", "audio", "video_step", "audio_step")}
                break
            if (d / f"{name}_video.npy").exists():  # vxt's own cache layout
                video = _load_npy(d / f"{name}_video.npy")
                ap = (self.audio_dir / f"{name}.npy") if self.audio_dir else d / f"{name}_vggish.npy"
                audio = _load_npy(ap) if ap.exists() else None
                meta_p = d / f"{name}.json"
                meta = json.loads(meta_p.read_text()) if meta_p.exists() else {}
                feats = {"video": video, "audio": audio,
                         "video_step": float(meta.get("video_step") or duration / len(video)),
                         "audio_step": float(meta.get("audio_step") or VGGISH_STEP)}
                break
        else:
            raise DataError(f"no pre-extracted features for {' / '.join(self.names(example))} "
                            "(expected <name>_rgb.npy + <name>_flow.npy and/or <name>_vggish.npy)",
                            path=str(d), example_id=example.get("id"))
        for m in ("video", "audio"):
            if m in missing_in_example:
                feats[m] = None
        feats["duration"] = duration
        feats["missing"] = [m for m in ("video", "audio") if feats[m] is None]
        return feats

    # ------------------------------------------------------------ extraction

    def _load_classifiers(self) -> dict:
        """The video and audio classifiers, built once (random init from ``seed`` without weights)."""
        if self._classifiers is not None:
            return self._classifiers
        import torch

        from vxt.modalities import create_classifier

        s = self.settings
        out = {}
        for m, name, weights in (("video", s.video_classifier, s.video_weights),
                                 ("audio", s.audio_classifier, s.audio_weights)):
            labels = None
            if not (weights and Path(weights).is_dir()):
                labels = ["feature_a", "feature_b"]  # the head is not used: features only
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(s.seed) + (0 if m == "video" else 1))
                clf = create_classifier(name, labels=labels, weights=weights)
            if clf.modality != m:
                raise VxtError(f"{name!r} is a {clf.modality} classifier, not a {m} one")
            out[m] = clf.eval().requires_grad_(False)
        self._classifiers = out
        return out

    def _backbone(self, example: dict) -> dict:
        path = self._media_path(example)
        if path is None:
            raise DataError("the example names no media file", example_id=example.get("id"))
        cache = self.cache_dir
        name = Path(str(example.get("video") or example.get("audio"))).stem
        want_missing = set(example.get("missing") or [])
        if cache is not None:
            meta_p = cache / f"{name}.json"
            rel = str(example.get("video") or example.get("audio"))
            if meta_p.exists():
                meta = json.loads(meta_p.read_text())
                if meta.get("media") != rel:  # another video with the same file name
                    name = f"{name}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"
                    meta_p = cache / f"{name}.json"
                    meta = json.loads(meta_p.read_text()) if meta_p.exists() else None
            else:
                meta = None
            if meta is not None:
                return self._read_cached(cache, name, meta, want_missing)
        feats = self.extract(path, example_duration(example, path), skip=want_missing, example_id=example.get("id"))
        if cache is not None:
            from vxt.utils import atomic_write_bytes, write_json

            cache.mkdir(parents=True, exist_ok=True)
            if feats["video"] is not None:
                atomic_write_bytes(cache / f"{name}_video.npy", _npy_bytes(feats["video"]))
            if feats["audio"] is not None:
                atomic_write_bytes(cache / f"{name}_vggish.npy", _npy_bytes(feats["audio"]))
            write_json(cache / f"{name}.json", {
                "media": str(example.get("video") or example.get("audio")), "duration": feats["duration"],
                "video_step": feats["video_step"], "audio_step": feats["audio_step"],
                "missing": feats["missing"], "errors": feats.get("errors", {}),
                "settings": self.settings.to_dict()})
        return feats

    def _read_cached(self, cache: Path, name: str, meta: dict, want_missing: set) -> dict:
        from vxt.data.features import _load_npy

        out: dict[str, Any] = {"video_step": float(meta["video_step"]), "audio_step": float(meta["audio_step"]),
                               "duration": float(meta["duration"])}
        for m, suffix in (("video", "video"), ("audio", "vggish")):
            p = cache / f"{name}_{suffix}.npy"
            out[m] = _load_npy(p) if m not in meta.get("missing", []) and m not in want_missing and p.exists() else None
        out["missing"] = [m for m in ("video", "audio") if out[m] is None]
        return out

    def extract(self, path: str | Path, duration: float, skip: set | None = None, example_id: str | None = None) -> dict:
        """Extract both streams of the media file ``path`` (``duration`` seconds) with the backbone classifiers."""
        import torch

        from vxt.data import media

        s = self.settings
        skip = set(skip or [])
        clfs = self._load_classifiers()
        errors: dict[str, str] = {}
        video = audio = None
        n_stacks = max(1, int(math.ceil(duration / float(s.step) - 1e-6)))
        if "video" not in skip:
            try:
                clips = media.read_clips(path, n_stacks, int(s.frames), int(s.size), start=0.0, end=duration,
                                         fps=s.fps, mode="uniform")
                clf = clfs["video"]
                rows = []
                with torch.no_grad():
                    x = clf.preprocess(clips)  # [N, 3, T, H, W]
                    for i in range(0, x.shape[0], 32):
                        rows.append(clf.features(x[i: i + 32]).float())
                video = torch.cat(rows).numpy().astype(np.float32)
            except (MediaError, VxtError) as e:
                errors["video"] = e.message
        if "audio" not in skip:
            try:
                wave = media.read_audio(path, start=0.0, end=duration, sr=int(s.audio_sr))
                if len(wave) > 0:
                    mel = media.log_mel(wave, sr=int(s.audio_sr))
                    mel = mel.detach().cpu() if hasattr(mel, "detach") else torch.as_tensor(np.asarray(mel))
                    audio = self._audio_rows(mel.float(), clfs["audio"])
                else:
                    errors["audio"] = "empty audio"
            except (MediaError, VxtError) as e:
                errors["audio"] = e.message
        if video is None and audio is None:
            raise MediaError("no video or audio could be decoded for feature extraction ("
                             + "; ".join(f"{k}: {v}" for k, v in errors.items()) + ")", path=str(path))
        return {"video": video, "audio": audio, "video_step": duration / n_stacks,
                "audio_step": float(s.audio_window), "duration": float(duration),
                "missing": [m for m, a in (("video", video), ("audio", audio)) if a is None], "errors": errors}

    def _audio_rows(self, mel, clf) -> np.ndarray | None:
        """One embedding per ``audio_window`` seconds of log-mel ``[frames, mel]`` (the last window may be shorter)."""
        import torch

        s = self.settings
        per_window = max(1, int(round(float(s.audio_window) * int(s.audio_sr) / 160)))  # hop 160
        n_full = mel.shape[0] // per_window
        rows = []
        with torch.no_grad():
            if n_full:
                full = mel[: n_full * per_window].reshape(n_full, per_window, mel.shape[1]).unsqueeze(1)
                for i in range(0, n_full, 64):
                    rows.append(clf.features(full[i: i + 64]).float())
            rest = mel[n_full * per_window:]
            if rest.shape[0] >= per_window // 4 or not n_full:  # a tail of at least a quarter window
                if rest.shape[0] > 0:
                    rows.append(clf.features(rest.unsqueeze(0).unsqueeze(0)).float())
        if not rows:
            return None
        return torch.cat(rows).numpy().astype(np.float32)


def feature_stats(store: FeatureStore, examples: list[dict]) -> dict:
    """Per-dimension mean and std (floored at 1e-3 of the overall std, and > 0) of each stream over ``examples``."""
    out = {}
    for m in ("video", "audio"):
        rows = [f[m] for f in (store.raw(ex) for ex in examples) if f.get(m) is not None]
        if not rows:
            continue
        x = np.concatenate(rows).astype(np.float64)
        std = x.std(0)
        floor = max(float(x.std()) * 1e-3, 1e-6)
        out[m] = {"mean": [float(v) for v in x.mean(0)], "std": [float(max(v, floor)) for v in std]}
    return out
