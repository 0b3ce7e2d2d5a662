"""``vxt score`` on ``--task sound`` predictions: Melception's FID, KID, IS and MKL, and the onset alignment.

The generated side of each prediction row is its spectrogram: the ``.npy``
that ``vxt decode`` writes beside the wav (``spectrogram``: the model's own
``[80, 848]`` output, as SpecVQGAN scores its samples, before any vocoder),
else the SpecVQGAN front end's spectrogram of the wav (``audio``; the
``audio_start`` seconds before it, where the crop begins on the clip's
timeline, are silence). The real side is the front end's spectrogram of the
row's ``reference_audio`` (from ``reference_start``), centre ``80 x 848``.

With a trained Melception (``--classifier DIR``): FID and KID on the 2,048-d
pooled features of the real clips (one per id) and the generated samples
(all), IS on the generated samples' bias-free logits (SpecVQGAN's
``logits_unbiased``), MKL with each sample paired with its own real clip by
id (:mod:`vxt.metrics.sound`). Where the references carry ``sound_events``
(foley data), the onset alignment needs no classifier: the share of onsets
detected in each generated spectrogram within 50 ms of an event of its clip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vxt.errors import DataError
from vxt.models.sound import frontend as fe

NEED_CLASSIFIER = ("FID, KID, IS and MKL need --classifier DIR (a trained Melception: "
                   "vxt train --task classify --model melception)")
FPS = fe.SAMPLE_RATE / fe.HOP


def _find(raw: Any, base: Path, what: str, cid: str) -> Path:
    """A path from a predictions file: absolute, else from the working dir, else beside the predictions file."""
    if not isinstance(raw, str) or not raw:
        raise DataError(f"prediction {cid!r}: no {what} path", example_id=cid)
    p = Path(raw)
    for cand in ([p] if p.is_absolute() else [p, base / p]):
        if cand.is_file():
            return cand
    raise DataError(f"no such {what} file: {raw}", example_id=cid)


def generated_spectrogram(row: dict, base: Path) -> tuple[np.ndarray, float]:
    """``(the generated [80, T] spectrogram in [0, 1], the clip time of its first frame in seconds)``."""
    from vxt.data.media import read_audio

    cid = str(row.get("id"))
    start = float(row.get("audio_start") or 0.0)
    if row.get("spectrogram"):
        spec = np.load(_find(row["spectrogram"], base, "spectrogram", cid), allow_pickle=False)
        if spec.ndim != 2 or spec.shape[0] != fe.N_MELS:
            raise DataError(f"prediction {cid!r}: the spectrogram must be [{fe.N_MELS}, T], got {list(spec.shape)}")
        return spec.astype(np.float64), start
    wave = read_audio(_find(row.get("audio"), base, "audio", cid), sr=fe.SAMPLE_RATE)
    lead = np.zeros(int(round(start * fe.SAMPLE_RATE)), dtype=np.float32)
    return fe.melspectrogram(np.concatenate([lead, wave]), fe.SAMPLE_RATE), 0.0


def model_input(spec: np.ndarray) -> np.ndarray:
    """The ``[80, 848]`` view Melception sees: a crop-sized spectrogram as it is, a longer one's centre crop."""
    if spec.shape[1] == fe.CROP_FRAMES:
        return spec
    if spec.shape[1] < fe.CROP_FRAMES:
        return np.pad(spec, ((0, 0), (0, fe.CROP_FRAMES - spec.shape[1])))
    return fe.centre_crop(spec)


def _event_times(events: Any) -> list[float]:
    out = []
    for e in events or []:
        t = e.get("time") if isinstance(e, dict) else e
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            out.append(float(t))
    return out


