"""Multiple-choice QA: top-1 accuracy, overall and per question type."""

from __future__ import annotations

from typing import Mapping

from vxt.errors import DataError


def qa_accuracy(
    preds: Mapping[str, int],
    answers: Mapping[str, int],
    types: Mapping[str, str] | None = None,
) -> dict:
    """Top-1 accuracy of ``preds`` (id -> chosen index) against ``answers`` (id -> correct index).

    Only ids present in both are scored (the caller reports the others).
    With ``types`` (id -> question type), ``per_type`` gives the accuracy and
    count of each type among the scored ids. Returns
    ``{"accuracy": fraction, "n": count, "n_correct": count, "per_type": {...}}``.
    """
    ids = [i for i in answers if i in preds]
    if not ids:
        raise DataError("no prediction id matches an answer id")
    correct = {i: int(preds[i]) == int(answers[i]) for i in ids}
    n_ok = sum(correct.values())
    out: dict = {"accuracy": n_ok / len(ids), "n": len(ids), "n_correct": n_ok}
    if types:
        per: dict[str, list[int]] = {}
        for i in ids:
            t = types.get(i)
            if t is None:
                continue
            row = per.setdefault(str(t), [0, 0])
            row[0] += correct[i]
            row[1] += 1
        out["per_type"] = {t: {"accuracy": ok / n, "n": n, "n_correct": ok} for t, (ok, n) in sorted(per.items())}
    return out
