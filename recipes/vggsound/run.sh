#!/usr/bin/env bash
# SpecVQGAN on VGGSound (Iashin & Rahtu, BMVC 2021): visually guided sound generation, with the paper's settings.
#
#   recipes/vggsound/run.sh --root /data/vggsound [--features DIR] [--cells "resnet50 bninception no-feats"]
#                           [--codebook_ablation true] [--nproc 4] [--stage N] [--stop-stage N]
#
# --root holds vggsound.csv (youtube_id,start_seconds,label,split) and the 10 s clips (<id>_<start ms>_<end ms>.mp4).
# Stages (see README.md for where each setting comes from):
#   1 prepare     vxt prepare vggsound --task sound (22,050 Hz; about 1 in 20 train clips held out as val;
#                 --split_list FILE: SpecVQGAN's vggsound_test.txt as the test split)
#   2 melception  vxt train --task classify --model melception: the classifier of FID/KID/IS/MKL (Adam 3e-4,
#                 batch 8, 100 epochs, patience 3: SpecVQGAN's melception.yaml)
#   3 lpaps       the codebook's perceptual network: --lpaps as-run (default: the LPAPS SpecVQGAN's code ran,
#                 built from the Melception's input statistics), vggishish (the one it meant: a VGGishish trained
#                 here, its convs: Adam 3e-4, batch 32, patience 3), a folder with lpaps.safetensors, or none
#   4 codebook    vxt train --task sound --stage codebook: 1,024 codes, PatchGAN from step 30,001 (--disc_start),
#                 lr 4.5e-6 x batch (3 per process); --codebook_ablation true adds VQ only and VQ + PatchGAN
#   5 vocoder     vxt train --task sound --stage vocoder: MelGAN (batch 64, 8,192-sample pieces)
#   6 sampler     vxt train --task sound --stage sampler, one run per --cells entry: resnet50 (--features DIR:
#                 SpecVQGAN's feature_resnet50_dim2048_21.5fps, else extracted with ImageNet ResNet-50,
#                 --visual_weights FILE), bninception (--bninception_rgb DIR --bninception_flow DIR), no-feats
#                 (sampler.n_feats=0); 212 feature rows, GPT 24 x 16 heads x 1,024, AdamW lr 5e-6 x batch (2 per
#                 process), early stopping with patience 2
#   7 decode      the test split: --samples per clip (1), top-k 512; the codebook's reconstructions
#   8 score       vxt score --classifier (the Melception): FID, MKL, KID, IS -> RESULTS.md, results.json
# Everything after `--` goes to every `vxt train`. Smoke runs: --model specvqgan-tiny --max_steps 2.

stage=1
stop_stage=100
root=
force=false
data=data/vggsound
exp=exp/vggsound-specvqgan
model=specvqgan              # specvqgan-tiny: the same geometry, CPU-sized (tests)
melception_model=melception  # melception-tiny (tests)
split_list=                  # the test clips, one a line (SpecVQGAN's vggsound_test.txt); default: the csv's test rows
melception_exp=              # a trained Melception to score with instead of stage 2's
cells="resnet50"             # sampler cells: resnet50 bninception no-feats
features=                    # SpecVQGAN's ResNet-50 features (<clip>.npy, 215 x 2048 at 21.5 fps)
bninception_rgb=             # SpecVQGAN's BN-Inception RGB features (<clip>.npy, 215 x 1024)
bninception_flow=            # ... and flow features (concatenated with the RGB ones: 2,048-d)
visual_weights=              # torchvision ResNet-50 ImageNet state dict (resnet50 without --features)
lpaps=as-run                 # as-run | vggishish | none | DIR (lpaps.safetensors)
lpaps_channels=              # as-run with narrower widths, e.g. 8,16,32,64,64 (CPU smoke runs; default VGG-16's)
vggishish_model=vggishish    # --lpaps vggishish: the classifier whose convs LPAPS reads (vggishish-tiny: tests)
vggishish_batch_size=32      # SpecVQGAN's vggish.yaml: Adam 3e-4, batch 32, 100 epochs, patience 3
vggishish_epochs=100
vggishish_patience=3
codebook_ablation=false      # true: the paper's codebook loss ablation (VQ only; + PatchGAN; + LPAPS)
disc_start=30001
n_feats=212
top_k=512
samples=1
nproc=1
melception_batch_size=8      # per process, like every batch size here
codebook_batch_size=3
vocoder_batch_size=64
sampler_batch_size=2
melception_epochs=100
melception_patience=3        # melception.yaml
codebook_epochs=40           # the released VGGSound codebook is epoch_39 (0-based)
vocoder_epochs=3000          # MelGAN's args.yml
sampler_epochs=1000          # Lightning 1.2's default cap (SpecVQGAN sets none) ...
sampler_patience=2           # ... and early stopping on the validation loss, patience 2
max_steps=                   # a cap on optimizer steps of every training stage (smoke runs)
seed=0
workers=4
python=python3

. "$(dirname "$0")/../common.sh" "$@"

[ -n "$root" ] || [ "$stage" -gt 1 ] || { echo "$(basename "$0"): --root DIR (vggsound.csv and the clips) is required" >&2; exit 2; }
SECONDS=0
mel=${melception_exp:-$exp/melception} voc=$exp/vocoder cb=$exp/codebook
. "$(dirname "$0")/../specvqgan_real.sh"

if stage_on 1 "prepare VGGSound for sound generation"; then
  done_or_run "$data/prepare_report.json" $VXT prepare vggsound --root "$root" --task sound --out "$data" \
    --no-cache --workers "$workers" ${split_list:+--split-list "$split_list"}
fi

if stage_on 2 "Melception, the classifier the metrics use"; then svq_melception; fi

if stage_on 3 "LPAPS, the codebook's perceptual network ($lpaps)"; then svq_lpaps; fi

if stage_on 4 "the spectrogram codebook (VQGAN, PatchGAN from step $disc_start, LPAPS: $lpaps)"; then
  svq_codebook "$cb" --set "loss.disc_start=$disc_start" --set "perceptual=$perceptual"
  if [ "$codebook_ablation" = "true" ]; then
    svq_codebook "$exp/codebook-vq" --set "loss.disc_start=$disc_start" --set loss.perceptual_weight=0 \
      --set loss.disc_weight=0 --set perceptual=none
    svq_codebook "$exp/codebook-vq-patchgan" --set "loss.disc_start=$disc_start" --set loss.perceptual_weight=0 \
      --set perceptual=none
  fi
fi

if stage_on 5 "the MelGAN vocoder"; then svq_vocoder; fi

if stage_on 6 "the visually conditioned sampler (cells: $cells)"; then svq_samplers; fi

recon=("vq+patchgan+lpaps=$cb")
[ "$codebook_ablation" = "true" ] && recon+=("vq=$exp/codebook-vq" "vq+patchgan=$exp/codebook-vq-patchgan")

if stage_on 7 "decode the test split ($samples sample(s) per clip, top-k $top_k) and the codebook reconstructions"; then
  svq_decode
fi

if stage_on 8 "score with Melception: FID, MKL, KID, IS (RESULTS.md)"; then svq_score vggsound; fi
log "done in ${SECONDS} s"
