#!/usr/bin/env bash
# The VX2TEXT paper's ablations, repeated on the synthetic benchmark (every cell over several seeds).
#
# Grids (--grids, any of):
#   modalities    dialog and QA with text only; + video; + audio; + subtitles; all    (paper Figs. 2, 3)
#   tokenization  captioning with gumbel (differentiable) vs frozen vs feature tokens  (paper Figs. 4, 5)
#   qa_data       generative vs discriminative QA on 10/25/50/100% of the training set,
#                 plus the QA+QG and cycle-consistency objectives on all of it          (paper Fig. 6)
#   k             captioning with K_v in $k_video_values (K_a = 1) and K_a in $k_audio_values (K_v = 1)
#                                                                                      (paper Appendix B)
#   domain_shift  captioning with gumbel vs frozen vs feature tokens where the classifiers were pre-trained
#                 on $domain_train_domains only and VX2TEXT trains and tests on all of $domains (its own
#                 data dir $domain_data, $domain_n_train/$domain_n_val/$domain_n_test clips per domain, and
#                 classifiers in $domain_exp); not in the default --grids (issue #11, part 4)
# Stages (ESPnet style; run a part with --stage N --stop-stage M):
#   1  the data, the pre-trained classifiers and the category tokens: recipes/synth/run.sh --stop-stage 3
#      (shared with the main job, so after `make demo` nothing is redone); for domain_shift also its data
#      dir (vxt prepare synth --domains), classifiers (vxt train --task classify --domains) and tokens
#   2  train, decode (test split) and score every cell x seed; --jobs cells at once, each on
#      nproc/jobs threads; a finished cell is skipped, a failed one is logged and the rest go on
#   3  the report: $out/RESULTS.md (mean ± std over the seeds), $out/results.json and PNG plots
#
# Options: --stage N --stop-stage N --force true --data DIR --exp DIR --out DIR --grids "..." --seeds "0 1 2"
#          --jobs N --epochs N --qa_epochs N --classifier_lr_scale X --max_steps N --fractions "..." --k_video_values "..."
#          --k_audio_values "..." --lr LR --batch_size N --beam N --eval_limit N --python PY --score_args "..."
#          --domains a,b,... --domain_train_domains a,... --domain_data DIR --domain_exp DIR --domain_n_train N
#          --domain_n_val N --domain_n_test N --domain_workers N --domain_video_cls_epochs N (domain_shift)
#          and, after --, any `vxt train` option for every cell.
# Cells share their runs: the `all` QA cell of `modalities` is the generative 100% cell of `qa_data`,
# and the gumbel cell of `tokenization` is K_v = K_a = 1 of `k`.

stage=1
stop_stage=100
force=false
root=
data=data/synth
exp=exp/synth
out=exp/synth/ablations
grids="modalities tokenization qa_data k"
seeds="0 1 2"
jobs=2
epochs=6
qa_epochs=1
max_steps=0
batch_size=16
lr=1e-3
beam=1
eval_limit=50
fractions="0.1 0.25 0.5 1.0"
k_video_values="1 4 8"
k_audio_values="1 6"
# the synthetic QA reads the candidates only to score them (see recipes/synth/run.sh)
qa_inputs="video,audio,subtitles,question"
classifier_lr_scale=0.1
python=python3
score_args=
# domain_shift: every scene in every domain; the classifiers see $domain_train_domains only
domains=photo,cartoon,sketch,night,pixel
domain_train_domains=photo
domain_data=data/synth-domains
domain_exp=exp/synth-domains
domain_n_train=400
domain_n_val=40
domain_n_test=40
domain_workers=2
# 20 epochs of 400 photo clips: 500 steps, half the main benchmark's classifier (its val accuracy: 0.35; see RESULTS.md)
domain_video_cls_epochs=20

. "$(dirname "$0")/../common.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
video_cls=$exp/classify-video
audio_cls=$exp/classify-audio