def score_sound_predictions(pred_path: str, preds: dict[str, list[dict]], refs: dict[str, dict] | None, *,
                            classifier: str | os.PathLike | None = None,
                            warn: Callable[[str], None] = lambda m: None) -> tuple[dict, dict]:
    """``(metrics, extra)`` of sound predictions: ``preds`` clip id -> its rows (one per sample); ``refs`` clip id
    -> ``{"audio", "start", "events"}`` (the real clip; ``events``: sound times in seconds)."""
    from vxt.metrics.sound import detect_onsets, onset_alignment

    base = Path(pred_path).resolve().parent
    refs = refs or {}
    rows = [r for rs in preds.values() for r in rs]
    if not rows:
        raise DataError("holds no predictions", path=pred_path)
    events = {cid: _event_times(refs.get(cid, {}).get("events")) for cid in preds if refs.get(cid, {}).get("events")}
    if classifier is None and not events:
        raise DataError(NEED_CLASSIFIER + "; these predictions have no sound_events for the onset alignment either",
                        path=pred_path)
    gen = [generated_spectrogram(r, base) for r in rows]
    metrics: dict[str, float] = {}
    extra: dict[str, Any] = {"n_scored": len(rows), "n_clips": len(preds)}
    if events:
        onsets, truth = {}, {}
        for k, (r, (spec, offset)) in enumerate(zip(rows, gen)):
            cid = str(r["id"])
            if cid in events:
                onsets[f"{cid}#{k}"] = (detect_onsets(spec, FPS) + offset).tolist()
                truth[f"{cid}#{k}"] = events[cid]
        al = onset_alignment(onsets, truth)
        metrics.update({"onset_alignment": al["onset_alignment"], "onset_recall": al["onset_recall"]})
        extra.update({"n_onsets": int(al["onsets"]), "n_events": int(al["events"])})
    if classifier is None:
        warn(NEED_CLASSIFIER + ": only the onset alignment is reported")
        return metrics, extra
    metrics.update(_classifier_metrics(rows, gen, refs, classifier, pred_path))
    extra["settings"] = {"classifier": str(Path(classifier).resolve()), "fid_features": "2048-d pooled",
                         "is_logits": "logits_unbiased (SpecVQGAN)", "kl": "KL(p_real || p_generated), per sample"}
    return {k: metrics[k] for k in ("FID", "KID", "KID_std", "IS", "IS_std", "MKL", "onset_alignment",
                                    "onset_recall") if k in metrics}, extra


def _classifier_metrics(rows, gen, refs, classifier, pred_path) -> dict:
    import torch

    from vxt.metrics.sound import fid, inception_score, kid, mkl
    from vxt.models.sound.melception import load_melception
    from vxt.models.sound.task_model import clip_spectrogram

    ids = list(dict.fromkeys(str(r["id"]) for r in rows))
    missing = [cid for cid in ids if not (refs.get(cid) or {}).get("audio")]
    if missing:
        raise DataError(f"MKL pairs each sample with its real clip: {len(missing)} clip(s) have no reference_audio "
                        f"(first: {missing[0]}); pass the data dir's manifest with --refs", path=pred_path)
    if len(ids) < 2 or len(rows) < 2:
        raise DataError("FID and KID need at least 2 real clips and 2 generated samples", path=pred_path)
    model = load_melception(classifier)
    if torch.cuda.is_available():
        model.to("cuda")
    base = Path(pred_path).resolve().parent
    real_specs = []
    for cid in ids:
        ref = refs[cid]
        path = _find(str(ref["audio"]), base, "reference audio", cid)
        real_specs.append(model_input(clip_spectrogram(path, float(ref.get("start") or 0.0), example_id=cid)[0]))
    real = model.embed(np.stack(real_specs))
    fake = model.embed(np.stack([model_input(s) for s, _ in gen]))
    out = {"FID": fid(real["features"], fake["features"])}
    out.update(kid(real["features"], fake["features"]))
    out.update(inception_score(fake["logits_unbiased"]))
    out["MKL"] = mkl({cid: real["logits"][i] for i, cid in enumerate(ids)},
                     [(str(r["id"]), fake["logits"][k]) for k, r in enumerate(rows)])
    return out
