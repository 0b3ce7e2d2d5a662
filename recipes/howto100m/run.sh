#!/usr/bin/env bash
# avcap pre-training on HowTo100M (Shen et al., 2023; issue #12): Predict Current + Predict Next Caption from the
# ASR, Modality Balanced Pre-training; the start of recipes/{youcook2,msrvtt-avcap,vatex,anet-paragraphs}/run.sh.
#
#   recipes/howto100m/run.sh --root /data/howto100m [--video_weights swin3d_b_kinetics.pth] [--nproc 8]
#                            [--balance mbp|none|gblend] [--pnc true|false] [--split_list ids.txt] [--stage N]
#
# --root holds caption.json ({video_id: {start: [...], end: [...], text: [...]}}, the ASR sentences) and the videos
# <video_id>.mp4 (videos/ or anywhere under the root). Stages:
#   1 prepare   vxt prepare howto100m: clips of consecutive sentences longer than 5 s, the clip's sentences the
#               current caption, the next sentence the next caption, the ASR cues as subtitles
#   2 coverage  vxt score --coverage (about 100 %: the captions are the transcript)
#   3 pretrain  vxt train --stage pretrain --set balance=mbp --set pnc=true: avcap-base, V+A, local-global merged
#               fusion, Adam 1e-4, 10% linear warm-up then linear decay
# Options: --balance, --pnc, --split_list (test video ids), and the shared ones (recipes/avcap_real.sh: --model
# --modalities --fusion --video_weights --epochs --max_steps --batch_size --nproc --lr --eval_limit --seed
# --workers --data --exp); after --, any `vxt train` option. See README.md.

. "$(dirname "$0")/../avcap_real.sh"
dataset=howto100m
dataset_name=HowTo100M
data=data/howto100m
exp=exp/howto100m-avcap
modalities=video,audio    # V+A, the paper's main setting
fusion=local_global_merged
balance=mbp               # mbp | none (the paper's "w/o MBP") | gblend
pnc=true                  # false: Predict Current Caption alone (the paper's "w/o PNC")
lr=1e-4
epochs=1                  # vxt's choice: one pass over the clips (the issue states no length)
batch_size=128            # vxt's choice (global)
split_list=               # video ids one a line -> test (the rest: train, 1 in 20 videos -> val)

. "$(dirname "$0")/../common.sh" "$@"

SECONDS=0
[ -z "$split_list" ] || prepare_opts=(--split-list "$split_list")
objectives="PCC + PNC"
[ "$pnc" = true ] || objectives=PCC

if stage_on 1 "prepare $dataset_name into $data"; then
  avcap_prepare
fi
if stage_on 2 "speech coverage rate of $data"; then
  avcap_coverage
fi
if stage_on 3 "pre-train $model on $dataset_name ($objectives, balance=$balance; Adam $lr, warm-up 10% then linear" \
    "decay) into $exp"; then
  avcap_train "$exp" pretrain --set "balance=$balance" --set "pnc=$pnc"
fi
log "done in ${SECONDS} s"
