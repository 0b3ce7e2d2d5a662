#!/usr/bin/env bash
# What the TAVT recipes on real data share (Lin et al., ACL 2023; issue #13): recipes/msrvtt-domains/run.sh
# (meta-training, then its five targets) and recipes/msvd/run.sh (the audio-absent target, from the same model).
#
# A recipe sources this file first (the shared defaults and functions), sets what differs, then parses its options:
#   . "$(dirname "$0")/../tavt_real.sh"
#   data=... exp=...
#   . "$(dirname "$0")/../common.sh" "$@"
#   tavt_adapt RUN DOMAIN META; tavt_decode RUN DOMAIN; tavt_score RUN
#
# The shared settings (vxt's choices where the paper states none): adaptation for 10 epochs at lr 1e-4 (the paper's
# inner, per-domain step size) on the target's whole train split, batch 32, beam 5.

stage=1
stop_stage=100
root=
force=false
model=tavt-base        # tavt-tiny for smoke runs (random-init tiny extractors)
adapt_lr=1e-4          # vxt's choice: the paper's inner (per-domain) step size
batch_size=32          # per domain in a meta-step; the batch of an adaptation step
adapt_epochs=10        # vxt's choice
adapt_steps=           # a cap on adaptation steps (smoke runs); empty: --adapt_epochs decides
support_fraction=1.0   # the seeded share of the train split adaptation may use (its target examples are picked after)
eval_limit=            # validation examples during training; empty: vxt train's default (200)
beam=5
seed=0
workers=4
score_args=            # e.g. --no-java (no METEOR; not comparable to published numbers)
python=python3

# tavt_adapt RUN DOMAIN META: fine-tune the meta-trained model META on DOMAIN's train split into RUN (an adapted
# run keeps the meta-trained model's architecture and settings: lambda, mu, tau, K, features)
tavt_adapt() {
  local run=$1 domain=$2 meta=$3
  local len=(--epochs "$adapt_epochs") limit=()
  [ -n "$adapt_steps" ] && len+=(--max-steps "$adapt_steps")
  [ -n "$eval_limit" ] && limit+=(--eval-limit "$eval_limit")
  done_or_run "$run/train_summary.json" $VXT train "${train_rerun[@]}" --task caption --model "$model" --data "$data" \
    "${len[@]}" --batch-size "$batch_size" --lr "$adapt_lr" --seed "$seed" ${limit[@]+"${limit[@]}"} \
    --stage adapt --set "target_domain=$domain" --ckpt "$meta" --train-fraction "$support_fraction" \
    ${extra_train_args[@]+"${extra_train_args[@]}"} --out "$run"
}

# tavt_decode RUN DOMAIN: DOMAIN's test clips with beam search -> RUN/preds_test.json
tavt_decode() {
  local run=$1 domain=$2
  done_or_run "$run/preds_test.json" $VXT decode "$data" --task caption --split test --set "domain=$domain" \
    --ckpt "$run" --beam "$beam" --out "$run/preds_test.json"
}

# tavt_score RUN: vxt score (pycocoevalcap; METEOR needs Java) -> RUN/preds_test.scores.json
tavt_score() {
  local run=$1
  # shellcheck disable=SC2086
  done_or_run "$run/preds_test.scores.json" $VXT score "$run/preds_test.json" --out "$run/preds_test.scores.json" \
    $score_args
}
