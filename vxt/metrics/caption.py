"""Captioning and dialog metrics: pycocoevalcap's BLEU-1..4, METEOR 1.5, ROUGE-L and CIDEr(-D).

:func:`score_captions` is what the COCO caption evaluation (used by MSR-VTT,
TVC's standalone_eval and DSTC7 AVSD's evaluation) computes: PTB
tokenization of every prediction and reference, then each scorer once over
all examples with all their references. BLEU, ROUGE-L and CIDEr are
pycocoevalcap's own classes, called directly; METEOR is the same jar with the
same options, through :class:`~vxt.metrics.meteor.MeteorScorer`. The
references and the predictions are tokenized as the two documents the COCO
evaluation tokenizes (see :mod:`vxt.metrics.ptb` for why the grouping
matters), in one Java call.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from vxt.errors import DataError

METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")


def remove_nonascii(text: str) -> str:
    """Every character above 127 becomes a space (TVC's and ActivityNet's evaluations do this)."""
    if text.isascii():
        return text
    return "".join(c if ord(c) < 128 else " " for c in text)


def score_captions(
    preds: Mapping[str, str],
    refs: Mapping[str, Sequence[str]],
    *,
    java: bool = True,
    meteor=None,
    nonascii_to_space: bool = False,
) -> dict[str, float]:
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr (fractions) of ``preds`` (id -> caption) against ``refs`` (id -> references).

    Every id of ``preds`` must have references; examples are scored in the
    order of ``refs``. ``java=False`` tokenizes in pure Python and leaves
    METEOR out: such numbers are not comparable to published ones.
    ``nonascii_to_space`` replaces non-ASCII characters by spaces first (TVC's
    evaluation does). ``meteor``: an open MeteorScorer to reuse, e.g.
    ``vxt.metrics.meteor.shared_meteor()`` in a loop that scores every epoch
    (starting METEOR costs seconds); by default one is started and closed.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from vxt.metrics.ptb import tokenize_documents

    if not preds:
        raise DataError("no predictions to score")
    missing = [i for i in preds if i not in refs]
    if missing:
        raise DataError(f"{len(missing)} predictions have no references (first: {', '.join(missing[:5])})")
    ids = [i for i in refs if i in preds]
    empty = [i for i in ids if not refs[i]]
    if empty:
        raise DataError(f"{len(empty)} examples have an empty reference list (first: {', '.join(empty[:5])})")
    fix = remove_nonascii if nonascii_to_space else (lambda s: s)
    hyp = {i: fix(preds[i]) for i in ids}
    ref = {i: [fix(r) for r in refs[i]] for i in ids}

    own_meteor = None
    if java and meteor is None:
        from vxt.metrics.meteor import MeteorScorer

        meteor = own_meteor = MeteorScorer()  # loads while the tokenizer runs
    try:
        # the two documents the COCO evaluation tokenizes: all references, then all predictions, in id order
        ref_lines = [r for i in ids for r in ref[i]]
        ref_tok, hyp_tok = tokenize_documents([ref_lines, [hyp[i] for i in ids]], java=java)
        res = {i: [t] for i, t in zip(ids, hyp_tok)}
        gts: dict[str, list[str]] = {}
        pos = 0
        for i in ids:
            gts[i] = ref_tok[pos : pos + len(ref[i])]
            pos += len(ref[i])
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        out = {f"Bleu_{k + 1}": float(bleu[k]) for k in range(4)}
        if meteor is not None:
            out["METEOR"] = float(meteor.compute_score(gts, res)[0])
        out["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
        out["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    finally:
        if own_meteor is not None:
            own_meteor.close()
    return out


def sacrebleu_corpus(preds: Mapping[str, str], refs: Mapping[str, Sequence[str]]) -> dict:
    """sacreBLEU's corpus BLEU (default 13a tokenization, on the raw text) and its signature."""
    from sacrebleu.metrics import BLEU

    ids = [i for i in refs if i in preds]
    n_refs = max(len(refs[i]) for i in ids)
    streams = [[(refs[i][k] if k < len(refs[i]) else None) for i in ids] for k in range(n_refs)]
    bleu = BLEU()
    score = bleu.corpus_score([preds[i] for i in ids], streams)
    return {"score": score.score, "signature": str(bleu.get_signature()), "text": str(score)}
