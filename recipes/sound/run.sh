#!/usr/bin/env bash
# SpecVQGAN on synthetic foley (issue #15): sound for silent video, and the paper's ablations.
# Foley clips (`vxt prepare synth --mode foley`: 10 s, every sound caused by a visible event, 1-3 events among
# silent movers and off-screen sounds) train the spectrogram codebook, the MelGAN vocoder and the visually
# conditioned sampler (`specvqgan-tiny`); Melception scores the test split's samples (FID, MKL) and the foley
# events score where their onsets fall (onset alignment: the share of generated onsets within 50 ms of an event).
#
# Stages (ESPnet style; run a part with --stage N --stop-stage M):
#   1  vxt prepare synth --mode foley                                            -> $data
#   2  the sampler's visual features of every clip, once (random-init ResNet-18, 64 px: no ImageNet weights here)
#      -> $data/features/<id>.npy; and, without --lpaps DIR, LPAPS as SpecVQGAN's code ran it (at init,
#      narrower)                                                                 -> $exp/lpaps
#   3  codebook per cell and seed (--stage codebook)                             -> $exp/codebook-CELL-seedS
#   4  the MelGAN vocoder, once (it turns spectrograms into waves; the metrics score spectrograms) -> $exp/vocoder
#   5  sampler per cell and seed on the $sampler_codebook codebook, early stopping on the validation loss
#      (--patience $patience)                                                    -> $exp/sampler-CELL-seedS
#   6  Melception, once (the scorer: the same classifier for every run)          -> $exp/melception
#   7  vxt decode --split test per run (the first $eval_limit test clips, $samples sample(s) each, batch 1:
#      each row records its sampling seconds on this CPU)                        -> RUN/preds_test.json
#   8  vxt score --classifier $exp/melception per run (FID, KID, IS, MKL, onset alignment) -> RUN/preds_test.scores.json
#   9  the report: $exp/RESULTS.md, results.json, sound.png (mean +- std over the seeds)
#
# Cells. Sampler (stage 5, on the codebook of cell $sampler_codebook): feats (all 212 feature rows), nofeats
# (`sampler.n_feats=0`: conditioned on nothing visual, SpecVQGAN's "No Feats"), feats1, feats5 (1 or 5 rows),
# row (212 rows, `sampler.order=row`: the 53 time codes of each frequency row together instead of the 5 frequency
# codes of each time step). Codebook (stage 3, scored on the test clips' reconstructions): vq (VQ losses and L1
# only: `loss.perceptual_weight=0 loss.disc_weight=0`), vq-gan (+ PatchGAN), vq-gan-lpaps (+ LPAPS: SpecVQGAN's).
#
# Options: --stage N --stop-stage N --force true --data DIR --exp DIR --seeds "0 1 2" --cells "..."
#          --events sparse|dense --n_train N --n_val N --n_test N --workers N --model NAME --codebook_steps N
#          --vocoder_steps N --sampler_steps N --melception_steps N --batch_size N --codebook_lr LR (base_lr:
#          x batch size; default the preset's) --sampler_lr LR --patience N --eval_limit N --samples N
#          --sampler_codebook CELL --lpaps DIR --python PY, and after --, any `vxt train` option for every codebook
#          and sampler run.

stage=1
stop_stage=100
force=false
root=
data=data/sound
exp=exp/sound
seeds="0 1 2"
cells="feats nofeats feats1 feats5 row vq vq-gan vq-gan-lpaps"
events=sparse
n_train=48
n_val=8
n_test=16
workers=2
model=specvqgan-tiny
codebook_steps=120
vocoder_steps=150
sampler_steps=180
melception_steps=150
batch_size=4
codebook_lr=
sampler_lr=1e-3
patience=2
eval_limit=16
samples=1
sampler_codebook=vq-gan-lpaps
lpaps=
python=python3

. "$(dirname "$0")/../common.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
steps_args() { echo --max-steps "$1" --epochs 1000; }
first_seed=${seeds%% *}

