#!/usr/bin/env bash
# What the SpecVQGAN recipes on real data share (Iashin & Rahtu, BMVC 2021; issue #15): the stage bodies of
# recipes/vggsound/run.sh and recipes/vas/run.sh, which say only what differs (the data, the codebook's settings,
# where the Melception / MelGAN / codebook come from, the report's dataset).
#
# A recipe sets its defaults, parses its options with common.sh, sets `mel` (the Melception experiment), `voc` (the
# vocoder's), `cb` (the sampler's codebook) and `lpaps` (as-run | vggishish | none | DIR), then sources this file:
#   . "$(dirname "$0")/../common.sh" "$@"
#   mel=... voc=... cb=... lpaps=...
#   . "$(dirname "$0")/../specvqgan_real.sh"      # checks the cells; defines the functions below
#   stage_on 2 "..." && svq_melception            # and so on, one function a stage
#
# The variables it reads (each recipe defines them as options): model, melception_model, data, exp, nproc, seed,
# cells, features, bninception_rgb, bninception_flow, visual_weights, lpaps_channels, n_feats, top_k, samples,
# *_batch_size (per process), *_epochs, melception_patience, sampler_patience, vggishish_model,
# vggishish_patience, max_steps, python, force.

svq_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=("$python" "$svq_lib/vggsound/specvqgan_tools.py")
for c in $cells; do
  case "$c" in
    resnet50|no-feats) ;;
    bninception) [ -n "$bninception_rgb" ] && [ -n "$bninception_flow" ] || {
      echo "$(basename "$0"): the bninception cell needs --bninception_rgb DIR and --bninception_flow DIR" >&2; exit 2; } ;;
    *) echo "$(basename "$0"): unknown cell $c (resnet50, bninception, no-feats)" >&2; exit 2 ;;
  esac
done
case "$lpaps" in
  as-run|vggishish) perceptual=$exp/lpaps ;;
  none) perceptual=none ;;
  *) perceptual=$lpaps ;;
esac
common=(--data "$data" --nproc "$nproc" --seed "$seed")
extra=(${extra_train_args[@]+"${extra_train_args[@]}"})
recon=()  # the codebook reconstructions to decode and score: "ROW=EXPDIR" (a recipe adds them)

# steps EPOCHS: the epoch budget of a training stage, capped by --max_steps (smoke runs)
steps() { local e=$1; if [ -n "$max_steps" ]; then echo "--epochs $e --max-steps $max_steps"; else echo "--epochs $e"; fi; }

# stage 2: the Melception (the classifier of FID, KID, IS, MKL), unless $mel is another recipe's
svq_melception() {
  if [ "$mel" != "$exp/melception" ]; then
    log "  using the Melception of $mel"
    return 0
  fi
  done_or_run "$mel/train_summary.json" $VXT train "${train_rerun[@]}" --task classify --model "$melception_model" \
    "${common[@]}" --batch-size $((melception_batch_size * nproc)) --lr 3e-4 $(steps "$melception_epochs") \
    --patience "$melception_patience" "${extra[@]}" --out "$mel"
}

# stage 3: the codebook's perceptual network (as-run: built from the Melception's input statistics; DIR: checked)
svq_lpaps() {
  case "$lpaps" in
    as-run) done_or_run "$exp/lpaps/lpaps.safetensors" "${tools[@]}" lpaps --melception "$mel" --out "$exp/lpaps" \
              --seed "$seed" ${lpaps_channels:+--channels "$lpaps_channels"} ;;
    vggishish)  # as SpecVQGAN meant it: VGGishish trained on the sound classes (train_vggishish.py), its convs
      done_or_run "$exp/vggishish/train_summary.json" $VXT train "${train_rerun[@]}" --task classify \
        --model "$vggishish_model" "${common[@]}" --batch-size $((vggishish_batch_size * nproc)) --lr 3e-4 \
        $(steps "$vggishish_epochs") --patience "$vggishish_patience" "${extra[@]}" --out "$exp/vggishish"
      done_or_run "$exp/lpaps/lpaps.safetensors" "${tools[@]}" lpaps --vggishish "$exp/vggishish" \
        --out "$exp/lpaps" --seed "$seed" ;;
    none) log "  the codebook trains without a perceptual loss (--lpaps none)" ;;
    *) log "  \$ LPAPS.load $lpaps"
       "$python" -c 'import sys; from vxt.models.sound.lpaps import LPAPS; LPAPS.load(sys.argv[1])' "$lpaps" ;;
  esac
}

