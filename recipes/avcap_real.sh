#!/usr/bin/env bash
# What the avcap recipes on real benchmarks share (Shen et al., 2023; issue #12): recipes/howto100m/run.sh
# (pre-training) and the fine-tuning recipes recipes/{youcook2,msrvtt-avcap,vatex,anet-paragraphs}/run.sh.
#
# A recipe sources this file first (the shared defaults and functions), says what differs, then parses its
# options with common.sh:
#   . "$(dirname "$0")/../avcap_real.sh"
#   avcap_finetune_defaults                          # fine-tuning recipes only (lr 1e-5, beam 5, the pre-training, ...)
#   dataset=youcook2 dataset_name=YouCook2 data=data/youcook2 exp=exp/youcook2-avcap eval_split=val ckpt=last
#   . "$(dirname "$0")/../common.sh" "$@"
#   avcap_finetune_recipe                            # stages 1-5; howto100m calls avcap_prepare/_coverage/_train
#
# Shared options (--name VALUE): --model (avcap-base: the paper's), --modalities (vxt train's: video,audio = V+A),
# --fusion (--set fusion=), --video_weights (a local Kinetics Video Swin file), --epochs, --max_steps (a cap for smoke
# runs), --batch_size (global, split over --nproc processes), --nproc, --lr, --eval_limit, --seed, --workers, --data,
# --exp, --root, --python; fine-tuning also --pretrain_exp, --eval_split, --ckpt best|last, --beam, --score_args.
# Everything after -- goes to every `vxt train` (e.g. -- --set pnc=false, -- --set frontend=cache).

stage=1
stop_stage=100
root=
force=false
model=avcap-base       # avcap-tiny for smoke runs
modalities=            # vxt train --modalities (video,audio = V+A); empty: the pre-training's, else the preset's
fusion=                # --set fusion=; empty: the pre-training's, else the preset's (local_global_merged)
video_weights=         # a local Kinetics Video Swin-B state dict (torchvision layout); empty: random init
epochs=20              # vxt's choice (the issue states no number of epochs)
max_steps=             # a cap on optimizer steps (smoke runs); empty: --epochs decides
batch_size=32          # global (vxt's choice); split over --nproc processes
nproc=1
lr=1e-5
eval_limit=200         # validation examples per evaluation during training (vxt train's default)
seed=0
workers=4
python=python3
prepare_opts=()        # a recipe's extra `vxt prepare` options
score_opts=()          # a recipe's extra `vxt score` options (anet-paragraphs: --paragraph)

avcap_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

avcap_die() { echo "$(basename "$0"): $*" >&2; exit 2; }

# the fine-tuning recipes' own defaults (before common.sh, so that they are options too)
avcap_finetune_defaults() {
  pretrain_exp=exp/howto100m-avcap  # recipes/howto100m/run.sh's run; empty: fine-tune from scratch (no pre-training)
  eval_split=test                   # the split decoded and scored
  ckpt=best                         # best (on val CIDEr) | last: the checkpoint decoded
  beam=5
  score_args=                       # e.g. --no-java (no METEOR; not comparable to published numbers)
}

# stage 1: vxt prepare $dataset, without a media cache (avcap's paper front end reads the mp4s itself: 16 TSN
# frames, 22,050 Hz audio; with -- --set frontend=cache vxt train builds the cache it needs)
avcap_prepare() {
  [ -n "$root" ] || avcap_die "--root is required for stage 1"
  done_or_run "$data/prepare_report.json" $VXT prepare "$dataset" --root "$root" --out "$data" --workers "$workers" \
    --no-cache ${prepare_opts[@]+"${prepare_opts[@]}"}
}

# stage 2: the speech coverage rate of $data (vxt score --coverage) when its manifests hold transcripts
avcap_coverage() {
  if grep -qs '"subtitles": \[' "$data"/train.jsonl "$data"/val.jsonl "$data"/test.jsonl; then
    done_or_run "$data/coverage.json" $VXT score --coverage "$data"
  else
    log "  no transcripts (subtitles) in $data: no speech coverage rate"
  fi
}

# avcap_train OUT STAGE [vxt train options...]: one avcap run (--stage pretrain | finetune) into OUT
avcap_train() {
  local out=$1 what=$2
  shift 2
  local opts=(--task caption --model "$model" --data "$data" --stage "$what" --epochs "$epochs"
              --batch-size "$batch_size" --lr "$lr" --nproc "$nproc" --seed "$seed" --eval-limit "$eval_limit")
  [ -z "$max_steps" ] || opts+=(--max-steps "$max_steps")
  [ -z "$modalities" ] || opts+=(--modalities "$modalities")
  [ -z "$fusion" ] || opts+=(--set "fusion=$fusion")
  [ -z "$video_weights" ] || opts+=(--video-weights "$video_weights")
  done_or_run "$out/train_summary.json" $VXT train "${train_rerun[@]}" "${opts[@]}" "$@" \
    ${extra_train_args[@]+"${extra_train_args[@]}"} --out "$out"
}

# stages 1-5 of a fine-tuning recipe: prepare, coverage, fine-tune (from $pretrain_exp), decode, score + RESULTS.md
avcap_finetune_recipe() {
  SECONDS=0
  local init=() from="from scratch, no pre-training"
  if [ -n "$pretrain_exp" ]; then
    [ -z "$video_weights" ] || avcap_die "--video_weights is for a run without pre-training (--pretrain_exp ''): the" \
      "pre-trained model carries its video weights"
    init=(--set "init=$pretrain_exp")
    from="from $pretrain_exp"
  fi
  local preds=$exp/preds_$eval_split.json scores=$exp/preds_$eval_split.scores.json recipe
  recipe=$(basename "$(cd "$(dirname "$0")" && pwd)")  # the key of the paper's numbers (avcap_results.py: PAPER)

  if stage_on 1 "prepare $dataset_name into $data"; then
    avcap_prepare
  fi
  if stage_on 2 "speech coverage rate of $data"; then
    avcap_coverage
  fi
  if stage_on 3 "fine-tune $model on $dataset_name ($from; Adam $lr, warm-up 10% then linear decay) into $exp"; then
    if [ -n "$pretrain_exp" ] && [ ! -e "$exp/train_summary.json" ] && [ ! -d "$pretrain_exp" ]; then
      avcap_die "no pre-training at $pretrain_exp: run recipes/howto100m/run.sh first, or give --pretrain_exp ''" \
        "to fine-tune from scratch"
    fi
    avcap_train "$exp" finetune ${init[@]+"${init[@]}"}
  fi
  if stage_on 4 "decode the $eval_split split (beam $beam, the $ckpt checkpoint)"; then
    done_or_run "$preds" $VXT decode "$data" --task caption --split "$eval_split" --ckpt "$exp/$ckpt" --beam "$beam" \
      --out "$preds"
  fi
  if stage_on 5 "score and write $exp/RESULTS.md beside the paper's numbers"; then
    # shellcheck disable=SC2086
    done_or_run "$scores" $VXT score "$preds" --out "$scores" ${score_opts[@]+"${score_opts[@]}"} $score_args
    done_or_run "$exp/RESULTS.md" "$python" "$avcap_lib/avcap_results.py" "$recipe" --exp "$exp" \
      --scores "$scores" --data "$data" --split "$eval_split" --ckpt "$ckpt" --beam "$beam"
    cat "$exp/RESULTS.md"
  fi
  log "done in ${SECONDS} s"
}
