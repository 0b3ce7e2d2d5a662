"""The benchmarks' own metrics: captioning (pycocoevalcap), QA accuracy, dense captioning (ActivityNet).

Library entry points (the training loop and ``vxt score`` use these)::

    score_captions(preds, refs, java=True)   # Bleu_1..4, METEOR, ROUGE_L, CIDEr (fractions)
    qa_accuracy(preds, answers, types=None)  # top-1 accuracy, per question type when given
    score_dense(pred_events, ref_files, ...) # the ActivityNet Captions protocol
    java_available()                         # whether the PTB tokenizer and METEOR can run

Heavy imports happen inside the functions.
"""

from __future__ import annotations

from vxt.metrics.java import java_available


def score_captions(*args, **kwargs):
    from vxt.metrics.caption import score_captions as f

    return f(*args, **kwargs)


def qa_accuracy(*args, **kwargs):
    from vxt.metrics.qa import qa_accuracy as f

    return f(*args, **kwargs)


def score_dense(*args, **kwargs):
    from vxt.metrics.dense import score_dense as f

    return f(*args, **kwargs)


__all__ = ["score_captions", "qa_accuracy", "score_dense", "java_available"]
