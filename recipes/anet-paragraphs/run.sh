#!/usr/bin/env bash
# avcap on ActivityNet Captions paragraphs (Shen et al., 2023; issue #12), fine-tuned from its HowTo100M
# pre-training: trained on the sentence-level segments, scored as one paragraph per video against val_1's and
# val_2's. recipes/anet is BMT's dense captioning on the same files.
#
#   recipes/anet-paragraphs/run.sh --root /data/anet [--pretrain_exp exp/howto100m-avcap] [--nproc 8] [--stage N]
#
# --root holds train.json, val_1.json, val_2.json and the videos (videos/v_<id>.mp4, or anywhere under the root).
# Stages: 1 vxt prepare anet (a caption example per segment; train.json -> train, val_1 -> val, val_2 -> test),
# 2 the speech coverage rate (when the manifests hold transcripts), 3 vxt train --stage finetune --set
# init=PRETRAIN_EXP on the train segments (Adam 1e-5), 4 caption val_1's segments (the val split, beam 5, the
# last checkpoint), 5 vxt score --paragraph (each video's captions in start order against both references)
# and $exp/RESULTS.md beside the paper's numbers.
# Options: the shared ones (recipes/avcap_real.sh); after --, any `vxt train` option.

. "$(dirname "$0")/../avcap_real.sh"
avcap_finetune_defaults
dataset=anet
dataset_name="ActivityNet Captions"
data=data/anet-paragraphs
exp=exp/anet-paragraphs-avcap
eval_split=val
ckpt=last
score_opts=(--paragraph)

. "$(dirname "$0")/../common.sh" "$@"
avcap_finetune_recipe
