#!/usr/bin/env bash
# Audio-visual captioning from raw audio (Shen et al., 2023; issue #12) on narrated synthetic videos: pre-train
# avcap on the narration (Predict Current + Predict Next Caption, balanced or not), fine-tune on the describing
# captions, decode the test split and score; the paper's ablations as cells, mean +- std over seeds.
#
# Stages (ESPnet style; run a part with --stage N --stop-stage M):
#   1  vxt prepare synth --mode narrated                                   -> $data
#   2  vxt train --stage pretrain (narration examples), per pre-training a cell needs and seed
#                                                                          -> $exp/pretrain-KEY-seedS
#   3  vxt train --stage finetune (describing captions) --set init=<its pre-training>, per cell and seed
#      (no-pretrain: from scratch)                                         -> $exp/finetune-CELL-seedS
#   4  vxt decode --split test (beam $beam) and vxt score $score_args, per fine-tuned run
#   5  the report: $exp/RESULTS.md, results.json, cider.png, losses.png (mean +- std over the seeds)
#
# Cells (--cells: names or the groups objectives, fusion, inputs, all; default objectives):
#   objectives: none gblend mbp (pre-trained with --set balance=..., PCC + PNC), none-nopnc gblend-nopnc mbp-nopnc
#               (the same with --set pnc=false: PCC alone), no-pretrain (fine-tuned from scratch)
#   fusion:     fusion-merged fusion-cross fusion-global fusion-local_global_merged fusion-local_global_cross
#               (MBP pre-training with --set fusion=NAME, then fine-tuned; local_global_merged is the mbp cell)
#   inputs:     inputs-A inputs-V inputs-VA inputs-VT inputs-VAT (MBP pre-training with --set modalities=...,
#               then fine-tuned; VA is the mbp cell; VAT with --set fusion=mixed: video+audio local-global
#               cross, video+subtitles merged)
#
# Options: --stage N --stop-stage N --force true --data DIR --exp DIR --seeds "0 1 2" --cells "..."
#          --n_train N --n_val N --n_test N --workers N --model NAME --pretrain_steps N --finetune_steps N
#          --batch_size N --pretrain_lr LR --finetune_lr LR --eval_limit N --beam N --score_args "..."
#          --python PY, and after --, any `vxt train` option for every run.

stage=1
stop_stage=100
force=false
root=
data=data/avcap
exp=exp/avcap
seeds="0 1 2"
cells=objectives
n_train=32          # narrated videos (6-10 steps each: a pre-training and a caption example per step)
n_val=4
n_test=8
workers=2
model=avcap-tiny
pretrain_steps=400
finetune_steps=300
batch_size=8
pretrain_lr=1e-3    # the paper's 1e-4 / 1e-5, times 10 for a tiny model trained a few hundred steps from scratch
finetune_lr=1e-4
eval_limit=32
beam=5
score_args=--no-java  # METEOR needs Java: pass --score_args "" to score with it
python=python3

. "$(dirname "$0")/../common.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
steps_args() { echo --max-steps "$1" --epochs 1000; }

OBJECTIVE_CELLS="none gblend mbp none-nopnc gblend-nopnc mbp-nopnc no-pretrain"
FUSION_CELLS="fusion-merged fusion-cross fusion-global fusion-local_global_merged fusion-local_global_cross"
INPUT_CELLS="inputs-A inputs-V inputs-VA inputs-VT inputs-VAT"
expanded=
for c in $cells; do
  case "$c" in
    objectives) expanded+=" $OBJECTIVE_CELLS" ;;
    fusion) expanded+=" $FUSION_CELLS" ;;
    inputs) expanded+=" $INPUT_CELLS" ;;
    all) expanded+=" $OBJECTIVE_CELLS $FUSION_CELLS $INPUT_CELLS" ;;
    *) expanded+=" $c" ;;
  esac
done
cells=$(echo $expanded | tr ' ' '\n' | awk '!seen[$0]++' | tr '\n' ' ')
cells=${cells% }

inputs_args() {  # A V VA VT VAT -> the `vxt train` options of the input set (V+A+T: the paper's mixed fusion)
  case "$1" in
    A) echo --set modalities=audio ;; V) echo --set modalities=video ;; VA) echo --set modalities=video,audio ;;
    VT) echo --set modalities=video,subtitles ;;
    VAT) echo --set modalities=video,audio,subtitles --set fusion=mixed ;; *) return 1 ;;
  esac
}