sampler_args() {  # the `vxt train --stage sampler` options of a sampler cell
  case "$1" in
    feats) echo --set sampler.n_feats=212 ;;
    nofeats) echo --set sampler.n_feats=0 ;;
    feats1) echo --set sampler.n_feats=1 ;;
    feats5) echo --set sampler.n_feats=5 ;;
    row) echo --set sampler.n_feats=212 --set sampler.order=row ;;
    *) return 1 ;;
  esac
}
codebook_args() {  # the `vxt train --stage codebook` options of a codebook cell
  case "$1" in
    vq) echo --set loss.perceptual_weight=0 --set loss.disc_weight=0 ;;
    vq-gan) echo --set loss.perceptual_weight=0 ;;
    vq-gan-lpaps) echo --set perceptual="$lpaps_dir" ;;
    *) return 1 ;;
  esac
}
lpaps_dir=${lpaps:-$exp/lpaps}
sampler_cells=() codebook_cells=()
for c in $cells; do
  if sampler_args "$c" >/dev/null; then sampler_cells+=("$c")
  elif codebook_args "$c" >/dev/null; then codebook_cells+=("$c")
  else
    echo "$(basename "$0"): unknown cell $c (feats, nofeats, feats1, feats5, row, vq, vq-gan, vq-gan-lpaps)" >&2
    exit 2
  fi
done
if ! codebook_args "$sampler_codebook" >/dev/null; then
  echo "$(basename "$0"): --sampler_codebook must be a codebook cell (vq, vq-gan, vq-gan-lpaps)" >&2; exit 2
fi
# the codebooks to train: the codebook cells, and the one the sampler cells sample from
train_codebooks=()
for c in "${codebook_cells[@]+"${codebook_cells[@]}"}" ${sampler_cells[@]+"$sampler_codebook"}; do
  case " ${train_codebooks[*]+"${train_codebooks[*]}"} " in *" $c "*) ;; *) train_codebooks+=("$c") ;; esac
done
runs() {  # every run to decode and score: RUN dirs of the cells, all seeds
  for s in $seeds; do
    for c in ${codebook_cells[@]+"${codebook_cells[@]}"}; do echo "$exp/codebook-$c-seed$s"; done
    for c in ${sampler_cells[@]+"${sampler_cells[@]}"}; do echo "$exp/sampler-$c-seed$s"; done
  done
}

if stage_on 1 "prepare synthetic foley ($events events; $n_train / $n_val / $n_test clips)"; then
  # the sound task reads its own 22.05 kHz audio from the mp4s: no media cache
  done_or_run "$data/prepare_report.json" \
    $VXT prepare synth --mode foley --events "$events" --out "$data" --n-train "$n_train" --n-val "$n_val" \
      --n-test "$n_test" --seed 0 --workers "$workers" --no-cache
fi

if stage_on 2 "visual features of every clip (once), and the LPAPS network"; then
  done_or_run "$data/features/features.json" "$python" - "$data" <<'EOF'
import sys
from pathlib import Path

from vxt.models.sound.features import write_feature_files
from vxt.models.sound.options import PRESETS
from vxt.utils import write_json

data = Path(sys.argv[1])
# the tiny preset's backbone (ResNet-18, 64 px) at random init, drawn from seed 0: the same for every cell
info = write_feature_files(data, data / "features", PRESETS["specvqgan-tiny"]["visual"], seed=0)
write_json(data / "features" / "features.json", {**info, "note": "random-init backbone (no ImageNet weights)"})
print(f"visual features: {info['written']} written, {info['kept']} kept ({info['dim']}-d)", file=sys.stderr)
EOF
  need_lpaps=false
  for c in "${train_codebooks[@]+"${train_codebooks[@]}"}"; do [ "$c" = vq-gan-lpaps ] && need_lpaps=true; done
  if [ -z "$lpaps" ] && [ "$need_lpaps" = true ]; then
    # no trained LPAPS here. SpecVQGAN's own runs used theirs at init (its checkpoint loads into neither the
    # VGGish-ish stack nor the 1x1 layers: SpecVQGAN issue #13), so the recipe builds that network: VGGish-ish's
    # init (Kaiming normal, fan out), the 1x1 layers at PyTorch's default, the train set's per-mel scaling; at an
    # eighth of the widths (CPU). The report says so.
    done_or_run "$lpaps_dir/standin.json" "$python" - "$data" "$lpaps_dir" <<'EOF'
import sys
from pathlib import Path

import numpy as np
import torch

from vxt.data.loader import task_examples
from vxt.data.manifest import resolve_media
from vxt.models.sound.lpaps import LPAPS
from vxt.models.sound.task_model import clip_spectrogram
from vxt.utils import write_json

data, out = Path(sys.argv[1]), Path(sys.argv[2])
specs = [clip_spectrogram(resolve_media(data, ex["video"]), float(ex.get("start") or 0.0))[0]
         for ex in task_examples(data, "train", "sound")]
mean = np.mean([s.mean(1) for s in specs], 0)
std = np.mean([s.std(1) for s in specs], 0)
torch.manual_seed(0)
channels = (8, 16, 32, 64, 64)
net = LPAPS(channels=channels)
for m in net.net.modules():  # VGGishish.reset_parameters
    if isinstance(m, torch.nn.Conv2d):
        torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        torch.nn.init.zeros_(m.bias)
