#!/usr/bin/env bash
# TAVT on synthetic visual domains (issue #13): meta-train on source domains, adapt to held-out ones.
# Five visual styles of the same scenes (`vxt prepare synth --domains`); meta-train `tavt-tiny` on three source
# domains, then per held-out target domain fine-tune on a small support set (the target's train split) and
# caption its test split. One target has its audio removed (manifest `missing: ["audio"]`): its AVMM is frozen
# and the encoder is fed A_rec, the audio reconstructed from the picture. Cells are the paper's ablations that
# vxt has a switch for.
#
# Stages (ESPnet style; run a part with --stage N --stop-stage M):
#   1  vxt prepare synth --domains $sources,$targets                          -> $data
#   2  remove the audio of the $audio_absent target(s): `missing: ["audio"]` on their manifest rows
#      (every split), as the MSVD adapter writes it                          -> $data/audio_removed.json
#   3  meta-train per cell and seed on the source domains                    -> $exp/CELL-seedS
#   4  adapt per cell, seed and target on the target's support set (--stage adapt) -> $exp/CELL-seedS-adapt-T
#   5  vxt decode --split test --set domain=T and vxt score --no-java, per adapted run
#   6  the report: $exp/RESULTS.md, results.json, tavt.png (mean +- std over the seeds) and, when curve
#      cells ran, tavt_support.png (CIDEr against the support share)
#
# Cells: tavt (Algorithm 1), no-maml (`--set meta=none`: plain steps on the pooled sources), no-rec
# (`rec_weight=0`), no-dis (`lambda=0`), no-dep (`mu=0`), no-wma (`use_wma=false`), k4 / k16 / k64
# (`n_clusters=4|16|64`; tavt-tiny's own is 8), no-avmm (`use_avmm=false`), no-audio (`use_audio=false`),
# no-real-audio (`use_real_audio=false`), avcap-maml (the paper's baselines in MAML: `--model $baseline_model
# --strategy meta`, avcap-tiny meta-trained and adapted by Algorithm 1 as TAVT is). An adapted run keeps its
# meta-trained model's settings.
# The low-resource curve (the paper's Fig. 5): CELL-sNN adapts CELL's meta-trained model ($exp/CELL-seedS,
# trained once for all its fractions) on NN% of the support (`--train-fraction 0.NN` in place of
# $support_fraction), e.g. tavt-s10, no-maml-s25; CELL itself is the curve's point at $support_fraction.
#
# Options: --stage N --stop-stage N --force true --data DIR --exp DIR --seeds "0 1 2" --cells "..."
#          --sources a,b,c --targets d,e --audio_absent e --n_train N --n_val N --n_test N --workers N
#          --model NAME --baseline_model NAME --meta_steps N --adapt_steps N --batch_size N --lr LR --support_fraction F
#          --eval_limit N --previous FILE (a results.json of an earlier report: its runs fill in for run
#          dirs that are gone) --python PY, and after --, any `vxt train` option for every run.

stage=1
stop_stage=100
force=false
root=
data=data/tavt
exp=exp/tavt
seeds="0 1 2"
cells="tavt no-maml no-rec no-dis no-dep no-wma k4 k16 k64 no-avmm no-audio no-real-audio avcap-maml
       tavt-s10 tavt-s25 tavt-s50 tavt-s75 no-maml-s10 no-maml-s25 no-maml-s50 no-maml-s75"
sources=photo,cartoon,sketch
targets=night,pixel
audio_absent=pixel
n_train=48
n_val=8
n_test=16
workers=2
model=tavt-tiny
baseline_model=avcap-tiny    # the avcap-maml cell's captioner (the paper wraps its baselines in MAML)
meta_steps=300
adapt_steps=60
batch_size=8
lr=1e-3
support_fraction=1.0
eval_limit=24
previous=
python=python3

. "$(dirname "$0")/../common.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
steps_args() { echo --max-steps "$1" --epochs 1000; }

