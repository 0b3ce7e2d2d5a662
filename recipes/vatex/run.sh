#!/usr/bin/env bash
# avcap fine-tuned on VATEX, English captions (Shen et al., 2023; issue #12) from its HowTo100M pre-training.
#
#   recipes/vatex/run.sh --root /data/vatex [--pretrain_exp exp/howto100m-avcap] [--eval_split test|val] [--stage N]
#
# --root holds vatex_training_v1.0.json, vatex_validation_v1.0.json, vatex_public_test_english_v1.1.json (videoID,
# enCap) and the videos: the trimmed clips <videoID>.mp4 or the whole YouTube videos <ytid>.mp4, anywhere under
# the root. Stages: 1 vxt prepare vatex (one caption example per clip, its English captions the references),
# 2 the speech coverage rate (when the manifests hold transcripts), 3 vxt train --stage finetune --set
# init=PRETRAIN_EXP (Adam 1e-5), 4 decode the public test split with beam 5 (the checkpoint val picked),
# 5 vxt score and $exp/RESULTS.md beside the paper's numbers.
# Options: the shared ones (recipes/avcap_real.sh); after --, any `vxt train` option.

. "$(dirname "$0")/../avcap_real.sh"
avcap_finetune_defaults
dataset=vatex
dataset_name="VATEX (English)"
data=data/vatex
exp=exp/vatex-avcap

. "$(dirname "$0")/../common.sh" "$@"
avcap_finetune_recipe