# the pre-training a cell starts from ("" for none): a key naming $exp/pretrain-KEY-seedS; cells with the
# default settings (fusion-local_global_merged, inputs-VA) share the mbp cell's runs
pretrain_of() {
  case "$1" in
    none|gblend|mbp|none-nopnc|gblend-nopnc|mbp-nopnc) echo "$1" ;;
    no-pretrain) echo "" ;;
    fusion-local_global_merged|inputs-VA) echo mbp ;;
    fusion-merged|fusion-cross|fusion-global|fusion-local_global_cross) echo "mbp-$1" ;;
    inputs-A|inputs-V|inputs-VT|inputs-VAT) echo "mbp-$1" ;;
    *) echo "$(basename "$0"): unknown cell $1 ($OBJECTIVE_CELLS, $FUSION_CELLS, $INPUT_CELLS;" \
            "groups objectives, fusion, inputs, all)" >&2
       return 2 ;;
  esac
}
pretrain_args() {  # the `vxt train` options of a pre-training key
  case "$1" in
    none|gblend|mbp) echo --set balance="$1" ;;
    *-nopnc) echo --set balance="${1%-nopnc}" --set pnc=false ;;
    mbp-fusion-*) echo --set balance=mbp --set fusion="${1#mbp-fusion-}" ;;
    mbp-inputs-*) echo --set balance=mbp "$(inputs_args "${1#mbp-inputs-}")" ;;
  esac
}
finetune_of() {  # the fine-tuned run's name
  case "$1" in
    fusion-local_global_merged|inputs-VA) echo mbp ;;
    *) echo "$1" ;;
  esac
}
for c in $cells; do pretrain_of "$c" >/dev/null || exit 2; done
pretrain_keys=$(for c in $cells; do pretrain_of "$c"; done | awk 'NF && !seen[$0]++' | tr '\n' ' ')
finetune_runs=$(for c in $cells; do finetune_of "$c"; done | awk '!seen[$0]++' | tr '\n' ' ')

if stage_on 1 "prepare narrated synthetic videos ($n_train / $n_val / $n_test)"; then
  done_or_run "$data/prepare_report.json" \
    $VXT prepare synth --mode narrated --out "$data" --n-train "$n_train" --n-val "$n_val" --n-test "$n_test" \
      --seed 0 --workers "$workers"
fi

train() {  # train OUT SEED STEPS LR ARGS...
  local out=$1 seed=$2 steps=$3 lr=$4; shift 4
  done_or_run "$out/train_summary.json" \
    $VXT train "${train_rerun[@]}" --task caption --model "$model" --data "$data" $(steps_args "$steps") \
      --batch-size "$batch_size" --lr "$lr" --seed "$seed" --eval-limit "$eval_limit" "$@" \
      ${extra_train_args[@]+"${extra_train_args[@]}"} --out "$out"
}

if stage_on 2 "pre-train on the narration ($pretrain_steps steps; ${pretrain_keys:-nothing}; seeds $seeds)"; then
  for s in $seeds; do
    for k in $pretrain_keys; do
      # shellcheck disable=SC2046
      train "$exp/pretrain-$k-seed$s" "$s" "$pretrain_steps" "$pretrain_lr" --stage pretrain $(pretrain_args "$k")
    done
  done
fi

if stage_on 3 "fine-tune on the describing captions ($finetune_steps steps; cells: $cells)"; then
  for s in $seeds; do
    for c in $finetune_runs; do
      k=$(pretrain_of "$c")
      if [ -n "$k" ]; then
        train "$exp/finetune-$c-seed$s" "$s" "$finetune_steps" "$finetune_lr" --stage finetune \
          --set init="$exp/pretrain-$k-seed$s"
      else
        train "$exp/finetune-$c-seed$s" "$s" "$finetune_steps" "$finetune_lr" --stage finetune
      fi
    done
  done
fi

if stage_on 4 "decode the test captions (beam $beam) and score"; then
  for s in $seeds; do
    for c in $finetune_runs; do
      run=$exp/finetune-$c-seed$s
      done_or_run "$run/preds_test.json" $VXT decode "$data" --task caption --split test --ckpt "$run" \
        --beam "$beam" --out "$run/preds_test.json"
      # shellcheck disable=SC2086
      done_or_run "$run/preds_test.scores.json" $VXT score "$run/preds_test.json" $score_args
    done
  done
fi

if stage_on 5 "report: $exp/RESULTS.md"; then
  log "  \$ $python $here/report.py $exp --seeds \"$seeds\" --cells \"$cells\""
  "$python" "$here/report.py" "$exp" --seeds "$seeds" --cells "$cells"
fi
log "done in ${SECONDS} s"