if stage_on 1 "data, classifiers and category tokens (recipes/synth/run.sh --stop-stage 3)"; then
  bash "$here/run.sh" --stop-stage 3 --data "$data" --exp "$exp" --force "$force"
  case " $grids " in *" domain_shift "*)
    log "  domain_shift: the data in $domains, classifiers pre-trained on $domain_train_domains"
    done_or_run "$domain_data/prepare_report.json" \
      $VXT prepare synth --out "$domain_data" --domains "$domains" --n-train "$domain_n_train" --n-val "$domain_n_val" \
        --n-test "$domain_n_test" --n-dense-train 0 --n-dense-val 0 --n-dense-test 0 --workers "$domain_workers"
    done_or_run "$domain_exp/classify-video/train_summary.json" \
      $VXT train "${train_rerun[@]}" --task classify --modality video --data "$domain_data" --domains "$domain_train_domains" --epochs "$domain_video_cls_epochs" \
        --batch-size 16 --lr 3e-3 --seed 0 --out "$domain_exp/classify-video"
    done_or_run "$domain_exp/classify-audio/train_summary.json" \
      $VXT train "${train_rerun[@]}" --task classify --modality audio --data "$domain_data" --domains "$domain_train_domains" --epochs 5 \
        --batch-size 16 --lr 3e-3 --seed 0 --out "$domain_exp/classify-audio"
    done_or_run "$domain_data/tokens/test.jsonl" \
      $VXT tokenize "$domain_data" --video-weights "$domain_exp/classify-video" --audio-weights "$domain_exp/classify-audio" \
        --k-video 1 --k-audio 1
    ;;
  esac
fi

# ---------------------------------------------------------------- the plan: one line per (grid, cell, seed)
plan=$out/plan.tsv
runs=$out/runs
mkdir -p "$runs"
plan_tmp=$(mktemp "$out/.plan.XXXXXX")

# cell GRID LABEL TASK RUN_NAME [vxt train args...]: add the cell for every seed
# (@data=DIR, @video=DIR, @audio=DIR among the args: this cell's data dir and classifiers instead of the shared ones)
cell() {
  local grid=$1 label=$2 task=$3 name=$4; shift 4
  local s
  for s in $seeds; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$grid" "$label" "$task" "$s" "$runs/$name-seed$s" "$*" >>"$plan_tmp"
  done
}

for g in $grids; do
  case "$g" in
    modalities)
      cell modalities "text only" dialog dialog-text --modalities history,question
      cell modalities "+ video" dialog dialog-video --modalities video,history,question
      cell modalities "+ audio" dialog dialog-audio --modalities audio,history,question
      cell modalities "+ subtitles" dialog dialog-subtitles --modalities subtitles,history,question
      cell modalities "all" dialog dialog-all
      cell modalities "text only" qa qa-text --modalities question
      cell modalities "+ video" qa qa-video --modalities video,question
      cell modalities "+ audio" qa qa-audio --modalities audio,question
      cell modalities "+ subtitles" qa qa-subtitles --modalities subtitles,question
      cell modalities "all" qa qa-all --modalities "$qa_inputs"
      cell modalities "all + candidates in the input" qa qa-all-cands
      ;;
    tokenization)
      for tk in gumbel frozen feature; do
        if [ "$tk" = gumbel ]; then cell tokenization "$tk" caption caption-kv1-ka1
        else cell tokenization "$tk" caption "caption-$tk" --tokenization "$tk"; fi
      done
      ;;
    qa_data)
      for f in $fractions; do
        pct=$("$python" -c "print(round(100 * $f))")
        if [ "$pct" = 100 ]; then gen=qa-all; else gen=qa-gen-$pct; fi
        cell qa_data "generative $pct%" qa "$gen" --modalities "$qa_inputs" --train-fraction "$f"
        cell qa_data "discriminative $pct%" qa "qa-disc-$pct" --modalities "$qa_inputs" --head discriminative --train-fraction "$f"
      done
      cell qa_data "generative QA+QG 100%" qa qa-qg --modalities "$qa_inputs" --objective qa+qg
      cell qa_data "generative cycle 100%" qa qa-cycle --modalities "$qa_inputs" --objective cycle
      ;;
    k)
      for kv in $k_video_values; do cell k "K_v=$kv K_a=1" caption "caption-kv$kv-ka1" --set k_video="$kv" --set k_audio=1; done
      for ka in $k_audio_values; do
        [ "$ka" = 1 ] && continue
        cell k "K_v=1 K_a=$ka" caption "caption-kv1-ka$ka" --set k_video=1 --set k_audio="$ka"
      done
      ;;
    domain_shift)
      for tk in gumbel frozen feature; do
        tok=(); [ "$tk" = gumbel ] || tok=(--tokenization "$tk")
        cell domain_shift "$tk" caption "domains-caption-$tk" "@data=$domain_data" "@video=$domain_exp/classify-video" \
          "@audio=$domain_exp/classify-audio" ${tok[@]+"${tok[@]}"}
      done
      ;;
    *) echo "$(basename "$0"): unknown grid $g (modalities, tokenization, qa_data, k, domain_shift)" >&2; rm -f "$plan_tmp"; exit 2 ;;
  esac
