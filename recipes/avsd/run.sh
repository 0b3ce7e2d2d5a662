#!/usr/bin/env bash
# AVSD (DSTC7 audio-visual scene-aware dialog on Charades) with VX2TEXT (Lin et al., CVPR 2021), Table 1.
#
#   recipes/avsd/run.sh --root /data/avsd [--with_caption true|false] [--stage N] [--stop-stage N] [--force true]
#                       [--video_weights F] [--audio_weights F] [--text_backbone DIR] [-- extra vxt train args]
#
# --root holds train_set4DSTC7-AVSD.json, valid_set4DSTC7-AVSD.json, test_set4DSTC7-AVSD.json and the Charades
# videos <image_id>.mp4 (in videos/ or anywhere under the root). Stages:
#   1 prepare    vxt prepare avsd (one dialog example per turn; test: the last turn, 6 references)
#   2 tokenize   the text tokenizer (the backbone's when --text_backbone is set) and the category tokens
#   3 train      vxt train --task dialog
#   4 decode     the test split, beam search
#   5 score      vxt score; the table goes to $exp/RESULTS.md
# Paper settings: vx2text-base (R(2+1)D-34 + CNN14 + T5-base), K_v 12, K_a 6, Adam 1e-4 for 40 epochs, lr / 10 at
# epochs 20 and 30 (vxt train does it at 50% and 75%), beam 5; with_caption picks the Table 1 row (the Charades
# caption and summary as text input, or not).

stage=1
stop_stage=100
root=
force=false
with_caption=true   # true: the caption + summary are text inputs (Table 1, "with caption"); false: without
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
data=               # default: data/avsd (with caption) or data/avsd-nocaption
exp=                # default: exp/avsd/<model>-<caption|nocaption>-lr<lr>-ep<epochs>[-steps<N>]
score_args=         # e.g. --no-java (no METEOR; not comparable to published numbers)
python=python3

. "$(dirname "$0")/../common.sh" "$@"

case "$with_caption" in
  true) cap=caption; cap_opt=--with-caption ;;
  false) cap=nocaption; cap_opt=--no-caption ;;
  *) echo "$(basename "$0"): --with_caption must be true or false" >&2; exit 2 ;;
esac
dataset=avsd dataset_name="AVSD ($cap)" task=dialog
data=${data:-data/avsd$([ "$cap" = caption ] || echo "-nocaption")}
exp_tag=$cap        # exp/avsd/<model>-<caption|nocaption>-lr...
prepare_args=("$cap_opt")
decode_splits=test
score_split=test score_note=
title="AVSD test, VX2TEXT $model, $([ "$cap" = caption ] && echo with || echo without) caption"

. "$(dirname "$0")/../vx2text.sh"