net.scaling_layer.shift.copy_(torch.from_numpy(2 * mean - 1).float()[None, None, :, None])
net.scaling_layer.scale.copy_(torch.from_numpy(2 * np.maximum(std, 1e-3)).float()[None, None, :, None])
net.save(out)
write_json(out / "standin.json", {"kind": "as SpecVQGAN's code ran it: at init (SpecVQGAN issue #13)",
                                  "channels": list(channels), "seed": 0, "stats_clips": len(specs)})
print(f"LPAPS as SpecVQGAN ran it (at init, widths {channels}) -> {out}", file=sys.stderr)
EOF
  fi
fi

train() {  # train OUT SEED STEPS ARGS...
  local out=$1 seed=$2 steps=$3; shift 3
  done_or_run "$out/train_summary.json" \
    $VXT train "${train_rerun[@]}" --task sound --model "$model" --data "$data" $(steps_args "$steps") \
      --batch-size "$batch_size" --seed "$seed" --eval-limit "$eval_limit" "$@" \
      ${extra_train_args[@]+"${extra_train_args[@]}"} --out "$out"
}

if stage_on 3 "codebooks (${train_codebooks[*]+"${train_codebooks[*]}"}; $codebook_steps steps; seeds $seeds)"; then
  for s in $seeds; do
    for c in ${train_codebooks[@]+"${train_codebooks[@]}"}; do
      # shellcheck disable=SC2046
      train "$exp/codebook-$c-seed$s" "$s" "$codebook_steps" --stage codebook $(codebook_args "$c") \
        ${codebook_lr:+--set base_lr="$codebook_lr"}
    done
  done
fi

if stage_on 4 "the MelGAN vocoder ($vocoder_steps steps, once)"; then
  done_or_run "$exp/vocoder/train_summary.json" \
    $VXT train "${train_rerun[@]}" --task sound --model "$model" --data "$data" --stage vocoder \
      $(steps_args "$vocoder_steps") --batch-size "$batch_size" --seed "$first_seed" --eval-limit "$eval_limit" \
      --out "$exp/vocoder"
fi

if stage_on 5 "samplers (${sampler_cells[*]+"${sampler_cells[*]}"}; $sampler_steps steps, --patience $patience)"; then
  for s in $seeds; do
    for c in ${sampler_cells[@]+"${sampler_cells[@]}"}; do
      feats=(--features "$data/features")
      [ "$c" = nofeats ] && feats=()
      # shellcheck disable=SC2046
      train "$exp/sampler-$c-seed$s" "$s" "$sampler_steps" --stage sampler \
        --set codebook="$exp/codebook-$sampler_codebook-seed$s" --set vocoder_exp="$exp/vocoder" \
        "${feats[@]+"${feats[@]}"}" --lr "$sampler_lr" --patience "$patience" $(sampler_args "$c")
    done
  done
fi

if stage_on 6 "Melception, the scorer ($melception_steps steps, once)"; then
  done_or_run "$exp/melception/train_summary.json" \
    $VXT train "${train_rerun[@]}" --task classify --model melception-tiny --data "$data" \
      $(steps_args "$melception_steps") --batch-size 8 --lr 1e-3 --seed "$first_seed" --out "$exp/melception"
fi

if stage_on 7 "decode the test split (first $eval_limit clips, $samples sample(s) each)"; then
  for run in $(runs); do
    # a sampler samples with the features of its clips; a codebook reconstructs each clip once
    args=(--features "$data/features" --samples "$samples")
    case "$run" in */codebook-*) args=() ;; */sampler-nofeats-*) args=(--samples "$samples") ;; esac
    done_or_run "$run/preds_test.json" $VXT decode "$data" --task sound --split test --ckpt "$run" \
      --limit "$eval_limit" --batch-size 1 --set vocoder="$exp/vocoder" "${args[@]+"${args[@]}"}" \
      --out "$run/preds_test.json"
  done
fi

if stage_on 8 "score: FID, KID, IS, MKL (Melception), onset alignment"; then
  for run in $(runs); do
    done_or_run "$run/preds_test.scores.json" $VXT score "$run/preds_test.json" --classifier "$exp/melception"
  done
fi

if stage_on 9 "report: $exp/RESULTS.md"; then
  log "  \$ $python $here/report.py $exp --seeds \"$seeds\" --cells \"$cells\" --sampler-codebook $sampler_codebook"
  "$python" "$here/report.py" "$exp" --seeds "$seeds" --cells "$cells" --sampler-codebook "$sampler_codebook"
fi
log "done in ${SECONDS} s"
