"""VX2TEXT's batches: manifest examples and their media -> plain tensors (:meth:`VX2Text.collate`)."""

from __future__ import annotations

import random
from typing import Any

import torch
from torch import Tensor

from vxt.errors import DataError, VxtError


def fit_lengths(lengths: list[int], budget: int) -> list[int]:
    """Cap segment lengths so they sum to at most ``budget``, cutting the longest first (water filling)."""
    if sum(lengths) <= budget:
        return list(lengths)
    budget = max(0, budget)
    remaining, left = budget, len(lengths)
    cap = 0
    for n in sorted(lengths):
        share = remaining // left
        if n <= share:
            remaining -= n
            left -= 1
        else:
            cap = share
            break
    return [min(n, cap) for n in lengths]


def _pad_2d(rows: list[list[int]], pad: int, min_len: int = 1) -> Tensor:
    length = max([min_len, *(len(r) for r in rows)])
    out = torch.full((len(rows), length), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def encode_texts(model, texts: list[str], max_len: int, keep: str = "start") -> list[list[int]]:
    if not texts:
        return []
    ids = model.tokenizer(texts, add_special_tokens=False)["input_ids"]
    if keep == "end":
        return [x[-max_len:] if len(x) > max_len else x for x in ids]
    return [x[:max_len] for x in ids]


def _subtitle_rows(model, spec, exs: list[dict], max_seg: int) -> list[list[int]]:
    """The first ``max_seg`` tokens of each example's subtitles, without joining and tokenizing a whole long
    transcript: the text is built cue by cue up to a character budget; a text cut there that gives fewer
    than ``max_seg`` tokens is built again with a budget twice as large (the cut falls between cues, so the
    tokens before it are those of the full text)."""
    budget = {i: 16 * max_seg + 64 for i in range(len(exs))}
    rows: list[list[int] | None] = [None] * len(exs)
    todo = list(range(len(exs)))
    while todo:
        texts = [spec.segment_text(exs[i], "subtitles", max_chars=budget[i]) for i in todo]
        ids = encode_texts(model, texts, max_seg + 1)
        again = []
        for i, text, row in zip(todo, texts, ids):
            if len(row) <= max_seg and len(text) > budget[i]:  # cut, and short of the budget in tokens
                budget[i] *= 2
                again.append(i)
            else:
                rows[i] = row[:max_seg]
        todo = again
    return rows  # type: ignore[return-value]


def collate(model, items: list[dict], train: bool, rng: random.Random | None = None) -> dict:
    """Turn ``[{"example", "media"}]`` into a batch of plain tensors (+ ``"ids"``).

    Keys: ``task_ids`` [B]; ``seg.<name>`` [B, L] and ``seg.<name>.len`` [B]
    for each text segment; ``video`` [B, N, 3, T, H, W] + ``video.mask``
    [B, N] (no valid clip = missing); ``audio`` [B, 1, F, 64] + ``audio.len``
    [B] (0 = missing); ``target`` [B, Lt] (ids + ``</s>``, ``<pad>``-padded);
    for qa ``cand`` [B, C, Lc] and ``answer`` [B] (-1 unknown); with the
    qa+qg/cycle objectives ``seg.answer`` and ``qg_target``.
    """
    if not items:
        raise DataError("an empty batch")
    spec = model.spec
    exs = [it["example"] for it in items]
    medias = [it.get("media") or {} for it in items]
    b_size = len(exs)
    batch: dict[str, Any] = {"ids": [str(ex.get("id", i)) for i, ex in enumerate(exs)]}
    batch["task_ids"] = torch.full((b_size,), model.task_token_ids[spec.token_key], dtype=torch.long)
    max_seg = int(model.config["max_segment_tokens"])
    max_tgt = int(model.config["max_target_tokens"])

    # text segments
    segs = list(model.text_segments)
    if model.needs_qg and "answer" not in segs:
        segs.append("answer")
    for seg in segs:
        if seg == "candidates":
            rows = []
            for ex in exs:
                cids = encode_texts(model, spec.candidates(ex), max_seg)
                row: list[int] = []
                for i, c in enumerate(cids):
                    row += ([model.sep_id] if i else []) + c
                rows.append(row[:max_seg])
        elif seg == "subtitles":
            rows = _subtitle_rows(model, spec, exs, max_seg)
        else:
            keep = "end" if seg == "history" else "start"
            rows = encode_texts(model, [spec.segment_text(ex, seg) for ex in exs], max_seg, keep)
        batch[f"seg.{seg}"] = _pad_2d(rows, model.pad_id)
        batch[f"seg.{seg}.len"] = torch.tensor([len(r) for r in rows], dtype=torch.long)

    # targets
    targets = [spec.target(ex, rng if train else None) for ex in exs]
    if any(t is not None for t in targets):
        rows = encode_texts(model, [t or "" for t in targets], max_tgt - 1)
        rows = [r + [model.eos_id] if t is not None else [] for r, t in zip(rows, targets)]
        batch["target"] = _pad_2d(rows, model.pad_id)
    if spec.multiple_choice:
        cands = [spec.candidates(ex) for ex in exs]
        n_c = max([1, *(len(c) for c in cands)])
        flat = encode_texts(model, [c for cs in cands for c in cs], max_tgt - 1)
        rows_c: list[list[int]] = []
        pos = 0
        for cs in cands:
            for j in range(n_c):
                if j < len(cs):
                    rows_c.append(flat[pos] + [model.eos_id])
                    pos += 1
                else:
                    rows_c.append([])
        batch["cand"] = _pad_2d(rows_c, model.pad_id).view(b_size, n_c, -1)
        batch["answer"] = torch.tensor(
            [ex["answer"] if isinstance(ex.get("answer"), int) and 0 <= ex["answer"] < len(c) else -1
             for ex, c in zip(exs, cands)], dtype=torch.long)
    if model.needs_qg:
        qs = [ex.get("question") for ex in exs]
        rows = encode_texts(model, [q or "" for q in qs], max_tgt - 1)
        batch["qg_target"] = _pad_2d([r + [model.eos_id] if q else [] for r, q in zip(rows, qs)], model.pad_id)

    # continuous modalities
    for m in model.continuous:
        clf = model.classifiers[m]
        arrays = []
        for ex, media in zip(exs, medias):
            arr = media.get(m)
            if arr is None or m in (ex.get("missing") or []):
                arrays.append(None)
                continue
            try:
                x = clf.preprocess(arr)
            except VxtError as e:
                raise DataError(f"{m}: {e.message}", example_id=ex.get("id")) from None
            if m == "video":
                x = x if x.dim() == 5 else x.unsqueeze(0)  # [N, 3, T, H, W]
                if train and x.shape[0] > 1:
                    k = (rng or random).randrange(x.shape[0])
                    x = x[k : k + 1]
            arrays.append(x)
        present = [x for x in arrays if x is not None]
        if m == "video":
            n_max = max([0, *(x.shape[0] for x in present)])
            batch["video.mask"] = torch.zeros(b_size, n_max, dtype=torch.bool)
            if present:
                shape = present[0].shape[1:]
                for ex, x in zip(exs, arrays):
                    if x is not None and x.shape[1:] != shape:
                        raise DataError(f"video clips of shape {list(x.shape[1:])} in a batch of {list(shape)} "
                                        "(decode all media with the same settings)", example_id=ex.get("id"))
                video = torch.zeros(b_size, n_max, *shape, dtype=present[0].dtype)
                for i, x in enumerate(arrays):
                    if x is not None:
                        video[i, : x.shape[0]] = x
                        batch["video.mask"][i, : x.shape[0]] = True
                batch["video"] = video
        else:
            batch["audio.len"] = torch.tensor([0 if x is None else x.shape[-2] for x in arrays], dtype=torch.long)
            if present:
                f_max = max(x.shape[-2] for x in present)
                audio = torch.zeros(b_size, *present[0].shape[:-2], f_max, present[0].shape[-1], dtype=present[0].dtype)
                for i, x in enumerate(arrays):
                    if x is not None:
                        audio[i, ..., : x.shape[-2], :] = x
                batch["audio"] = audio
    return batch
