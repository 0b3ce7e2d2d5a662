#!/usr/bin/env bash
# The VX2TEXT recipe body shared by recipes/{avsd,tvqa,tvc,msrvtt}/run.sh: the five stages
#   1 prepare -> 2 tokenize -> 3 train -> 4 decode -> 5 score + results table.
#
# A recipe sets its settings (model k_video k_audio video_weights audio_weights text_backbone epochs batch_size
# lr max_steps eval_limit seed workers data exp score_args python, and beam unless its task is qa), sources
# common.sh, then says what differs and sources this file:
#   dataset=tvqa                 vxt prepare <dataset>; the default data/<dataset> and exp/<dataset>/...
#   dataset_name=TVQA            the dataset in the stage 1 log line
#   prepare_args=()              extra `vxt prepare` options (after --out)
#   task=qa                      vxt train/decode --task; the row name in the results table
#   decode_splits="val test"     the splits stage 4 decodes
#   score_split=val              the split stage 5 scores
#   score_note="val (...)"       what the stage 5 log line says after "score" (may be empty)
#   title="TVQA val, ..."        the results table's title
#   exp_tag=                     optional: a tag in the default experiment name (<model>-<exp_tag>-lr...)
#   . "$(dirname "$0")/../vx2text.sh"
# qa is decoded by candidate scoring (no beam); every other task by beam search with --beam "$beam".

data=${data:-data/$dataset}
exp=${exp:-exp/$dataset/$model${exp_tag:+-$exp_tag}-lr$lr-ep$epochs${max_steps:+-steps$max_steps}}
case "$model" in
  vx2text-base) classifiers=(--video-classifier r2plus1d_34 --audio-classifier cnn14) ;;
  vx2text-small) classifiers=(--video-classifier r2plus1d_18 --audio-classifier cnn14) ;;
  *) classifiers=(--video-classifier tiny-video --audio-classifier tiny-audio) ;;
esac
weights=()
[ -n "$video_weights" ] && weights+=(--video-weights "$video_weights")
[ -n "$audio_weights" ] && weights+=(--audio-weights "$audio_weights")
backbone=()
[ -n "$text_backbone" ] && backbone+=(--backbone "$text_backbone")
train_opts=(--set "k_video=$k_video" --set "k_audio=$k_audio")
[ -n "$text_backbone" ] && train_opts+=(--set "text_backbone=$text_backbone")
[ -n "$max_steps" ] && train_opts+=(--max-steps "$max_steps")
[ -n "$eval_limit" ] && train_opts+=(--eval-limit "$eval_limit")
if [ "$task" = qa ]; then
  decode_opts=(); decode_how="candidate scoring"
else
  decode_opts=(--beam "$beam"); decode_how="beam $beam"
fi
read -r -a splits <<< "$decode_splits"
if [ "${#splits[@]}" -eq 1 ]; then decode_what="the ${splits[0]} split"; else decode_what="${decode_splits// / and }"; fi

if stage_on 1 "prepare $dataset_name into $data"; then
  [ -n "$root" ] || { echo "$(basename "$0"): --root is required for stage 1" >&2; exit 2; }
  done_or_run "$data/prepare_report.json" $VXT prepare "$dataset" --root "$root" --out "$data" \
    ${prepare_args[@]+"${prepare_args[@]}"} --workers "$workers"
fi

if stage_on 2 "tokenizer and category tokens (K_v $k_video, K_a $k_audio)"; then
  done_or_run "$data/tokens/settings.json" $VXT tokenize "$data" --k-video "$k_video" --k-audio "$k_audio" \
    "${classifiers[@]}" ${weights[@]+"${weights[@]}"} ${backbone[@]+"${backbone[@]}"}
fi

if stage_on 3 "train $model ($task) into $exp"; then
  done_or_run "$exp/train_summary.json" $VXT train "${train_rerun[@]}" --task "$task" --data "$data" --model "$model" --epochs "$epochs" \
    --batch-size "$batch_size" --lr "$lr" --seed "$seed" ${weights[@]+"${weights[@]}"} "${train_opts[@]}" --out "$exp" \
    ${extra_train_args[@]+"${extra_train_args[@]}"}
fi

if stage_on 4 "decode $decode_what ($decode_how)"; then
  for split in "${splits[@]}"; do
    done_or_run "$exp/preds_$split.json" $VXT decode "$data" --task "$task" --split "$split" --ckpt "$exp" \
      ${decode_opts[@]+"${decode_opts[@]}"} --out "$exp/preds_$split.json"
  done
fi

if stage_on 5 "score${score_note:+ $score_note}"; then
  scores=$exp/preds_$score_split.scores.json
  done_or_run "$scores" $VXT score "$exp/preds_$score_split.json" --out "$scores" $score_args
  done_or_run "$exp/RESULTS.md" "$python" "$(dirname "$0")/../results_table.py" \
    --title "$title" --out "$exp/RESULTS.md" "$task=$scores"
  cat "$exp/RESULTS.md"
fi
