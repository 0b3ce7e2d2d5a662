#!/usr/bin/env bash
# avcap fine-tuned on MSR-VTT (Shen et al., 2023; issue #12) from its HowTo100M pre-training; recipes/msrvtt is
# VX2TEXT's recipe for the same benchmark.
#
#   recipes/msrvtt-avcap/run.sh --root /data/msrvtt [--pretrain_exp exp/howto100m-avcap] [--nproc 8] [--stage N]
#
# --root holds videodatainfo.json (or train_val_videodatainfo.json + test_videodatainfo.json) and the clips
# <video_id>.mp4 (TrainValVideo/, TestVideo/, videos/ or anywhere under the root; an .srt beside a clip is its
# transcript). Stages: 1 vxt prepare msrvtt (one caption example per clip, its 20 sentences the references),
# 2 the speech coverage rate (when the manifests hold transcripts), 3 vxt train --stage finetune --set
# init=PRETRAIN_EXP (Adam 1e-5), 4 decode the test split with beam 5 (the checkpoint val picked), 5 vxt score
# and $exp/RESULTS.md beside the paper's numbers.
# Options: the shared ones (recipes/avcap_real.sh); after --, any `vxt train` option.

. "$(dirname "$0")/../avcap_real.sh"
avcap_finetune_defaults
dataset=msrvtt
dataset_name=MSR-VTT
data=data/msrvtt
exp=exp/msrvtt-avcap

. "$(dirname "$0")/../common.sh" "$@"
avcap_finetune_recipe
