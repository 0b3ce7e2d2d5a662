"""TAVT's presets and the options its builder takes (``--set key=value``).

Model hyperparameters (``DEFAULTS``; the presets override some):

``d_model``, ``heads``, ``d_ff``, ``dropout``
    widths; ``tavt-base`` is the paper's: 1024 wide, 8 heads.
``avmm_layers``, ``enc_layers``, ``cross_layers``, ``dec_layers``
    self-attention layers of the AVMM's mapper; per-modality self-attention
    layers and cross-attention layers (each way) of the encoder; gated decoder
    layers. The paper's "8 attention blocks" are read as 8 on each path:
    4 self + 4 cross in the encoder, 8 in the decoder (our choice).
``n_clusters`` (K), ``clip_seconds`` (T)
    the universal auditory semantic space and the clip/unit length.
``max_units``, ``max_frames``, ``max_len``
    at most so many clips (longer examples get longer clips), frames, words.
``lambda``, ``mu``, ``tau``, ``rec_weight``
    ``L = L_cap + rec_weight L_rec + lambda L_dis + mu L_dep`` (paper: 1e-4, 1e-2, tau 0.4, 1).
``n_negatives``, ``dep_negatives``
    counterfactual reconstructions A- for L_dis (cyclic shifts of the
    clusters), and how many of them go through the encoder for L_dep.
``use_wma``, ``wma_normalize``
    the token-wise modality-aware weights, normalised to mean 1 per batch.

The paper's architecture ablations (true / false; each changes the network,
so ``--stage adapt`` keeps the meta-trained model's, as for every key above):

``use_avmm`` (default true; false: the paper's "w/o AVMM")
    false builds no meta-mapper: the encoder's video stream is the frames
    ``[v_1..v_m]`` alone (no visual prefix tokens ``p_i``), nothing is
    reconstructed (no clusters are fitted, no ``A_rec``), so there is no
    ``L_rec``, no ``L_dis`` and no ``L_dep`` (both contrast ``A_rec`` with
    its counterfactuals ``A-``); ``forward`` then logs ``loss_cap`` only.
    W_ma and the gated decoder stay. An example without audio gets no
    stand-in: its audio units are zeros and masked out (the encoder's
    video-to-audio attention and the decoder's ``x_va`` branch add exactly 0
    for it, :class:`vxt.nn.attention.Attention`'s rule for an all-hidden row).
``use_audio`` (default true; false: the paper's "w/o audio")
    false makes a video-only captioner: no audio stream at all (the audio
    features are collated but nothing reads them), hence no AVMM either (``use_avmm`` is recorded
    false: without audio there is nothing to reconstruct or to prefix for) and
    no audio loss (``L_rec``, ``L_dis``, ``L_dep``). The encoder runs
    ``enc_layers + cross_layers`` self-attention layers on the frames (the
    cross-attention layers, which read the audio, become video self-attention
    layers: the video path keeps its depth). The gated decoder keeps its
    video branch and its gate, ``x + alpha_av * MHA(Y, x_av)``; the ``x_va``
    branch and its gate are gone, so there is no dependence score
    ``psi = alpha_av / alpha_va`` and W_ma is off (``use_wma`` is recorded
    false: plain token cross-entropy, ``L = L_cap``). ``--explain`` shows
    ``alpha_va`` as 0 and the audio as ``none``.
``use_real_audio`` (default true; false: the paper's "w/o real audio")
    false never feeds the real audio ``A`` to the encoder: every example, in
    the source and the target domains alike, at training and at decoding, is
    encoded with ``A_rec`` (not detached: the caption loss reaches the AVMM
    through it, as for an audio-absent example in TAVT). The real audio only
    supervises the reconstructor: ``L_rec`` and ``L_dis`` are unchanged (the
    anchor of ``L_dis`` is the real audio). ``L_dep`` keeps its form with its
    anchor the dependence scores of what the encoder is fed, ``A_rec``, which
    is also its positive (so it only pushes the scores with ``A-`` away),
    over the examples that have real audio, as in TAVT. Needs the AVMM and
    the audio (``use_avmm`` and ``use_audio`` true).

Builder options (not part of the network): ``feature_settings`` (the
:class:`~vxt.modalities.feature_store.BackboneSettings` of the feature store),
``video_weights`` / ``audio_weights`` (local ResNet-101 / VGGish files),
``feature_norm`` (standardise the streams with training statistics),
``cluster_audio`` (a data dir or a folder of media files to fit the clusters
on instead of the training data), ``cluster_seed``, ``kmeans_iters``,
``min_word_freq``, ``stage`` (``meta``: train from scratch; ``adapt``:
fine-tune ``ckpt`` on ``target_domain``), ``freeze_avmm`` (``auto``: when no
target training example has audio). The meta-learning options
(``source_domains``, ``meta``, ``inner_lr``, ``outer_lr``, ``second_order``)
belong to the ``meta`` training strategy (:mod:`vxt.train.meta`).
"""

