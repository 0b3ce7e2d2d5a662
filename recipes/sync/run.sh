#!/usr/bin/env bash
# SparseSync on synthetic foley (issue #14): how far is a video's sound off?
# Pre-train on dense foley (a regular rhythm of hits: the easy case, as LRS3 is for the paper), fine-tune on
# sparse foley (1-3 sounding events in 10 s among silent movers and off-screen sounds: the VGGSound-Sparse case),
# decode the test split at its fixed offsets and score; then shift a test clip's audio by a known amount and
# check that `vxt decode --task sync` finds it.
#
# Stages (ESPnet style; run a part with --stage N --stop-stage M):
#   1  vxt prepare synth --mode foley --events dense|sparse      -> $data/dense, $data/sparse
#   2  vxt train --task sync on dense (pre-training), one run per seed   -> $exp/dense-seedS
#   3  vxt train --task sync on sparse, per cell and seed: from the dense run (`pretrained`), from scratch
#      (`scratch`), pretrained without selectors (`no-selectors`)      -> $exp/sparse-CELL-seedS
#      The input-length cells `len3` .. `len7` (the paper's 3 / 4 / 5 / 6 / 7 s ablation) pre-train and fine-tune
#      on $len_seconds s foley clips ($data/len/dense, $data/len/sparse; --seconds, so that a 7 s trim fits with
#      +-2 s of offset), with trims of N s; every length is tested on the same clips, offsets and starts.
#   4  vxt decode --split test and vxt score, per run (accuracy, within +-1 class, 3-class, confusion PNG)
#   5  the shift check: a test clip's audio moved by +$shift s (`vxt decode --fix --set shift=`), decoded by
#      every pretrained run                                            -> $exp/shift_check.json
#   6  the report: $exp/RESULTS.md and results.json (mean +- std over the seeds), plots
#
# Options: --stage N --stop-stage N --force true --data DIR --exp DIR --seeds "0 1 2" --cells "..."
#          --n_train N --n_val N --n_test N --workers N --model NAME --dense_steps N --sparse_steps N
#          --batch_size N --lr LR --shift S --len_seconds S --python PY, and after --, any `vxt train` option for
#          every run.

stage=1
stop_stage=100
force=false
root=
data=data/sync
exp=exp/sync
seeds="0 1 2"
cells="pretrained scratch"
n_train=240
n_val=24
n_test=48
workers=2
model=sparsesync-tiny
dense_steps=1500
sparse_steps=1500
batch_size=8
lr=3e-4
shift=0.6
len_seconds=11      # the clip length of the input-length cells (a 7 s trim needs 7 + 2 x 2 s)
python=python3

. "$(dirname "$0")/../common.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
steps_args() { echo --max-steps "$1" --epochs 1000; }

len_cells=$(for c in $cells; do case "$c" in len*) echo "$c" ;; esac; done)
data_of() { case "$2" in len*) echo "$data/len/$1" ;; *) echo "$data/$1" ;; esac; }  # data_of dense|sparse CELL

if stage_on 1 "prepare synthetic foley: dense (pre-training) and sparse (fine-tuning, test)"; then
  for ev in dense sparse; do
    done_or_run "$data/$ev/prepare_report.json" \
      $VXT prepare synth --mode foley --events "$ev" --out "$data/$ev" --n-train "$n_train" --n-val "$n_val" \
        --n-test "$n_test" --seed 0 --workers "$workers"
    if [ -n "$len_cells" ]; then
      done_or_run "$data/len/$ev/prepare_report.json" \
        $VXT prepare synth --mode foley --events "$ev" --seconds "$len_seconds" --out "$data/len/$ev" \
          --n-train "$n_train" --n-val "$n_val" --n-test "$n_test" --seed 0 --workers "$workers"
    fi
  done
fi

train() {  # train OUT DATA SEED STEPS ARGS...
  local out=$1 d=$2 seed=$3 steps=$4; shift 4
  done_or_run "$out/train_summary.json" \
    $VXT train "${train_rerun[@]}" --task sync --model "$model" --data "$d" $(steps_args "$steps") \
      --batch-size "$batch_size" --lr "$lr" --seed "$seed" "$@" ${extra_train_args[@]+"${extra_train_args[@]}"} \
      --out "$out"
}

if stage_on 2 "pre-train on dense foley ($dense_steps steps, seeds $seeds)"; then
  for s in $seeds; do train "$exp/dense-seed$s" "$data/dense" "$s" "$dense_steps"; done
fi

if stage_on 3 "fine-tune on sparse foley (cells: $cells)"; then
  for s in $seeds; do
    for c in $cells; do
      case "$c" in
        pretrained) train "$exp/sparse-$c-seed$s" "$data/sparse" "$s" "$sparse_steps" --set init="$exp/dense-seed$s" ;;
        scratch) train "$exp/sparse-$c-seed$s" "$data/sparse" "$s" "$sparse_steps" ;;
        no-selectors)
          train "$exp/dense-noselect-seed$s" "$data/dense" "$s" "$dense_steps" --set selectors=false
          train "$exp/sparse-$c-seed$s" "$data/sparse" "$s" "$sparse_steps" --set init="$exp/dense-noselect-seed$s" ;;
        len[3-7])
          train "$exp/dense-$c-seed$s" "$data/len/dense" "$s" "$dense_steps" --set clip_seconds="${c#len}"
          train "$exp/sparse-$c-seed$s" "$data/len/sparse" "$s" "$sparse_steps" --set clip_seconds="${c#len}" \
            --set init="$exp/dense-$c-seed$s" ;;
        *) echo "$(basename "$0"): unknown cell $c (pretrained, scratch, no-selectors, len3 .. len7)" >&2; exit 2 ;;
      esac
    done
  done
fi

if stage_on 4 "decode the sparse test split at its fixed offsets and score"; then
  for s in $seeds; do
    for run in "$exp/dense-seed$s" $(for c in $cells; do echo "$exp/sparse-$c-seed$s"; done); do
      cell=${run##*/sparse-}; cell=${cell%-seed*}
      done_or_run "$run/preds_test.json" $VXT decode "$(data_of sparse "$cell")" --task sync --split test \
        --ckpt "$run" --out "$run/preds_test.json"
      done_or_run "$run/preds_test.scores.json" $VXT score "$run/preds_test.json" --no-java
    done
  done
fi

if stage_on 5 "shift check: a test clip's audio moved by +$shift s, decoded"; then
  clip=$("$python" -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(next(x['video'] for x in r if x['task']=='sync'))" "$data/sparse/test.jsonl")
  mkdir -p "$exp/shift"
  shifted=$exp/shift/shifted.mp4
  first=$exp/sparse-pretrained-seed${seeds%% *}
  done_or_run "$shifted" $VXT decode "$data/sparse/$clip" --task sync --ckpt "$first" --fix --set shift="$shift" \
    --out "$shifted"
  for s in $seeds; do
    for c in $cells; do
      case "$c" in len*) continue ;; esac  # the check is of 5 s trims of the 10 s clip
      done_or_run "$exp/shift/$c-seed$s.sync.preds.json" $VXT decode "$shifted" --task sync \
        --ckpt "$exp/sparse-$c-seed$s" --out "$exp/shift/$c-seed$s.sync.preds.json"
    done
  done
fi

if stage_on 6 "report: $exp/RESULTS.md"; then
  log "  \$ $python $here/report.py $exp --seeds \"$seeds\" --cells \"$cells\" --shift $shift"
  "$python" "$here/report.py" "$exp" --seeds "$seeds" --cells "$cells" --shift "$shift"
fi
log "done in ${SECONDS} s"