# stage 4: svq_codebook OUT SET...: one codebook run (the recipe gives its --set options)
svq_codebook() {
  local out=$1; shift
  done_or_run "$out/train_summary.json" $VXT train "${train_rerun[@]}" --task sound --model "$model" --stage codebook \
    "${common[@]}" --batch-size $((codebook_batch_size * nproc)) $(steps "$codebook_epochs") \
    "$@" "${extra[@]}" --out "$out"
}

# stage 5: MelGAN, unless $voc is another recipe's
svq_vocoder() {
  if [ "$voc" != "$exp/vocoder" ]; then
    log "  using the vocoder of $voc"
    return 0
  fi
  done_or_run "$voc/train_summary.json" $VXT train "${train_rerun[@]}" --task sound --model "$model" \
    --stage vocoder "${common[@]}" --batch-size $((vocoder_batch_size * nproc)) $(steps "$vocoder_epochs") \
    "${extra[@]}" --out "$voc"
}

# stage 6: svq_samplers SET...: one sampler per cell on the codebook $cb (the recipe may add --set options)
svq_samplers() {
  local c nf fsets
  for c in $cells; do
    fsets=() nf=$n_feats
    case "$c" in
      resnet50)  # SpecVQGAN's own files as they are (vxt finds each clip's), else extracted by vxt
        if [ -n "$features" ]; then fsets=(--features "$features")
        elif [ -n "$visual_weights" ]; then fsets=(--set "visual_weights=$visual_weights"); fi ;;
      bninception) fsets=(--features "$bninception_rgb:$bninception_flow") ;;  # RGB and flow, per frame
      no-feats) nf=0 ;;  # nothing visual (sampler.n_feats=0)
    esac
    done_or_run "$exp/sampler-$c/train_summary.json" $VXT train "${train_rerun[@]}" --task sound --model "$model" \
      --stage sampler "${common[@]}" --batch-size $((sampler_batch_size * nproc)) $(steps "$sampler_epochs") \
      --patience "$sampler_patience" --set "codebook=$cb" --set "vocoder_exp=$voc" --set "sampler.n_feats=$nf" \
      "$@" "${fsets[@]}" "${extra[@]}" --out "$exp/sampler-$c"
  done
}

# stage 7: each cell's samples of the test split and each codebook's reconstructions (${recon[@]}), through $voc
svq_decode() {
  local c r d
  for c in $cells; do
    done_or_run "$exp/sampler-$c/preds_test.json" $VXT decode "$data" --task sound --split test \
      --ckpt "$exp/sampler-$c" --samples "$samples" --set "top_k=$top_k" --set "seed=$seed" \
      --out "$exp/sampler-$c/preds_test.json"
  done
  for r in ${recon[@]+"${recon[@]}"}; do
    d=${r#*=}
    done_or_run "$d/preds_test.json" $VXT decode "$data" --task sound --split test --ckpt "$d" \
      --set "vocoder=$voc" --out "$d/preds_test.json"
  done
}

# stage 8: svq_score DATASET REPORT-ARGS...: vxt score with the Melception, then RESULTS.md and results.json
svq_score() {
  local dataset=$1; shift
  local todo=() left=() rargs=() c r p
  for c in $cells; do todo+=("$exp/sampler-$c/preds_test.json"); done
  for r in ${recon[@]+"${recon[@]}"}; do todo+=("${r#*=}/preds_test.json"); done
  for p in "${todo[@]}"; do
    if [ -e "${p%.json}.scores.json" ] && [ "$force" != "true" ]; then log "  skip (exists: ${p%.json}.scores.json)"
    else left+=("$p"); fi
  done
  if [ ${#left[@]} -gt 0 ]; then
    log "  \$ $VXT score ${left[*]} --no-java --classifier $mel"
    $VXT score "${left[@]}" --no-java --classifier "$mel"
  fi
  for r in ${recon[@]+"${recon[@]}"}; do rargs+=("${r%%=*}=${r#*=}/preds_test.scores.json"); done
  log "  \$ ${tools[*]} report --dataset $dataset --exp $exp  (RESULTS.md, results.json)"
  "${tools[@]}" report --dataset "$dataset" --exp "$exp" --cells "$cells" --reconstruction ${rargs[@]+"${rargs[@]}"} \
    --samples "$samples" --top-k "$top_k" --n-feats "$n_feats" --codebook "$cb" --melception "$mel" "$@"
}
