"""Validation during training and evaluation after it: predictions, then the task's metric."""

from __future__ import annotations

from typing import Callable

from vxt.data.loader import with_media


def predict_examples(model, examples: list[dict], cache, *, device=None, beam: int = 5, batch_size: int = 16,
                     progress_desc: str | None = None, media_fn: Callable | None = None) -> list[dict]:
    """Run ``model.predict`` over ``examples`` in batches; returns one dict per example.

    ``media_fn(examples) -> items`` replaces the cache (decoding media files directly).
    """
    import torch

    from vxt.decoding import DecodingOptions
    from vxt.train.loop import to_device
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


def score_predictions(task: str, examples: list[dict], preds: list[dict], *, java: bool | None = None) -> dict:
    """The metrics of ``task`` for predictions aligned with ``examples``."""
    from vxt.metrics import java_available, qa_accuracy, score_captions

    if task in ("caption", "dialog"):
        refs = {ex["id"]: ex["targets"] for ex in examples if ex.get("targets")}
        hyps = {p["id"]: p["prediction"] for p in preds if p["id"] in refs}
        if not refs:
            return {}
        use_java = java_available() if java is None else java
        kw = {}
        if use_java:
            from vxt.metrics.meteor import shared_meteor

            kw["meteor"] = shared_meteor()  # one METEOR process for every evaluation of a run
        return {k: float(v) for k, v in score_captions(hyps, refs, java=use_java, **kw).items()}
    if task in ("qa", "classify"):
        answers = {ex["id"]: ex["answer"] for ex in examples if "answer" in ex}
        if task == "classify":
            answers = {p["id"]: p["answer"] for p in preds if "answer" in p}
        choices = {p["id"]: p["choice"] for p in preds if "choice" in p}
        types = {ex["id"]: ex["question_type"] for ex in examples if "question_type" in ex} or None
        res = qa_accuracy(choices, answers, types)
        out = {"accuracy": float(res["accuracy"])}
        for qtype, row in (res.get("per_type") or {}).items():
            out[f"accuracy_{qtype}"] = float(row["accuracy"])
        return out
    if task == "dense":
        from vxt.decoding.events import score_dense_predictions

        return score_dense_predictions(examples, preds, java=java)
    return {}


def evaluate(model, task: str, examples: list[dict], cache, *, device=None, beam: int = 1, batch_size: int = 16) -> dict:
    preds = predict_examples(model, examples, cache, device=device, beam=beam, batch_size=batch_size)
    return score_predictions(task, examples, preds)