known_cells="tavt, no-maml, no-rec, no-dis, no-dep, no-wma, k4, k16, k64, no-avmm, no-audio, no-real-audio, avcap-maml"
cell_args() {  # the `vxt train` options of a cell's meta-training
  case "$1" in
    tavt) ;;
    no-maml) echo --set meta=none ;;
    no-rec) echo --set rec_weight=0 ;;
    no-dis) echo --set lambda=0 ;;
    no-dep) echo --set mu=0 ;;
    no-wma) echo --set use_wma=false ;;
    k4|k16|k64) echo --set n_clusters="${1#k}" ;;
    no-avmm) echo --set use_avmm=false ;;
    no-audio) echo --set use_audio=false ;;
    no-real-audio) echo --set use_real_audio=false ;;
    avcap-maml) echo --strategy meta ;;  # a captioner that is not TAVT, meta-trained as TAVT is
    *) echo "$(basename "$0"): unknown cell $1 ($known_cells, or CELL-sNN: CELL on NN% of the support)" >&2
       return 2 ;;
  esac
}
cell_model() {  # the model a cell trains: avcap-maml -> $baseline_model, else $model
  case "$1" in avcap-maml) echo "$baseline_model" ;; *) echo "$model" ;; esac
}
cell_adapt_args() {  # what a cell's adaptation adds: the meta strategy for a model that is not natively meta-trained
  case "$1" in avcap-maml) echo --strategy meta ;; esac
}
cell_base() {  # the cell whose meta-trained model a cell adapts: CELL-sNN -> CELL, CELL -> CELL
  if [[ $1 =~ ^(.+)-s([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; else echo "$1"; fi
}
cell_fraction() {  # the support fraction a cell adapts on: CELL-sNN -> NN / 100, CELL -> $support_fraction
  if [[ $1 =~ ^(.+)-s([0-9]+)$ ]]; then
    local pct=$((10#${BASH_REMATCH[2]}))
    if [ "$pct" -lt 1 ] || [ "$pct" -gt 100 ]; then
      echo "$(basename "$0"): cell $1: the support share must be 1..100 %" >&2; return 2
    fi
    printf '%d.%02d\n' $((pct / 100)) $((pct % 100))
  else
    echo "$support_fraction"
  fi
}
bases=()  # the meta-trained models the cells need, each once
for c in $cells; do
  b=$(cell_base "$c")
  cell_args "$b" >/dev/null || exit 2
  cell_fraction "$c" >/dev/null || exit 2
  case " ${bases[*]-} " in *" $b "*) ;; *) bases+=("$b") ;; esac
done
target_list=${targets//,/ }

if stage_on 1 "prepare the synthetic domains $sources (sources) and $targets (targets)"; then
  # TAVT reads its own feature streams from the mp4s: no media cache
  done_or_run "$data/prepare_report.json" \
    $VXT prepare synth --domains "$sources,$targets" --out "$data" --n-train "$n_train" --n-val "$n_val" \
      --n-test "$n_test" --n-dense-train 0 --n-dense-val 0 --n-dense-test 0 --qa-per-clip 1 --seed 0 \
      --workers "$workers" --no-cache
fi

if stage_on 2 "remove the audio of $audio_absent (manifest 'missing': ['audio'])"; then
  # vxt prepare has no option to drop a stream; a missing modality is data (DESIGN.md), so the rows say so and
  # the feature store then never reads the clip's sound (the mp4 keeps it: the files stay as prepared)
  done_or_run "$data/audio_removed.json" "$python" - "$data" "$audio_absent" <<'EOF'
import json, sys
from pathlib import Path

from vxt.utils import atomic_write_text, write_json

data, domains = Path(sys.argv[1]), [d for d in sys.argv[2].split(",") if d]
counts = {}
for split in ("train", "val", "test"):
    path = data / f"{split}.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    n = 0
    for r in rows:
        if r.get("domain") in domains:
            r["missing"] = sorted({*(r.get("missing") or []), "audio"})
            n += 1
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    counts[split] = n
write_json(data / "audio_removed.json", {"domains": domains, "examples": counts})
print(f"audio removed from the {', '.join(domains) or 'no'} domain(s): {counts}", file=sys.stderr)
EOF
fi

train() {  # train OUT SEED STEPS MODEL ARGS...
  local out=$1 seed=$2 steps=$3 m=$4; shift 4
  done_or_run "$out/train_summary.json" \
    $VXT train "${train_rerun[@]}" --task caption --model "$m" --data "$data" $(steps_args "$steps") \
      --batch-size "$batch_size" --lr "$lr" --seed "$seed" --eval-limit "$eval_limit" "$@" \
      ${extra_train_args[@]+"${extra_train_args[@]}"} --out "$out"
}

if stage_on 3 "meta-train on $sources ($meta_steps steps; cells: ${bases[*]}; seeds $seeds)"; then
  for s in $seeds; do
    for c in "${bases[@]}"; do
      # shellcheck disable=SC2046
      train "$exp/$c-seed$s" "$s" "$meta_steps" "$(cell_model "$c")" --set source_domains="$sources" $(cell_args "$c")
    done
  done
fi

if stage_on 4 "adapt to $targets on their support sets ($adapt_steps steps, fraction $support_fraction)"; then
  for s in $seeds; do
    for c in $cells; do
      for t in $target_list; do
        b=$(cell_base "$c")
        # shellcheck disable=SC2046
        train "$exp/$c-seed$s-adapt-$t" "$s" "$adapt_steps" "$(cell_model "$b")" --stage adapt --set target_domain="$t" \
          --ckpt "$exp/$b-seed$s" --train-fraction "$(cell_fraction "$c")" $(cell_adapt_args "$b")
      done
    done
  done
fi

if stage_on 5 "decode the targets' test splits and score"; then
  for s in $seeds; do
    for c in $cells; do
      for t in $target_list; do
        run=$exp/$c-seed$s-adapt-$t
        done_or_run "$run/preds_test.json" $VXT decode "$data" --task caption --split test --set domain="$t" \
          --ckpt "$run" --greedy --out "$run/preds_test.json"
        done_or_run "$run/preds_test.scores.json" $VXT score "$run/preds_test.json" --no-java
      done
    done
  done
fi

if stage_on 6 "report: $exp/RESULTS.md"; then
  report_args=(--seeds "$seeds" --cells "$(echo $cells)" --targets "$targets" --audio-absent "$audio_absent"
               --support-fraction "$support_fraction")
  [ -n "$previous" ] && report_args+=(--previous "$previous")
  log "  \$ $python $here/report.py $exp ${report_args[*]}"
  "$python" "$here/report.py" "$exp" "${report_args[@]}"
fi
log "done in ${SECONDS} s"
