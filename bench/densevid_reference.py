"""A straightforward re-implementation of the official ActivityNet Captions evaluator, for comparison.

This follows the structure of densevid_eval (commit 9d4045a) as ported to
Python 3 in BMT (``evaluation/evaluate.py``), using pycocoevalcap's own
classes: for each tIoU threshold it builds the (prediction, reference) items,
runs the PTB tokenizer on them, and then calls each scorer once per video.
Only two things differ from the official code, both to make runs
reproducible and comparable with ``vxt.metrics.score_dense``:

* the random "garbage" reference of an unmatched prediction comes from
  ``random.Random(seed)`` instead of the unseeded global ``random``, one
  string per prediction drawn up front (videos sorted, predictions in order)
  and used at every threshold where the prediction matches nothing, instead
  of a fresh draw per threshold (the string only has to match nothing, so
  the official numbers do not depend on it);
* videos are visited in sorted order instead of ``set`` order (the mean over
  videos is then summed in a fixed order).

The official code tokenizes inside the scorer loop (eight tokenizer runs per
threshold, the same items each time); this version tokenizes once per
threshold, which is faster and gives the same tokens. Set
``tokenize_per_scorer=True`` to reproduce the official amount of work.

It is used by bench/score.py (timing against vxt) and by the tests (equal
numbers on a few videos). It is not used by vxt itself.
"""

from __future__ import annotations

import random
import string

import numpy as np


def random_string(rng: random.Random, string_length: int) -> str:
    letters = string.ascii_lowercase
    return "".join(rng.choice(letters) for _ in range(string_length))


def remove_nonascii(text: str) -> str:
    return "".join([i if ord(i) < 128 else " " for i in text])


def iou(interval_1, interval_2) -> float:
    start_i, end_i = interval_1[0], interval_1[1]
    start, end = interval_2[0], interval_2[1]
    intersection = max(0, min(end, end_i) - max(start, start_i))
    union = min(max(end, end_i) - min(start, start_i), end - start + end_i - start_i)
    return float(intersection) / (union + 1e-8)


