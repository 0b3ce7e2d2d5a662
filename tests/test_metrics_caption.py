"""Captioning metrics: vxt's numbers against pycocoevalcap (and the METEOR jar) called directly."""

from __future__ import annotations

import json

import pytest

from vxt.metrics import java_available

java = pytest.mark.java
skip_no_java = pytest.mark.skipif(
    not java_available(), reason="Java is not installed (apt-get install default-jre-headless); PTB and METEOR need it"
)

TRICKY = [
    "A man (in red) rides a horse... on the beach!",
    "  The dog's owner can't stop; it's gonna rain -- \"soon\".",
    "Mr. Smith isn't here, 1,000 people's 3.5 km/h U.S. e-mail.",
    "",
    "   ",
    "piñata, café and naïve [brackets] {braces}",
    "line with\ta tab",
    "one",
]


@pytest.fixture(scope="module")
def anet(shared_data):
    return json.loads((shared_data / "anet" / "val_1.json").read_text())


def _coco_tokenize(captions: dict[str, list[str]]) -> dict[str, list[str]]:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    return PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in captions.items()})


@java
@skip_no_java
def test_ptb_one_batch_equals_pycocoevalcap_per_call():
    """Tokenizing everything in one call gives each sentence the tokens pycocoevalcap gives it in its own call."""
    from vxt.metrics.ptb import ptb_tokenize

    ours = ptb_tokenize(TRICKY)
    half = len(TRICKY) // 2
    theirs = {**_coco_tokenize({str(i): [s] for i, s in enumerate(TRICKY[:half])}),
              **_coco_tokenize({str(i + half): [s] for i, s in enumerate(TRICKY[half:])})}
    for i, s in enumerate(TRICKY):
        assert ours[s] == theirs[str(i)][0], s
    assert ours["A man (in red) rides a horse... on the beach!"] == "a man -lrb- in red -rrb- rides a horse on the beach"


def test_coco_scorers_identical_to_pycocoevalcap():
    """The per-set BLEU/ROUGE-L/CIDEr restatements give pycocoevalcap's numbers exactly (no Java needed)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from vxt.metrics.coco import CocoScorers

    sets = [
        [("a man rides a horse on the beach", ("a man is riding a horse",)),
         ("the the the dog", ("a dog barks at the the cat",)),
         ("a man rides a horse on the beach", ("qwertyuiopas",)),
         ("word", ("a man rides a horse on the beach",))],
        [("a woman plays the piano", ("a woman is playing a piano", "someone plays piano", "a lady plays music"))],
        [("x y z x y z x y z", ("x y z", "z y x x y z")), ("", ("an empty hypothesis scores zero",)),
         ("a cat sits on a mat", ("a cat sits on a mat",))],
    ]
    sc = CocoScorers()
    for items in sets:
        gts = {i: list(refs) for i, (_, refs) in enumerate(items)}
        res = {i: [hyp] for i, (hyp, _) in enumerate(items)}
        assert sc.bleu(items) == Bleu(4).compute_score(gts, res, verbose=0)[0]
        assert sc.rouge(items) == Rouge().compute_score(gts, res)[0]
        assert sc.cider(items) == Cider().compute_score(gts, res)[0]
        assert sc.cider(items) == sc.cider(items)  # caches do not change anything


def test_coco_scorers_identical_on_real_sentences(anet):
    """Same check on the per-video sets of 40 ActivityNet videos (captions of one video scored against another)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from vxt.metrics.coco import CocoScorers
    from vxt.metrics.ptb import simple_tokenize

    vids = sorted(anet)[:41]
    sc = CocoScorers()
    for a, b in zip(vids, vids[1:]):
        hyps = [simple_tokenize(s) for s in anet[a]["sentences"]]
        refs = [simple_tokenize(s) for s in anet[b]["sentences"]]
        items = [(h, (refs[i % len(refs)],)) for i, h in enumerate(hyps)] + [(hyps[0], tuple(refs))]
        gts = {i: list(r) for i, (_, r) in enumerate(items)}
        res = {i: [h] for i, (h, _) in enumerate(items)}
        assert sc.bleu(items) == Bleu(4).compute_score(gts, res, verbose=0)[0]
        assert sc.rouge(items) == Rouge().compute_score(gts, res)[0]
        assert sc.cider(items) == Cider().compute_score(gts, res)[0]


