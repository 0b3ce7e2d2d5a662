#!/usr/bin/env bash
# avcap fine-tuned on YouCook2 (Shen et al., 2023; issue #12) from its HowTo100M pre-training (recipes/howto100m).
#
#   recipes/youcook2/run.sh --root /data/youcook2 [--pretrain_exp exp/howto100m-avcap] [--nproc 8] [--stage N]
#
# --root holds youcookii_annotations_trainval.json and the videos (raw_videos/<subset>/<recipe>/<id>.mp4, or
# anywhere under the root). Stages: 1 vxt prepare youcook2 (one caption example per annotated segment; training ->
# train, validation -> val), 2 the speech coverage rate (when the manifests hold transcripts), 3 vxt train
# --stage finetune --set init=PRETRAIN_EXP (Adam 1e-5, warm-up then linear decay), 4 decode the val split with
# beam 5 (the test annotations are withheld, so val is what is reported; the last checkpoint, not the one val
# picked), 5 vxt score and $exp/RESULTS.md beside the paper's numbers.
# Options: the shared ones (recipes/avcap_real.sh); after --, any `vxt train` option.

. "$(dirname "$0")/../avcap_real.sh"
avcap_finetune_defaults
dataset=youcook2
dataset_name=YouCook2
data=data/youcook2
exp=exp/youcook2-avcap
eval_split=val
ckpt=last

. "$(dirname "$0")/../common.sh" "$@"
avcap_finetune_recipe
