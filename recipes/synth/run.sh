#!/usr/bin/env bash
# The synthetic recipe: the main job of vxt (`make demo`), from nothing to a score table on a CPU.
#
# Stages (ESPnet style; run a part with --stage N --stop-stage M):
#   1  vxt prepare synth           generate the corpus (mp4 + srt) and its media cache    -> data/synth
#   2  vxt train --task classify   pre-train the video (motions) and audio (sounds) classifiers
#   3  vxt tokenize                the text tokenizer and the classifiers' category tokens
#   4  vxt train --task T          VX2TEXT (vx2text-tiny) for caption, qa and dialog
#   5  vxt decode --split test     predictions on the test split
#   6  vxt score                   the metrics; the table is printed and written to exp/synth/RESULTS.md
#
# Options: --stage N --stop-stage N --force true --data DIR --exp DIR --n_train N --n_val N --n_test N
#          --epochs N --qa_epochs N --qa_inputs M,M --classifier_lr_scale X --k_video K --k_audio K --video_cls_epochs N --audio_cls_epochs N --lr LR --seed N --workers N --tasks "caption qa dialog"
#          --beam N --batch_size N --score_args "..." (e.g. --no-java) --python PY
#          and, after --, any `vxt train` option for stage 4 (e.g. -- --tokenization frozen).

stage=1
stop_stage=100
force=false
root=
data=data/synth
exp=exp/synth
n_train=800
n_val=100
n_test=100
workers=2
video_cls_epochs=20
audio_cls_epochs=5
epochs=8
# QA: 5 questions per clip (one of each type), so 2 epochs are 500 steps
qa_epochs=2
batch_size=16
lr=1e-3
seed=0
beam=5
# The synthetic label spaces are small (8 motions, 6 sounds) and each clip has one motion and one sound:
# K_v = K_a = 1. (The paper's K_v = 12, K_a = 6 are for Kinetics' 400 and AudioSet's 527 classes; with
# K >= the number of classes every category is always selected and only their order is left to tell.)
k_video=1
k_audio=1
# lr 1e-3 (10x the paper's 1e-4, for the tiny model from scratch) would wash the pre-trained classifiers out
# in end-to-end training; they learn at 1e-4
classifier_lr_scale=0.1
# QA reads the candidates only to score them: with them in its input as well, the tiny T5 trained from
# scratch stays at chance (it must pick among 5 look-alike phrases instead of reading the tokens); the paper's
# pre-trained T5-base takes them as input (recipes/tvqa)
qa_inputs="video,audio,subtitles,question"
tasks="caption qa dialog"
score_args=
python=python3

. "$(dirname "$0")/../common.sh" "$@"

SECONDS=0
video_cls=$exp/classify-video
audio_cls=$exp/classify-audio

if stage_on 1 "prepare the synthetic corpus"; then
  done_or_run "$data/prepare_report.json" \
    $VXT prepare synth --out "$data" --n-train "$n_train" --n-val "$n_val" --n-test "$n_test" --seed "$seed" --workers "$workers"
fi

if stage_on 2 "pre-train the modality classifiers (motions, sounds)"; then
  done_or_run "$exp/classify-video/train_summary.json" \
    $VXT train "${train_rerun[@]}" --task classify --modality video --data "$data" --epochs "$video_cls_epochs" --batch-size "$batch_size" \
      --lr 3e-3 --seed "$seed" --out "$exp/classify-video"
  done_or_run "$exp/classify-audio/train_summary.json" \
    $VXT train "${train_rerun[@]}" --task classify --modality audio --data "$data" --epochs "$audio_cls_epochs" --batch-size "$batch_size" \
      --lr 3e-3 --seed "$seed" --out "$exp/classify-audio"
fi

if stage_on 3 "tokenizer and category tokens"; then
  done_or_run "$data/tokens/test.jsonl" \
    $VXT tokenize "$data" --video-weights "$video_cls" --audio-weights "$audio_cls" --k-video "$k_video" --k-audio "$k_audio"
fi

if stage_on 4 "train VX2TEXT"; then
  for t in $tasks; do
    task_args=(--epochs "$epochs")
    if [ "$t" = qa ]; then task_args=(--epochs "$qa_epochs" --modalities "$qa_inputs"); fi
    done_or_run "$exp/$t/train_summary.json" \
      $VXT train "${train_rerun[@]}" --task "$t" --data "$data" --model vx2text-tiny "${task_args[@]}" --batch-size "$batch_size" \
        --lr "$lr" --seed "$seed" --video-weights "$video_cls" --audio-weights "$audio_cls" \
        --set k_video="$k_video" --set k_audio="$k_audio" --set classifier_lr_scale="$classifier_lr_scale" \
        --out "$exp/$t" ${extra_train_args[@]+"${extra_train_args[@]}"}
  done
fi

if stage_on 5 "decode the test split"; then
  for t in $tasks; do
    done_or_run "$exp/$t/preds_test.json" \
      $VXT decode "$data" --task "$t" --split test --ckpt "$exp/$t" --beam "$beam" --out "$exp/$t/preds_test.json"
  done
fi

if stage_on 6 "score"; then
  for t in $tasks; do
    log "  \$ $VXT score $exp/$t/preds_test.json $score_args"
    # shellcheck disable=SC2086
    $VXT score "$exp/$t/preds_test.json" $score_args >/dev/null
  done
  "$python" "$(dirname "$0")/../results_table.py" --title "vxt synthetic benchmark (test split, seed $seed)" \
    --out "$exp/RESULTS.md" $(for t in $tasks; do echo "$t=$exp/$t/preds_test.scores.json"; done)
  cat "$exp/RESULTS.md"
fi
log "done in ${SECONDS} s"