done
mv "$plan_tmp" "$plan"

# run_cell DIR TASK SEED ARGS...: train, decode the test split, score; idempotent
run_cell() {
  local dir=$1 task=$2 seed=$3; shift 3
  local data=$data video_cls=$video_cls audio_cls=$audio_cls a rest=()
  for a in "$@"; do
    case "$a" in
      @data=*) data=${a#@data=} ;;
      @video=*) video_cls=${a#@video=} ;;
      @audio=*) audio_cls=${a#@audio=} ;;
      *) rest+=("$a") ;;
    esac
  done
  set -- ${rest[@]+"${rest[@]}"}
  local ep=$epochs
  [ "$task" = qa ] && ep=$qa_epochs
  local steps=()
  [ "$max_steps" != 0 ] && steps=(--max-steps "$max_steps")
  mkdir -p "$dir"
  local k_args=()
  case " $* " in *" k_video="*) ;; *) k_args=(--set k_video=1 --set k_audio=1) ;; esac
  k_args+=(--set classifier_lr_scale="$classifier_lr_scale")
  {
    local t0=$SECONDS
    if [ ! -e "$dir/train_summary.json" ] || [ "$force" = true ]; then
      echo "\$ $VXT train --task $task --data $data --model vx2text-tiny --epochs $ep ${steps[*]} --batch-size $batch_size --lr $lr --seed $seed --eval-limit $eval_limit --video-weights $video_cls --audio-weights $audio_cls ${k_args[*]} $* --out $dir"
      $VXT train "${train_rerun[@]}" --task "$task" --data "$data" --model vx2text-tiny --epochs "$ep" ${steps[@]+"${steps[@]}"} \
        --batch-size "$batch_size" --lr "$lr" --seed "$seed" --eval-limit "$eval_limit" \
        --video-weights "$video_cls" --audio-weights "$audio_cls" ${k_args[@]+"${k_args[@]}"} "$@" \
        ${extra_train_args[@]+"${extra_train_args[@]}"} --out "$dir" || return 1
    fi
    echo "\$ $VXT decode $data --task $task --split test --ckpt $dir --beam $beam --out $dir/preds_test.json"
    $VXT decode "$data" --task "$task" --split test --ckpt "$dir" --beam "$beam" --out "$dir/preds_test.json" || return 1
    echo "\$ $VXT score $dir/preds_test.json $score_args"
    # shellcheck disable=SC2086
    $VXT score "$dir/preds_test.json" $score_args || return 1
    echo "cell seconds: $((SECONDS - t0))"
  } >"$dir/log.txt" 2>&1
  times >"$dir/times.txt"  # user and system time of this cell's processes (second line)
}

if stage_on 2 "train, decode and score every cell (jobs: $jobs)"; then
  threads=$(( $(nproc) / jobs )); [ "$threads" -ge 1 ] || threads=1
  export OMP_NUM_THREADS=$threads VXT_NO_PROGRESS=${VXT_NO_PROGRESS:-1}
  t_stage=$SECONDS
  failed=$out/failed.txt
  : >"$failed"
  running=0 seen=" " n_done=0 n_total=$(cut -f5 "$plan" | sort -u | wc -l)
  while IFS=$'\t' read -r grid label task seed dir args; do
    case "$seen" in *" $dir "*) continue ;; esac
    seen="$seen$dir "
    if [ -e "$dir/preds_test.scores.json" ] && [ "$force" != true ]; then
      n_done=$((n_done + 1)); continue
    fi
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
    log "  cell $(basename "$dir") ($grid: $label) -> $dir/log.txt"
    # shellcheck disable=SC2086
    ( run_cell "$dir" "$task" "$seed" $args || { echo "$dir" >>"$failed"; log "  FAILED: $dir (see $dir/log.txt)"; } ) </dev/null &
    running=$((running + 1))
  done <"$plan"
  wait
  echo "$((SECONDS - t_stage))" >"$out/stage2_seconds.txt"
  log "  $n_done of $n_total runs were already done"
  if [ -s "$failed" ]; then log "  $(wc -l <"$failed") run(s) failed: $failed"; fi
fi

if stage_on 3 "report: $out/RESULTS.md and plots"; then
  log "  \$ $python $here/ablate_report.py $out --data $data --domain-data $domain_data"
  "$python" "$here/ablate_report.py" "$out" --data "$data" --domain-data "$domain_data"
fi
log "done in ${SECONDS} s"
