#!/usr/bin/env bash
# ActivityNet Captions dense video captioning with BMT (Iashin and Rahtu, BMVC 2020), the vxt way.
#
#   recipes/anet/run.sh --root /data/anet [--stage N] [--stop-stage N] [--force true] [--features DIR] [-- extra train args]
#
# --root holds train.json, val_1.json, val_2.json ({vid: {duration, timestamps, sentences}}) and the
# videos (videos/v_<id>.mp4, or anywhere under the root). Stages:
#   1 prepare    vxt prepare anet: train -> train, val_1 -> val, val_2 -> test (same videos as val)
#   2 features   extract the video/audio streams once with vxt's backbones (R(2+1)D-34 + CNN14 for bmt),
#                or check --features DIR (BMT's pre-extracted I3D rgb/flow + VGGish .npy files)
#   3 captioner  vxt train --task dense --stage captioner: BMT on the ground-truth segments (METEOR picks)
#   4 proposals  vxt train --task dense --stage proposals: the proposal generator on the frozen encoder (F1 picks)
#   5 decode     val_1 and val_2 videos: on ground-truth segments and on the learned proposals (top 100)
#   6 score      vxt score (ActivityNet protocol, tIoU 0.3/0.5/0.7/0.9); the mean over val_1 and val_2
#                goes to $exp/results.json
# Paper settings (the bmt preset): d_model 1024, 2 layers, 4 heads, dropout 0.1, label smoothing 0.7,
# captions up to 30 words, Adam 5e-5, batch 32 (captioner) / 16 (proposals), 128 + 48 anchors.

stage=1
stop_stage=100
root=
force=false
data=data/anet
exp=exp/anet-bmt
model=bmt              # bmt | mdvc | bmt-tiny | mdvc-tiny
features=              # BMT's pre-extracted features folder; empty: extract with vxt's backbones (stage 2)
audio_features=        # BMT's vggish_npy/ folder, when the VGGish files are kept apart
feature_combine=sum    # I3D rgb + flow: sum (1024-d, as BMT) or concat
epochs=30              # BMT's captioner peaked at epoch 26
prop_epochs=30
batch_size=32
prop_batch_size=16
lr=5e-5
max_steps=             # a cap on optimizer steps per training stage (smoke runs)
workers=4
score_args=            # e.g. --no-java (no METEOR; not comparable to published numbers)
python=python3

. "$(dirname "$0")/../common.sh" "$@"

feat_args=()
[ -n "$features" ] && feat_args+=(--features "$features")
set_args=(--set "feature_combine=$feature_combine")
[ -n "$audio_features" ] && set_args+=(--set "audio_features_dir=$audio_features")
steps_args=()
[ -n "$max_steps" ] && steps_args+=(--max-steps "$max_steps")

if stage_on 1 "prepare ActivityNet Captions into $data"; then
  [ -n "$root" ] || { echo "$(basename "$0"): --root is required for stage 1" >&2; exit 2; }
  # no media cache: the dense models read feature streams (vxt train builds the cache for models that need it)
  done_or_run "$data/train.jsonl" $VXT prepare anet --root "$root" --out "$data" --workers "$workers" --no-cache
fi

if stage_on 2 "features ($([ -n "$features" ] && echo "pre-extracted: $features" || echo "extracted with the $model backbones"))"; then
  done_or_run "$data/features/.ready-$model" bash -c \
    '"$0" -m vxt.models.dense.extract --data "$1" --model "$2" "${@:3}" && mkdir -p "$1/features" && touch "$1/features/.ready-$2"' \
    "$python" "$data" "$model" "${feat_args[@]}" "${set_args[@]}" "${extra_train_args[@]}"
fi

if stage_on 3 "train the $model captioner on ground-truth segments"; then
  done_or_run "$exp/captioner/train_summary.json" $VXT train "${train_rerun[@]}" --task dense --model "$model" --data "$data" \
    --stage captioner --out "$exp/captioner" --epochs "$epochs" --batch-size "$batch_size" --lr "$lr" \
    "${steps_args[@]}" "${feat_args[@]}" "${set_args[@]}" "${extra_train_args[@]}"
fi

if stage_on 4 "train the proposal generator on the frozen $model encoder"; then
  done_or_run "$exp/train_summary.json" $VXT train "${train_rerun[@]}" --task dense --model "$model" --data "$data" \
    --stage proposals --set "captioner=$exp/captioner" --out "$exp" --epochs "$prop_epochs" \
    --batch-size "$prop_batch_size" --lr "$lr" "${steps_args[@]}" "${feat_args[@]}" "${set_args[@]}" \
    "${extra_train_args[@]}"
fi

if stage_on 5 "decode val_1 (val) and val_2 (test): ground-truth segments and learned proposals"; then
  for split in val test; do
    done_or_run "$exp/preds_gt_$split.json" $VXT decode "$data" --task dense --split "$split" --ckpt "$exp" \
      --set segments=gt --out "$exp/preds_gt_$split.json" "${feat_args[@]}"
    done_or_run "$exp/preds_$split.json" $VXT decode "$data" --task dense --split "$split" --ckpt "$exp" \
      --out "$exp/preds_$split.json" "${feat_args[@]}"
  done
fi

if stage_on 6 "score (ActivityNet Captions protocol) and average val_1 / val_2"; then
  for name in gt_val gt_test val test; do
    done_or_run "$exp/preds_$name.scores.json" $VXT score "$exp/preds_$name.json" --out "$exp/preds_$name.scores.json" $score_args
  done
  done_or_run "$exp/results.json" "$python" - "$exp" <<'PY'
import json
import sys
from pathlib import Path

exp = Path(sys.argv[1])
keys = ("Bleu_3", "Bleu_4", "METEOR", "CIDEr", "Precision", "Recall", "F1")
out = {}
for mode, prefix in (("gt_segments", "preds_gt_"), ("learned_proposals", "preds_")):
    runs = [json.loads((exp / f"{prefix}{s}.scores.json").read_text()) for s in ("val", "test")]
    flat = [r.get("metrics", r) for r in runs]
    out[mode] = {k: 100 * sum(f[k] for f in flat) / len(flat) for k in keys if all(k in f for f in flat)}
out["note"] = "percent; mean of val_1 (split val) and val_2 (split test), tIoU 0.3/0.5/0.7/0.9, 100 proposals"
tmp = exp / ".results.json.tmp"
tmp.write_text(json.dumps(out, indent=2) + "\n")
tmp.replace(exp / "results.json")
for mode in ("gt_segments", "learned_proposals"):
    print(mode + ": " + ", ".join(f"{k} {v:.2f}" for k, v in out[mode].items()))
PY
fi
