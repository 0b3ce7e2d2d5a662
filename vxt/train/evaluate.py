"""Validation during training and evaluation after it: predictions, then the task's metric."""

from __future__ import annotations

from typing import Callable

from vxt.data.loader import with_media
from vxt.train.device import to_device


def predict_examples(model, examples: list[dict], cache, *, device=None, beam: int = 5, batch_size: int = 16,
                     progress_desc: str | None = None, media_fn: Callable | None = None) -> list[dict]:
    """Run ``model.predict`` over ``examples`` in batches; returns one dict per example.

    ``media_fn(examples) -> items`` replaces the cache (decoding media files directly).
    """
    import torch

    from vxt.decoding import DecodingOptions
    from vxt.utils import progress

    options = DecodingOptions(beam_size=beam, greedy=beam <= 1)
    was_training = model.training
    model.eval()
    out: list[dict] = []
    bar = progress(transient=True) if progress_desc else None
    try:
        if bar is not None:
            bar.start()
            tid = bar.add_task(progress_desc, total=len(examples))
        with torch.no_grad():
            for i in range(0, len(examples), batch_size):
                chunk = examples[i : i + batch_size]
                items = media_fn(chunk) if media_fn is not None else with_media(chunk, cache)
                batch = model.collate(items, train=False, rng=None)
                if device is not None:
                    batch = to_device(batch, device)
                out.extend(model.predict(batch, options))
                if bar is not None:
                    bar.update(tid, advance=len(chunk))
    finally:
        if bar is not None:
            bar.stop()
        model.train(was_training)
    return out


def score_predictions(task, examples: list[dict], preds: list[dict], *, java: bool | None = None) -> dict:
    """The metrics of ``task`` (a task registry entry or its name) for predictions aligned with ``examples``."""
    from vxt.tasks import get_task_entry

    entry = get_task_entry(task) if isinstance(task, str) else task
    return entry.score(examples, preds, java=java)


def evaluate(model, task, examples: list[dict], cache, *, device=None, beam: int = 1, batch_size: int = 16) -> dict:
    preds = predict_examples(model, examples, cache, device=device, beam=beam, batch_size=batch_size)
    return score_predictions(task, examples, preds)