@java
@skip_no_java
def test_score_captions_equals_pycocoevalcap_pipeline(anet, coco_meteor):
    """score_captions == PTBTokenizer + Bleu/Meteor/Rouge/Cider called directly, multi-reference."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from vxt.metrics import score_captions
    from vxt.metrics.meteor import shared_meteor

    vids = sorted(anet)[100:130]
    preds = {v: anet[v]["sentences"][0] for v in vids}
    refs = {v: anet[v]["sentences"][1:] + anet[vids[(i + 1) % len(vids)]]["sentences"][:1] for i, v in enumerate(vids)}
    ours = score_captions(preds, refs, meteor=shared_meteor())

    gts = _coco_tokenize(refs)
    res = _coco_tokenize({k: [v] for k, v in preds.items()})
    bleu = Bleu(4).compute_score(gts, res, verbose=0)[0]
    expected = {f"Bleu_{k + 1}": bleu[k] for k in range(4)}
    expected["METEOR"] = coco_meteor.compute_score(gts, res)[0]
    expected["ROUGE_L"] = Rouge().compute_score(gts, res)[0]
    expected["CIDEr"] = Cider().compute_score(gts, res)[0]
    assert set(ours) == set(expected)
    for k in expected:
        assert ours[k] == pytest.approx(expected[k], abs=1e-9), k
    assert 0 < ours["METEOR"] < 1


@java
@skip_no_java
def test_meteor_client_equals_the_jar(coco_meteor):
    """Statistics and scores from the batched client equal the jar's through pycocoevalcap's wrapper."""
    from vxt.metrics.meteor import shared_meteor

    gts = {0: ["a man is riding a horse", "someone rides a horse"], 1: ["a dog runs in the park"],
           2: ["people dance at a party"], 3: ["a  cat ||| sits"]}
    res = {0: ["a man rides a horse on the beach"], 1: ["the dog is running"], 2: ["qwertyuiop"],
           3: ["a cat  sits ||| down"]}
    m = shared_meteor()
    score, scores = m.compute_score(gts, res)
    ref_score, ref_scores = coco_meteor.compute_score(gts, res)
    assert score == ref_score
    assert list(scores) == list(ref_scores)
    # several sets in one batch: each set's score is what the jar gives that set alone
    sets = [[0, 1], [2], [1, 3, 0]]
    stats = m.stats([(res[i][0], gts[i]) for i in range(4)])
    evals = m.evaluate([[stats[i] for i in s] for s in sets])
    for s, (sc, _) in zip(sets, evals):
        assert sc == coco_meteor.compute_score({i: gts[i] for i in s}, {i: res[i] for i in s})[0]


def test_no_java_leaves_meteor_out_and_still_scores():
    from vxt.metrics import score_captions

    preds = {"a": "A man rides a horse.", "b": "A dog runs."}
    refs = {"a": ["A man is riding a horse.", "Someone rides a horse."], "b": ["The dog is running in the park."]}
    out = score_captions(preds, refs, java=False)
    assert set(out) == {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"}
    assert 0 < out["Bleu_1"] < 1 and out["CIDEr"] > 0
    perfect = score_captions({"a": "a man rides"}, {"a": ["A man rides."]}, java=False)
    assert perfect["ROUGE_L"] == pytest.approx(1.0)


@java
@skip_no_java
def test_pure_python_tokenizer_matches_ptb_on_ordinary_sentences(anet):
    from vxt.metrics.ptb import ptb_tokenize, simple_tokenize

    sents = [s for v in sorted(anet)[:60] for s in anet[v]["sentences"]]
    ptb = ptb_tokenize(sents)
    agree = sum(simple_tokenize(s) == ptb[s] for s in sents)
    assert agree / len(sents) > 0.97


def test_sacrebleu_reports_signature():
    from vxt.metrics.caption import sacrebleu_corpus

    out = sacrebleu_corpus({"a": "a man rides a horse", "b": "a dog"},
                           {"a": ["a man rides a horse", "someone rides"], "b": ["a dog runs"]})
    assert out["signature"].startswith("nrefs:var|")
    assert 0 < out["score"] <= 100
