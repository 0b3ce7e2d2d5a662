"""Caption backends of the dense task: who captions a (video, start, end) segment.

* :class:`FeatureCaptioning`: a BMT/MDVC captioner on a feature store's
  streams (batched greedy decoding);
* :class:`VX2TextCaptioning`: any caption model with the generic
  ``collate``/``predict`` API (a VX2TEXT caption exp), each segment decoded as
  a clip of its own; found by its config, never by importing its package;
* :func:`load_caption_backend`: one of them from a checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vxt.errors import DataError, VxtError


def _subs_text(example: dict, start: float, end: float) -> str:
    subs = [s for s in example.get("subtitles") or []
            if float(s.get("end", 0.0)) > start and float(s.get("start", 0.0)) < end]
    subs.sort(key=lambda s: float(s.get("start", 0.0)))
    return " ".join(str(s.get("text", "")).strip() for s in subs if str(s.get("text", "")).strip())



class FeatureCaptioning:
    """Captions segments with a BMT/MDVC captioner on a feature store's streams (batched greedy)."""

    def __init__(self, model, store=None, batch_size: int = 256):
        self.model, self.store, self.batch_size = model, store, int(batch_size)

    def caption(self, requests: list[tuple[int, float, float]], examples: list[dict], feats: list[dict] | None) -> list[str]:
        """Sentences for ``(video index, start, end)`` requests; ``feats``: the videos' streams
        (None, or a store of its own: read them from the store)."""
        device = next(self.model.parameters()).device
        if feats is None or self.store is not None:
            if self.store is None:
                raise VxtError("no features to caption from")
            feats = [self.store.get(ex) for ex in examples]
        out: list[str] = []
        for i in range(0, len(requests), self.batch_size):
            chunk = requests[i: i + self.batch_size]
            batch = segment_batch(self.model, [(feats[b], s, e, examples[b]) for b, s, e in chunk])
            batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            ids = self.model.generate(batch)
            out += self.model.decode_text(ids)
        return out


class VX2TextCaptioning:
    """Captions segments with a VX2TEXT caption model: each segment is decoded as a clip of its own."""

    def __init__(self, model, data_dir: Path | None, batch_size: int = 32):
        self.model, self.data_dir, self.batch_size = model, data_dir, int(batch_size)
        self._memo: dict[tuple, str] = {}

    def _segment_example(self, ex: dict, s: float, e: float) -> dict:
        from vxt.data.manifest import resolve_media

        rel = ex.get("video") or ex.get("audio")
        if rel is None:
            raise DataError("the example names no media file", example_id=ex.get("id"))
        p = Path(rel)
        if not p.is_absolute():
            if self.data_dir is None:
                raise DataError("a relative media path but no data dir", example_id=ex.get("id"))
            p = resolve_media(self.data_dir, rel)
        sub = {"id": f"{ex['id']}@{s:.2f}-{e:.2f}", "task": "caption", "video": str(p), "start": s, "end": max(e, s + 0.05)}
        subs = [x for x in ex.get("subtitles") or [] if float(x.get("end", 0)) > s and float(x.get("start", 0)) < e]
        if subs:
            sub["subtitles"] = subs
        if ex.get("missing"):
            sub["missing"] = list(ex["missing"])
        return sub

    def caption(self, requests: list[tuple[int, float, float]], examples: list[dict], feats=None) -> list[str]:
        from vxt.data.cache import DecodeSettings, load_media
        from vxt.decoding import DecodingOptions

        settings = DecodeSettings.from_dict(self.model.config.get("decode"))
        keys = [(str(examples[b]["id"]), round(s, 2), round(e, 2)) for b, s, e in requests]
        todo = list(dict.fromkeys(k for k in keys if k not in self._memo))
        by_id = {str(ex["id"]): ex for ex in examples}
        options = DecodingOptions(beam_size=1, greedy=True, max_length=int(self.model.config.get("max_target_tokens", 32)))
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i: i + self.batch_size]
            items = []
            for vid, s, e in chunk:
                sub = self._segment_example(by_id[vid], s, e)
                items.append({"example": sub, "media": load_media(sub, settings)})
            batch = self.model.collate(items, train=False)
            preds = self.model.predict(batch, options)
            for k, p in zip(chunk, preds):
                self._memo[k] = p["prediction"]
        return [self._memo[k] for k in keys]


def segment_batch(captioner, rows: list[tuple[dict, float, float, dict]], sentences: list[str] | None = None) -> dict:
    """A captioner batch of segments: ``rows`` = (features of the video, start, end, example).

    Video and audio rows overlapping [start, end] (at least one step each),
    padded with masks (a missing stream: an all-False mask); for MDVC the
    words of the subtitles overlapping the segment as ``speech``; with
    ``sentences`` the caption ids (``<s> .. </s>``, cut to ``max_len``).
    """
    from vxt.data.features import pad_streams, segment_features

    cfg = captioner.config
    batch: dict[str, Any] = {}
    for m in ("video", "audio"):
        dim = int(cfg[f"d_{m}"])
        seg_rows = []
        for f, s, e, _ in rows:
            arr = f.get(m)
            seg_rows.append(None if arr is None else segment_features(arr, float(f[f"{m}_step"]), s, e))
        if all(r is None for r in seg_rows):
            continue  # absent from the batch: the model masks it
        x, mask = pad_streams(seg_rows, dim)
        batch[m], batch[f"{m}_mask"] = x, mask
    if "speech" in (cfg.get("modalities") or []):
        sv = captioner.speech_vocab
        ids = [sv.encode(_subs_text(ex, s, e), max_len=200, add_bos_eos=False) for _, s, e, ex in rows]
        length = max([1, *(len(r) for r in ids)])
        speech = torch.full((len(rows), length), sv.pad_id, dtype=torch.long)
        for i, r in enumerate(ids):
            if r:
                speech[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        batch["speech"], batch["speech_mask"] = speech, speech != sv.pad_id
    if sentences is not None:
        ids, mask = captioner.vocab.encode_batch(sentences, max_len=int(cfg["max_len"]) + 1)
        batch["caption_ids"], batch["caption_mask"] = ids, mask
    return batch



def load_caption_backend(path: str | Path, data_dir: Path | None, batch_size: int = 256):
    """A caption backend from a checkpoint: a VX2TEXT caption exp, a dense exp (its captioner), or a BMT/MDVC dir."""
    from vxt.models import load_checkpoint
    from vxt.models.dense.captioner import DenseCaptioner

    model = load_checkpoint(path)
    model.eval()
    if getattr(model, "config", {}).get("arch") == "dense-task":
        if model.captioner is not None:
            return FeatureCaptioning(model.captioner, model.store, batch_size)
        if model.text_captioner is not None:
            return VX2TextCaptioning(model.text_captioner, data_dir)
        raise VxtError("this dense model holds no captioner", path=str(path))
    if isinstance(model, DenseCaptioner):
        raise VxtError("a bare BMT/MDVC dir does not say which features it was trained on: pass a dense exp dir",
                       path=str(path))
    if getattr(model, "config", {}).get("arch") == "vx2text":
        if model.config.get("task") != "caption":
            raise VxtError(f"a VX2TEXT captioner must be trained with --task caption (this one: {model.config.get('task')})",
                           path=str(path))
        return VX2TextCaptioning(model, data_dir)
    raise VxtError("not a caption model (expected a VX2TEXT caption exp or a dense exp)", path=str(path))
