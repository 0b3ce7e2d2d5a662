#!/usr/bin/env bash
# MSR-VTT (video captioning) with VX2TEXT's settings (the paper reports no MSR-VTT number).
#
#   recipes/msrvtt/run.sh --root /data/msrvtt [--stage N] [--stop-stage N] [--force true]
#                         [--video_weights F] [--audio_weights F] [--text_backbone DIR] [-- extra vxt train args]
#
# --root holds videodatainfo.json (or the release's train_val_videodatainfo.json + test_videodatainfo.json) and the
# clips <video_id>.mp4 (in TrainValVideo/, TestVideo/, videos/ or anywhere under the root). Stages:
#   1 prepare    vxt prepare msrvtt (one caption example per clip, its 20 sentences as references)
#   2 tokenize   the text tokenizer (the backbone's when --text_backbone is set) and the category tokens
#   3 train      vxt train --task caption
#   4 decode     the test split, beam search
#   5 score      vxt score; the table goes to $exp/RESULTS.md
# VX2TEXT's settings (as for AVSD and TVC): vx2text-base (R(2+1)D-34 + CNN14 + T5-base), K_v 12, K_a 6,
# Adam 1e-4 for 40 epochs, lr / 10 at epochs 20 and 30 (vxt train does it at 50% and 75%), beam 5.

stage=1
stop_stage=100
root=
force=false
model=vx2text-base
k_video=12
k_audio=6
video_weights=      # local R(2+1)D-34 Kinetics checkpoint (torchvision layout); empty: random init
audio_weights=      # local PANNs Cnn14_16k_mAP=0.438.pth; empty: random init
text_backbone=      # local T5-base dir (save_pretrained); empty: the model preset's default
epochs=40
batch_size=32       # vxt's choice (not a paper setting)
lr=1e-4
max_steps=          # a cap on optimizer steps (smoke runs); empty: not passed
eval_limit=         # validation examples during training; empty: vxt train's default
beam=5
seed=0
workers=4
data=data/msrvtt
exp=                # default: exp/msrvtt/<model>-lr<lr>-ep<epochs>[-steps<N>]
score_args=         # e.g. --no-java (no METEOR; not comparable to published numbers)
python=python3

. "$(dirname "$0")/../common.sh" "$@"

dataset=msrvtt dataset_name=MSR-VTT task=caption
prepare_args=()
decode_splits=test
score_split=test score_note=
title="MSR-VTT test, VX2TEXT $model"

. "$(dirname "$0")/../vx2text.sh"
