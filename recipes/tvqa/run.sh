#!/usr/bin/env bash
# TVQA (multiple-choice video QA on TV shows) with VX2TEXT (Lin et al., CVPR 2021).
#
#   recipes/tvqa/run.sh --root /data/tvqa [--stage N] [--stop-stage N] [--force true]
#                       [--video_weights F] [--audio_weights F] [--text_backbone DIR] [-- extra vxt train args]
#
# --root holds tvqa_train.jsonl, tvqa_val.jsonl, tvqa_test_public.jsonl, the subtitles
# (tvqa_preprocessed_subtitles.jsonl, any *sub*.jsonl) and the 3 fps frame folders <vid_name>/00001.jpg ...
# (found up to four levels under the root, e.g. frames_hq/bbt_frames/<vid_name>). Stages:
#   1 prepare    vxt prepare tvqa (one qa example per question; frames carry no audio)
#   2 tokenize   the text tokenizer (the backbone's when --text_backbone is set) and the category tokens
#   3 train      vxt train --task qa (generative: the answer is generated with every candidate in the input)
#   4 decode     val and test (the public test split has no answers: submit preds_test.json to the leaderboard);
#                answers are picked by candidate scoring (the candidate the decoder finds most likely)
#   5 score      vxt score on val (accuracy); the table goes to $exp/RESULTS.md
# Paper settings: vx2text-base (R(2+1)D-34 + CNN14 + T5-base), K_v 12, K_a 6, Adam 1e-4 for 40 epochs, lr / 10 at
# epochs 20 and 30 (vxt train does it at 50% and 75%).

stage=1
stop_stage=100
root=
force=false
model=vx2text-base
k_video=12
k_audio=6
video_weights=      # local R(2+1)D-34 Kinetics checkpoint (torchvision layout); empty: random init
audio_weights=      # local PANNs Cnn14_16k_mAP=0.438.pth; empty: random init (TVQA frames have no audio anyway)
text_backbone=      # local T5-base dir (save_pretrained); empty: the model preset's default
epochs=40
batch_size=32       # vxt's choice (not a paper setting)
lr=1e-4
max_steps=          # a cap on optimizer steps (smoke runs); empty: not passed
eval_limit=         # validation examples during training; empty: vxt train's default
seed=0
workers=4
data=data/tvqa
exp=                # default: exp/tvqa/<model>-lr<lr>-ep<epochs>[-steps<N>]
score_args=
python=python3

. "$(dirname "$0")/../common.sh" "$@"

dataset=tvqa dataset_name=TVQA task=qa
prepare_args=()
decode_splits="val test"
score_split=val score_note="val (the public test split has no answers)"
title="TVQA val, VX2TEXT $model"

. "$(dirname "$0")/../vx2text.sh"
