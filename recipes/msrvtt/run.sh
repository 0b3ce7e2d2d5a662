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

exp=${exp:-exp/msrvtt/$model-lr$lr-ep$epochs${max_steps:+-steps$max_steps}}
case "$model" in
  vx2text-base) classifiers=(--video-classifier r2plus1d_34 --audio-classifier cnn14) ;;
  vx2text-small) classifiers=(--video-classifier r2plus1d_18 --audio-classifier cnn14) ;;
  *) classifiers=(--video-classifier tiny-video --audio-classifier tiny-audio) ;;
esac
weights=()
[ -n "$video_weights" ] && weights+=(--video-weights "$video_weights")
[ -n "$audio_weights" ] && weights+=(--audio-weights "$audio_weights")
backbone=()
[ -n "$text_backbone" ] && backbone+=(--backbone "$text_backbone")
train_opts=(--set "k_video=$k_video" --set "k_audio=$k_audio")
[ -n "$text_backbone" ] && train_opts+=(--set "text_backbone=$text_backbone")
[ -n "$max_steps" ] && train_opts+=(--max-steps "$max_steps")
[ -n "$eval_limit" ] && train_opts+=(--eval-limit "$eval_limit")

if stage_on 1 "prepare MSR-VTT into $data"; then
  [ -n "$root" ] || { echo "$(basename "$0"): --root is required for stage 1" >&2; exit 2; }
  done_or_run "$data/prepare_report.json" $VXT prepare msrvtt --root "$root" --out "$data" --workers "$workers"
fi

if stage_on 2 "tokenizer and category tokens (K_v $k_video, K_a $k_audio)"; then
  done_or_run "$data/tokens/settings.json" $VXT tokenize "$data" --k-video "$k_video" --k-audio "$k_audio" \
    "${classifiers[@]}" ${weights[@]+"${weights[@]}"} ${backbone[@]+"${backbone[@]}"}
fi

if stage_on 3 "train $model (caption) into $exp"; then
  done_or_run "$exp/train_summary.json" $VXT train --task caption --data "$data" --model "$model" --epochs "$epochs" \
    --batch-size "$batch_size" --lr "$lr" --seed "$seed" ${weights[@]+"${weights[@]}"} "${train_opts[@]}" --out "$exp" \
    ${extra_train_args[@]+"${extra_train_args[@]}"}
fi

if stage_on 4 "decode the test split (beam $beam)"; then
  done_or_run "$exp/preds_test.json" $VXT decode "$data" --task caption --split test --ckpt "$exp" --beam "$beam" \
    --out "$exp/preds_test.json"
fi

if stage_on 5 "score"; then
  done_or_run "$exp/preds_test.scores.json" $VXT score "$exp/preds_test.json" --out "$exp/preds_test.scores.json" $score_args
  done_or_run "$exp/RESULTS.md" "$python" "$(dirname "$0")/../results_table.py" \
    --title "MSR-VTT test, VX2TEXT $model" --out "$exp/RESULTS.md" "caption=$exp/preds_test.scores.json"
  cat "$exp/RESULTS.md"
fi
