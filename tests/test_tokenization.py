"""Differentiable tokenization: the Gumbel top-K sampler, the straight-through estimator,
category embeddings, clip pooling, and which tokenizations let gradients reach the classifiers."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from vxt.models.vx2text.tokenization import (
    CategoryEmbedding,
    FeatureEmbedding,
    gumbel_topk,
    order_by_time,
    pool_clips,
    straight_through_one_hot,
)


# tiny models: one intra-op thread (conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


VIDEO_LABELS = ["moves left", "moves right", "grows", "shrinks", "blinks", "stays still"]
AUDIO_LABELS = ["low hum", "high beep", "rising whistle", "drum", "rain", "silence"]


# ---------------------------------------------------------------- the sampler


def _ordered_pair_probs(p: np.ndarray) -> dict[tuple[int, int], float]:
    """Exact probabilities of the ordered draws (i, j) without replacement: p_i * p_j / (1 - p_i)."""
    return {(i, j): p[i] * p[j] / (1 - p[i]) for i, j in itertools.permutations(range(len(p)), 2)}


def _pair_counts(idx: torch.Tensor, pairs: list[tuple[int, int]]) -> np.ndarray:
    code = (idx[:, 0] * 100 + idx[:, 1]).numpy()
    return np.array([(code == i * 100 + j).sum() for i, j in pairs])


def test_gumbel_topk_samples_without_replacement():
    p = np.array([0.4, 0.25, 0.2, 0.1, 0.05])
    n = 40000
    g = torch.Generator().manual_seed(1234)
    log_p = torch.tensor(np.log(p), dtype=torch.float64).expand(n, -1)
    idx, scores = gumbel_topk(log_p, 2, generator=g)
    assert idx.shape == (n, 2) and scores.shape == (n, 5)
    assert bool((idx[:, 0] != idx[:, 1]).all())
    exact = _ordered_pair_probs(p)
    pairs = sorted(exact)
    observed = _pair_counts(idx, pairs)
    expected = np.array([exact[k] for k in pairs]) * n
    assert expected.sum() == pytest.approx(n)
    assert chisquare(observed, expected).pvalue > 0.01
    # the test has power: the with-replacement distribution (p_i p_j, renormalised) is rejected
    wrong = np.array([p[i] * p[j] for i, j in pairs])
    assert chisquare(observed, wrong / wrong.sum() * n).pvalue < 1e-6
    # and the unordered sets agree too
    sets = {}
    for (i, j), c in zip(pairs, observed):
        sets[frozenset((i, j))] = sets.get(frozenset((i, j)), 0) + c
    keys = sorted(sets, key=sorted)
    exp_sets = np.array([exact[tuple(sorted(k))] + exact[tuple(sorted(k))[::-1]] for k in keys]) * n
    assert chisquare(np.array([sets[k] for k in keys]), exp_sets).pvalue > 0.01


def test_gumbel_topk_first_draw_is_categorical_even_for_unnormalised_scores():
    """Multi-label (sigmoid) log-probs are not normalised: the first draw follows p / sum(p)."""
    s = np.array([0.9, 0.9, 0.3, 0.3])  # sigmoid outputs
    n = 20000
    g = torch.Generator().manual_seed(7)
    idx, _ = gumbel_topk(torch.tensor(np.log(s)).expand(n, -1), 1, generator=g)
    observed = np.bincount(idx[:, 0].numpy(), minlength=4)
    assert chisquare(observed, s / s.sum() * n).pvalue > 0.01


def test_no_noise_is_plain_topk_and_k_is_clamped():
    log_p = torch.log_softmax(torch.tensor([[0.1, 2.0, -1.0, 0.5]]), -1)
    idx, scores = gumbel_topk(log_p, 2, noise=False)
    assert idx.tolist() == [[1, 3]]
    assert torch.equal(scores, log_p)
    assert gumbel_topk(log_p, 10, noise=False)[0].shape == (1, 4)


def test_straight_through_forward_is_hard_backward_is_softmax():
    torch.manual_seed(0)
    scores = torch.randn(3, 6, requires_grad=True)
    idx = scores.topk(2, dim=-1).indices
    one_hot = straight_through_one_hot(idx, scores, tau=0.7)
    assert torch.equal(one_hot, torch.nn.functional.one_hot(idx, 6).float())  # exactly hard
    w = torch.randn(2, 6)
    (one_hot * w).sum().backward()
    ref_scores = scores.detach().clone().requires_grad_(True)
    soft = torch.softmax(ref_scores / 0.7, -1)
    (soft[:, None, :] * w).sum().backward()  # the same loss through the soft sample, for each of the K one-hots
    assert torch.allclose(scores.grad, ref_scores.grad, atol=1e-6)
    assert scores.grad.abs().sum() > 0


def test_pool_clips_and_time_order():
    log_p = torch.log(torch.tensor([
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]],  # clip 2 is padding
    ]))
    mask = torch.tensor([[True, True, False]])
    pooled = pool_clips(log_p, mask)
    assert torch.allclose(pooled.exp(), torch.tensor([[0.4, 0.15, 0.45]]), atol=1e-6)
    one = pool_clips(log_p[:, :1], mask[:, :1])
    assert torch.allclose(one, log_p[:, 0], atol=1e-7)
    # top-2 by pooled score is [2, 0]; category 0 peaks in clip 0, category 2 in clip 1 -> time order [0, 2]
    idx = pooled.topk(2, -1).indices
    assert idx.tolist() == [[2, 0]]
    assert order_by_time(idx, log_p, mask).tolist() == [[0, 2]]
    # ties (same clip): keep the score order
    assert order_by_time(idx, log_p[:, :1], mask[:, :1]).tolist() == [[2, 0]]


# ---------------------------------------------------------------- category embeddings


def _tokenizer():
    from vxt.models.vx2text.text import train_tokenizer

    return train_tokenizer(VIDEO_LABELS + AUDIO_LABELS + ["a red circle"], None, vocab_size=150)


def test_category_embedding_rows_equal_text_embeddings_of_the_name():
    tok = _tokenizer()
    emb = torch.nn.Embedding(len(tok), 16)
    names = ["moves left", "rising whistle", "rain", "zebra crossing"]
    cat = CategoryEmbedding(names, tok, emb)
    ids = [tok(n, add_special_tokens=False)["input_ids"] for n in names]
    assert cat.weight.shape == (4, max(len(x) for x in ids), 16)
    for c, x in enumerate(ids):
        n = len(x)
        assert cat.token_mask[c].sum() == n and bool(cat.token_mask[c, :n].all())
        assert torch.equal(cat.weight[c, :n], emb.weight[torch.tensor(x)])
        assert torch.equal(cat.weight[c, n:], torch.zeros_like(cat.weight[c, n:]))
    # a selected category inserts exactly its valid rows, in order
    idx = torch.tensor([[3, 0], [2, 1]])
    out = cat(None, idx)
    assert torch.equal(out[0], torch.cat([emb.weight[torch.tensor(ids[3])], emb.weight[torch.tensor(ids[0])]]))
    assert out[1].shape[0] == len(ids[2]) + len(ids[1])
    # straight-through path: same values, gradient reaches the scores
    scores = torch.randn(2, 4, requires_grad=True)
    st = cat(straight_through_one_hot(idx, scores), idx)
    assert torch.allclose(st[0], out[0]) and torch.allclose(st[1], out[1])
    sum(t.sum() for t in st).backward()
    assert scores.grad.abs().sum() > 0


def test_feature_embedding_is_one_normalised_token():
    fe = FeatureEmbedding(6, 16)
    out = fe(torch.softmax(torch.randn(3, 6), -1))
    assert out.shape == (3, 1, 16)
    assert torch.allclose(out.mean(-1), torch.zeros(3, 1), atol=1e-5)


# ---------------------------------------------------------------- through the model


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from vxt.data.manifest import write_manifest

    d = tmp_path_factory.mktemp("data")
    (d / "labels").mkdir()
    (d / "labels" / "video.txt").write_text("\n".join(VIDEO_LABELS) + "\n")
    (d / "labels" / "audio.txt").write_text("\n".join(AUDIO_LABELS) + "\n")
    write_manifest(d / "train.jsonl", [
        {"id": f"c{i}", "task": "caption", "targets": ["a red circle moves left while a drum plays"],
         "subtitles": [{"start": 0.0, "end": 1.0, "text": "look, it's anna"}]} for i in range(4)
    ])
    return d


def _items(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [{"example": {"id": f"c{i}", "task": "caption", "targets": ["a red circle moves left"],
                         "subtitles": [{"start": 0.0, "end": 1.0, "text": "look, it's anna"}]},
             "media": {"video": rng.integers(0, 255, (2, 8, 64, 64, 3), dtype=np.uint8),
                       "audio": rng.standard_normal((101, 64)).astype(np.float32)}} for i in range(n)]


def _classifier_grads(model) -> dict[str, bool]:
    return {m: any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in clf.parameters())
            for m, clf in model.classifiers.items()}


@pytest.mark.parametrize("tokenization,reaches", [("gumbel", True), ("feature", True), ("frozen", False)])
def test_gradients_reach_the_classifiers(data_dir, tokenization, reaches):
    from vxt.models import build_model

    torch.manual_seed(0)
    model = build_model("vx2text-tiny", {"tokenization": tokenization, "k_video": 3, "k_audio": 2}, data_dir=data_dir)
    model.train()
    batch = model.collate(_items(), train=True, rng=random.Random(0))
    out = model(batch)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert _classifier_grads(model) == {"video": reaches, "audio": reaches}
    if tokenization == "frozen":
        assert not any(p.requires_grad for clf in model.classifiers.values() for p in clf.parameters())
        assert not any(clf.training for clf in model.classifiers.values())  # model.train() keeps them in eval
    else:
        assert all(clf.training for clf in model.classifiers.values())
    # the text side always learns
    assert model.t5.get_input_embeddings().weight.grad is not None


def test_gumbel_samples_in_training_and_is_deterministic_in_eval(data_dir):
    from vxt.models import build_model

    torch.manual_seed(0)
    model = build_model("vx2text-tiny", {"k_video": 2, "k_audio": 2}, data_dir=data_dir)
    batch = model.collate(_items(2), train=False)
    model.eval()
    first = model.category_tokens(batch)
    assert first == model.category_tokens(batch)
    assert all(len(r["video"]) == 2 and len(r["audio"]) == 2 for r in first)
    model.train()
    seen = set()
    with torch.no_grad():
        for _ in range(12):
            _, names = model.continuous_tokens(batch)
            seen.add(tuple(names["video"][0]))
    assert len(seen) > 1  # noise: different samples across steps
