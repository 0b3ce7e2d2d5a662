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

. "$(dirname "$0")/../tavt_real.sh"  # the shared settings (adaptation, batch, beam, ...) and stages 2-4
data=data/msvd
exp=exp/msvd-tavt
meta_exp=exp/msrvtt-domains/meta   # recipes/msrvtt-domains/run.sh's meta-trained model
# --model must be the preset $meta_exp was trained with (tavt-base; tavt-tiny for smoke runs)
domain=msvd                        # the domain name MSVD's examples get
split_list=                        # MSVD's test ids, one a line (else split lists in the root, else seeded)

. "$(dirname "$0")/../common.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
run=$exp/adapt-$domain
prep_args=()
[ -n "$split_list" ] && prep_args+=(--split-list "$split_list")

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
  tavt_adapt "$run" "$domain" "$meta_exp"
fi

if stage_on 3 "decode MSVD's test split (beam $beam)"; then
  tavt_decode "$run" "$domain"
fi

if stage_on 4 "score"; then
  tavt_score "$run"
fi

if stage_on 5 "report: $exp/RESULTS.md"; then
  log "  \$ $python $here/../msrvtt-domains/report.py $exp --targets $domain --paper msvd --meta $meta_exp"
  "$python" "$here/../msrvtt-domains/report.py" "$exp" --targets "$domain" --paper msvd --meta "$meta_exp"
fi
log "done in ${SECONDS} s"