from __future__ import annotations

DEFAULTS: dict = {
    "d_model": 1024, "heads": 8, "d_ff": 4096, "dropout": 0.1,
    "avmm_layers": 2, "enc_layers": 4, "cross_layers": 4, "dec_layers": 8,
    "n_clusters": 64, "clip_seconds": 1.0, "max_units": 64, "max_frames": 128, "max_len": 30,
    "lambda": 1e-4, "mu": 1e-2, "tau": 0.4, "rec_weight": 1.0,
    "n_negatives": 4, "dep_negatives": 1,
    "use_wma": True, "wma_normalize": True,
    "use_avmm": True, "use_audio": True, "use_real_audio": True,
    "d_video": 2048, "d_audio": 128,
}

BUILD_DEFAULTS: dict = {
    "feature_settings": {"video_classifier": "resnet101", "audio_classifier": "vggish", "frames": 1,
                         "step": 0.5, "size": 224, "fps": None, "audio_window": 0.96},
    "video_weights": None, "audio_weights": None, "feature_norm": False,
    "cluster_audio": None, "cluster_seed": 0, "kmeans_iters": 50, "min_word_freq": 1,
    "stage": "meta", "ckpt": None, "target_domain": None, "freeze_avmm": "auto",
}

#: keys of the training strategy (vxt.train.meta) and of the loop, accepted and ignored by the builder
STRATEGY_KEYS = ("task", "source_domains", "meta", "inner_lr", "outer_lr", "second_order")

PRESETS: dict[str, dict] = {
    "tavt-base": {},
    "tavt-tiny": {
        "d_model": 32, "heads": 2, "d_ff": 64, "dropout": 0.0,
        "avmm_layers": 1, "enc_layers": 1, "cross_layers": 1, "dec_layers": 1,
        "n_clusters": 8, "max_units": 16, "max_frames": 32, "max_len": 16, "n_negatives": 3,
        "d_video": 32, "d_audio": 32,
        "feature_settings": {"video_classifier": "tiny-video", "audio_classifier": "tiny-audio", "frames": 1,
                             "step": 0.5, "size": 32, "fps": None, "audio_window": 0.96},
        "feature_norm": True,
    },
}

STAGES = ("meta", "adapt")

#: the architecture ablations (see the module docstring)
SWITCHES = ("use_avmm", "use_audio", "use_real_audio")


def ablation_switches(cfg: dict) -> dict:
    """The effective ``use_avmm`` / ``use_audio`` / ``use_real_audio`` / ``use_wma`` of a config (a checkpoint
    written before the switches existed has all true); a value that is not true/false, or a combination
    that cannot be built, is a one-line error."""
    from vxt.errors import VxtError

    out = {}
    for key in (*SWITCHES, "use_wma"):
        v = cfg.get(key, True)
        if not isinstance(v, bool):
            raise VxtError(f"--set {key}= takes true or false, got {v!r}")
        out[key] = v
    if not out["use_audio"]:
        out["use_avmm"] = out["use_wma"] = False  # no audio: nothing to reconstruct, no audio gate for psi
        if not out["use_real_audio"]:
            raise VxtError("use_real_audio=false feeds A_rec in place of the audio: it needs use_audio=true")
    elif not out["use_real_audio"] and not out["use_avmm"]:
        raise VxtError("use_real_audio=false feeds the AVMM's A_rec in place of the audio: it needs use_avmm=true")
    return out
