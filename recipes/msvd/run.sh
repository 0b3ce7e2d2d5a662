#!/usr/bin/env bash
# TAVT (Lin et al., ACL 2023) transferred from MSR-VTT to MSVD, a target without audio (A_rec in its place).
#
#   recipes/msvd/run.sh --root /data/msvd [--meta_exp exp/msrvtt-domains/meta] [--stage N] [--stop-stage N]
#                       [--force true] [-- extra vxt train args]
#
# Run recipes/msrvtt-domains/run.sh first (at least to its stage 2): this recipe adapts its meta-trained model.
# --root holds AllVideoDescriptions.txt (`<clip id> <caption>` lines) and the clips <clip id>.avi (YouTubeClips/ or
# anywhere under it); split lists *train*.txt / *val*.txt / *test*.txt in the root when you have them, else vxt's
# seeded 1200 / 100 / 670 split. MSVD is used without its audio (`missing: ["audio"]` on every example), so the
# adapted model freezes the AVMM (nothing to learn the reconstruction from) and its encoder is fed A_rec, the
# audio the AVMM reconstructs from the frames. Stages:
#   1 prepare  vxt prepare msvd --domains msvd (every clip in one domain, `msvd`) -> $data
#   2 adapt    fine-tune $meta_exp on MSVD's train split (--stage adapt --set target_domain=msvd)
#                                                                                -> $exp/adapt-msvd
#   3 decode   the test split (--set domain=msvd, beam 5)                        -> $exp/adapt-msvd/preds_test.json
#   4 score    vxt score (pycocoevalcap; METEOR needs Java)                      -> preds_test.scores.json
#   5 report   next to the paper's numbers                                       -> $exp/RESULTS.md, results.json
# The meta-trained model brings the paper's settings (recipes/msrvtt-domains/run.sh); the adaptation here uses
# the same vxt choices as that recipe's: 10 epochs at lr 1e-4, batch 32, the whole train split.
#
# Smoke runs: --model tavt-tiny --adapt_steps 2 --batch_size 2 --score_args --no-java (and a tiny --meta_exp)

stage=1
stop_stage=100
root=
force=false
data=data/msvd
exp=exp/msvd-tavt
meta_exp=exp/msrvtt-domains/meta   # recipes/msrvtt-domains/run.sh's meta-trained model
model=tavt-base                    # must be the preset $meta_exp was trained with (tavt-tiny for smoke runs)
domain=msvd                        # the domain name MSVD's examples get
split_list=                        # MSVD's test ids, one a line (else split lists in the root, else seeded)
adapt_lr=1e-4
batch_size=32
adapt_epochs=10
adapt_steps=                       # a cap on adaptation steps (smoke runs)
support_fraction=1.0
eval_limit=
beam=5
seed=0
workers=4
score_args=                        # e.g. --no-java (no METEOR; not comparable to published numbers)
python=python3

. "$(dirname "$0")/../common.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
run=$exp/adapt-$domain
prep_args=()
[ -n "$split_list" ] && prep_args+=(--split-list "$split_list")
adapt_len=(--epochs "$adapt_epochs")
[ -n "$adapt_steps" ] && adapt_len+=(--max-steps "$adapt_steps")
limit=()
[ -n "$eval_limit" ] && limit+=(--eval-limit "$eval_limit")

if stage_on 1 "prepare MSVD into $data (domain $domain, no audio)"; then
  [ -n "$root" ] || { echo "$(basename "$0"): --root is required for stage 1" >&2; exit 2; }
  done_or_run "$data/prepare_report.json" $VXT prepare msvd --domains "$domain" --root "$root" --out "$data" \
    ${prep_args[@]+"${prep_args[@]}"} --workers "$workers" --no-cache
fi

if stage_on 2 "adapt $meta_exp to MSVD (AVMM frozen, A_rec for the audio) into $run"; then
  if [ ! -f "$meta_exp/config.json" ]; then
    echo "$(basename "$0"): no meta-trained model in $meta_exp: run recipes/msrvtt-domains/run.sh --stop-stage 2" \
      "first (or give --meta_exp DIR)" >&2
    exit 2
  fi
  done_or_run "$run/train_summary.json" $VXT train "${train_rerun[@]}" --task caption --model "$model" --data "$data" \
    "${adapt_len[@]}" --batch-size "$batch_size" --lr "$adapt_lr" --seed "$seed" ${limit[@]+"${limit[@]}"} \
    --stage adapt --set "target_domain=$domain" --ckpt "$meta_exp" --train-fraction "$support_fraction" \
    ${extra_train_args[@]+"${extra_train_args[@]}"} --out "$run"
fi

if stage_on 3 "decode MSVD's test split (beam $beam)"; then
  done_or_run "$run/preds_test.json" $VXT decode "$data" --task caption --split test --set "domain=$domain" \
    --ckpt "$run" --beam "$beam" --out "$run/preds_test.json"
fi

if stage_on 4 "score"; then
  # shellcheck disable=SC2086
  done_or_run "$run/preds_test.scores.json" $VXT score "$run/preds_test.json" --out "$run/preds_test.scores.json" \
    $score_args
fi

if stage_on 5 "report: $exp/RESULTS.md"; then
  log "  \$ $python $here/../msrvtt-domains/report.py $exp --targets $domain --paper msvd --meta $meta_exp"
  "$python" "$here/../msrvtt-domains/report.py" "$exp" --targets "$domain" --paper msvd --meta "$meta_exp"
fi
log "done in ${SECONDS} s"