class ReferenceDenseEval:
    """predictions: {vid: [{"sentence", "timestamp": [s, e]}]}; ground_truths: list of ANet reference dicts."""

    def __init__(self, ground_truths, predictions, tious=(0.3, 0.5, 0.7, 0.9), max_proposals=1000,
                 seed=0, meteor=True, tokenize_per_scorer=False, verbose=False):
        """``meteor``: True (start pycocoevalcap's Meteor), False (leave METEOR out), or a Meteor to reuse."""
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        self.tious = list(tious)
        self.ground_truths = ground_truths
        self.prediction = {vid: list(preds)[:max_proposals] for vid, preds in predictions.items()}
        self.tokenizer = PTBTokenizer()
        self.tokenize_per_scorer = tokenize_per_scorer
        rng = random.Random(seed)
        self.garbage = {(vid, i): random_string(rng, rng.randint(10, 20))
                        for vid in self.get_gt_vid_ids() if vid in self.prediction
                        for i in range(len(self.prediction[vid]))}
        self.verbose = verbose
        self.scorers = [(Bleu(4), ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"])]
        if meteor is True:
            from pycocoevalcap.meteor.meteor import Meteor

            self.scorers.append((Meteor(), "METEOR"))
        elif meteor:
            self.scorers.append((meteor, "METEOR"))
        self.scorers += [(Rouge(), "ROUGE_L"), (Cider(), "CIDEr")]

    def get_gt_vid_ids(self):
        vid_ids = set()
        for gt in self.ground_truths:
            vid_ids |= set(gt.keys())
        return sorted(vid_ids)

    def evaluate(self) -> dict:
        self.scores: dict[str, list[float]] = {}
        for tiou in self.tious:
            for metric, score in self.evaluate_tiou(tiou).items():
                self.scores.setdefault(metric, []).append(score)
        self.scores["Recall"] = []
        self.scores["Precision"] = []
        for tiou in self.tious:
            precision, recall = self.evaluate_detection(tiou)
            self.scores["Recall"].append(recall)
            self.scores["Precision"].append(precision)
        return {m: sum(s) / float(len(s)) for m, s in self.scores.items()}

    def evaluate_detection(self, tiou):
        gt_vid_ids = self.get_gt_vid_ids()
        recall = [0] * len(gt_vid_ids)
        precision = [0] * len(gt_vid_ids)
        for vid_i, vid_id in enumerate(gt_vid_ids):
            best_recall = 0
            best_precision = 0
            for gt in self.ground_truths:
                if vid_id not in gt:
                    continue
                refs = gt[vid_id]
                ref_set_covered = set()
                pred_set_covered = set()
                if vid_id in self.prediction and self.prediction[vid_id]:
                    for pred_i, pred in enumerate(self.prediction[vid_id]):
                        for ref_i, ref_timestamp in enumerate(refs["timestamps"]):
                            if iou(pred["timestamp"], ref_timestamp) > tiou:
                                ref_set_covered.add(ref_i)
                                pred_set_covered.add(pred_i)
                    new_precision = float(len(pred_set_covered)) / (pred_i + 1)
                    best_precision = max(best_precision, new_precision)
                new_recall = float(len(ref_set_covered)) / len(refs["timestamps"])
                best_recall = max(best_recall, new_recall)
            recall[vid_i] = best_recall
            precision[vid_i] = best_precision
        return sum(precision) / len(precision), sum(recall) / len(recall)

    def evaluate_tiou(self, tiou):
        res, gts = {}, {}
        gt_vid_ids = self.get_gt_vid_ids()
        unique_index = 0
        vid2capid = {}
        cur_res, cur_gts = {}, {}
        for vid_id in gt_vid_ids:
            vid2capid[vid_id] = []
            if vid_id not in self.prediction:
                continue
            for pred_i, pred in enumerate(self.prediction[vid_id]):
                has_added = False
                for gt in self.ground_truths:
                    if vid_id not in gt:
                        continue
                    gt_captions = gt[vid_id]
                    for caption_idx, caption_timestamp in enumerate(gt_captions["timestamps"]):
                        if iou(pred["timestamp"], caption_timestamp) >= tiou:
                            cur_res[unique_index] = [{"caption": remove_nonascii(pred["sentence"])}]
                            cur_gts[unique_index] = [{"caption": remove_nonascii(gt_captions["sentences"][caption_idx])}]
                            vid2capid[vid_id].append(unique_index)
                            unique_index += 1
                            has_added = True
                if not has_added:
                    cur_res[unique_index] = [{"caption": remove_nonascii(pred["sentence"])}]
                    cur_gts[unique_index] = [{"caption": self.garbage[(vid_id, pred_i)]}]
                    vid2capid[vid_id].append(unique_index)
                    unique_index += 1

        output = {}
        tokenized = None
        for scorer, method in self.scorers:
            if self.verbose:
                print(f"tIoU {tiou}: computing {scorer.method()} score...")
            all_scores = {}
            if tokenized is None or self.tokenize_per_scorer:
                tokenized = (self.tokenizer.tokenize(cur_res), self.tokenizer.tokenize(cur_gts))
            tokenize_res, tokenize_gts = tokenized
            for vid in vid2capid.keys():
                res[vid] = {index: tokenize_res[index] for index in vid2capid[vid]}
                gts[vid] = {index: tokenize_gts[index] for index in vid2capid[vid]}
            for vid_id in gt_vid_ids:
                if len(res[vid_id]) == 0 or len(gts[vid_id]) == 0:
                    score = [0] * len(method) if isinstance(method, list) else 0
                elif isinstance(method, list):
                    score, _ = scorer.compute_score(gts[vid_id], res[vid_id], verbose=0)
                else:
                    score, _ = scorer.compute_score(gts[vid_id], res[vid_id])
                all_scores[vid_id] = score
            if isinstance(method, list):
                scores = np.mean(list(all_scores.values()), axis=0)
                for m in range(len(method)):
                    output[method[m]] = scores[m]
            else:
                output[method] = np.mean(list(all_scores.values()))
        return output
