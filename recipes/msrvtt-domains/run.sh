#!/usr/bin/env bash
# TAVT (Lin et al., ACL 2023) across MSR-VTT's domains: meta-train on five, adapt to and caption the other five.
#
#   recipes/msrvtt-domains/run.sh --root /data/msrvtt [--video_weights resnet101.pth] [--audio_weights vggish.pth]
#                                 [--stage N] [--stop-stage N] [--force true] [-- extra vxt train args]
#
# --root is an MSR-VTT root as recipes/msrvtt/run.sh takes it (videodatainfo.json with `category`, the clips).
# `vxt prepare msrvtt --domains tavt` regroups the 20 categories into TAVT's 10 domains. Stages:
#   1 prepare    vxt prepare msrvtt --domains tavt (no media cache: TAVT extracts its own feature streams)
#   2 meta-train tavt-base on the source domains (Algorithm 1); this run extracts the ResNet-101 / VGGish streams
#                into $data/features/ and fits the K audio clusters on the sources' training audio (vxt has no
#                separate feature or cluster step for TAVT)                               -> $exp/meta
#   3 adapt      per target: fine-tune the meta-trained model on the target's train split -> $exp/adapt-T
#   4 decode     per target: its test clips (--set domain=T)                 -> $exp/adapt-T/preds_test.json
#   5 score      per target: vxt score (pycocoevalcap; METEOR needs Java)    -> preds_test.scores.json
#   6 report     per target, the mean over the targets, the paper's numbers  -> $exp/RESULTS.md, results.json
# The paper's settings: sources news, movie, sports, cooking, traffic; targets animation, music, animal, kids,
# beauty; tavt-base (1024 wide, 8 heads, 8 blocks), ResNet-101 frames + VGGish audio, K = 100 clusters,
# lambda 1e-4, mu 1e-2, tau 0.4, inner lr 1e-4, outer lr 1e-3, batch 32, beam 5. vxt's choices (the paper states
# none): 30 meta-training epochs, 10 adaptation epochs at lr 1e-4 on the target's whole train split. MSVD
# (audio-absent target) is recipes/msvd/run.sh, from this recipe's $exp/meta.
#
# Smoke runs: --model tavt-tiny --n_clusters 4 --meta_steps 3 --adapt_steps 2 --batch_size 2 --score_args --no-java

. "$(dirname "$0")/../tavt_real.sh"  # the shared settings (adaptation, batch, beam, ...) and stages 3-5
data=data/msrvtt-domains
exp=exp/msrvtt-domains
sources=news,movie,sports,cooking,traffic
targets=animation,music,animal,kids,beauty
video_weights=         # local ResNet-101 ImageNet checkpoint (torchvision's resnet101-*.pth); empty: random init
audio_weights=         # local VGGish checkpoint (torchvggish's vggish-10086976.pth); empty: random init
n_clusters=100         # K; empty: the model preset's own (tavt-tiny: 8)
lambda=1e-4            # L_dis weight
mu=1e-2                # L_dep weight
tau=0.4                # the contrastive temperature
inner_lr=1e-4
outer_lr=1e-3
meta_epochs=30         # vxt's choice
meta_steps=            # a cap on meta-steps (smoke runs); empty: --meta_epochs decides

. "$(dirname "$0")/../common.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
target_list=${targets//,/ }

weights=()
[ -n "$video_weights" ] && weights+=(--video-weights "$video_weights")
[ -n "$audio_weights" ] && weights+=(--audio-weights "$audio_weights")
meta_sets=(--set "source_domains=$sources" --set "lambda=$lambda" --set "mu=$mu" --set "tau=$tau"
           --set "inner_lr=$inner_lr" --set "outer_lr=$outer_lr")
[ -n "$n_clusters" ] && meta_sets+=(--set "n_clusters=$n_clusters")
meta_len=(--epochs "$meta_epochs")
[ -n "$meta_steps" ] && meta_len+=(--max-steps "$meta_steps")
common=(--task caption --model "$model" --data "$data" --batch-size "$batch_size" --seed "$seed")
[ -n "$eval_limit" ] && common+=(--eval-limit "$eval_limit")

if stage_on 1 "prepare MSR-VTT into $data with TAVT's 10 domains"; then
  [ -n "$root" ] || { echo "$(basename "$0"): --root is required for stage 1" >&2; exit 2; }
  done_or_run "$data/prepare_report.json" $VXT prepare msrvtt --domains tavt --root "$root" --out "$data" \
    --workers "$workers" --no-cache
fi

if stage_on 2 "meta-train $model on $sources (features, K-means clusters, then Algorithm 1) into $exp/meta"; then
  done_or_run "$exp/meta/train_summary.json" $VXT train "${train_rerun[@]}" "${common[@]}" "${meta_len[@]}" \
    --lr "$outer_lr" ${weights[@]+"${weights[@]}"} "${meta_sets[@]}" ${extra_train_args[@]+"${extra_train_args[@]}"} \
    --out "$exp/meta"
fi

if stage_on 3 "adapt to $targets (lr $adapt_lr on each target's train split)"; then
  for t in $target_list; do tavt_adapt "$exp/adapt-$t" "$t" "$exp/meta"; done
fi

if stage_on 4 "decode each target's test clips (beam $beam)"; then
  for t in $target_list; do tavt_decode "$exp/adapt-$t" "$t"; done
fi

if stage_on 5 "score each target"; then
  for t in $target_list; do tavt_score "$exp/adapt-$t"; done
fi

if stage_on 6 "report: $exp/RESULTS.md"; then
  log "  \$ $python $here/report.py $exp --targets $targets --paper msrvtt"
  "$python" "$here/report.py" "$exp" --targets "$targets" --paper msrvtt
fi
log "done in ${SECONDS} s"
