#!/usr/bin/env bash
# SpecVQGAN on VAS (Iashin & Rahtu, BMVC 2021): visually guided sound generation on Visually Aligned Sounds.
#
#   recipes/vas/run.sh --root /data/vas [--vggsound_exp exp/vggsound-specvqgan --codebook vggsound]
#                      [--features DIR] [--cells "resnet50 bninception"] [--samples 10] [--stage N] [--stop-stage N]
#
# --root holds the clips <class>/video_NNNNN.mp4 (under videos/ or the root) and SpecVQGAN's vas_train.txt and
# vas_valid.txt. The paper scores VAS on vas_valid (vxt's VAS test split is that list).
# The paper's best VAS rows use a codebook, Melception, MelGAN and LPAPS trained on VGGSound: --vggsound_exp EXP
# (recipes/vggsound/run.sh's exp) takes the Melception, MelGAN and LPAPS from there, and --codebook vggsound also
# its codebook (the sampler then samples 1,024 codes at top-k 512). Without it everything is trained on VAS.
# Stages (see README.md for where each setting comes from):
#   1 prepare     vxt prepare vas (22,050 Hz)
#   2 melception  vxt train --task classify --model melception (unless --melception_exp / --vggsound_exp)
#                 (Adam 3e-4, batch 8, 100 epochs, patience 3)
#   3 lpaps       --lpaps as-run | vggishish | none | DIR, as recipes/vggsound/run.sh (a VAS codebook only)
#   4 codebook    --codebook vas: 128 codes, PatchGAN from step 2,001, lr 1e-6 x batch (3 per process)
#   5 vocoder     MelGAN (unless --vocoder_exp / --vggsound_exp)
#   6 sampler     one run per --cells entry (resnet50, bninception, no-feats), 212 feature rows, AdamW lr 1e-6 x
#                 batch (2 per process), early stopping with patience 2
#   7 decode      vas_valid: --samples per clip (10), top-k 64 (VAS codebook) or 512 (VGGSound codebook)
#   8 score       FID, MKL, KID, IS with the Melception -> RESULTS.md, results.json
# Everything after `--` goes to every `vxt train`. Smoke runs: --model specvqgan-tiny --max_steps 2.

stage=1
stop_stage=100
root=
force=false
data=data/vas
exp=exp/vas-specvqgan
model=specvqgan              # specvqgan-tiny: CPU-sized (tests)
melception_model=melception  # melception-tiny (tests)
vggsound_exp=                # recipes/vggsound/run.sh's exp: Melception, MelGAN, LPAPS (and codebook) from there
codebook=vas                 # vas (train one here) | vggsound ($vggsound_exp/codebook) | a codebook experiment dir
melception_exp=              # default: $vggsound_exp/melception, else trained here (stage 2)
vocoder_exp=                 # default: $vggsound_exp/vocoder, else trained here (stage 5)
lpaps=                       # as-run | vggishish | none | DIR; default: $vggsound_exp/lpaps when there, else as-run
lpaps_channels=              # as-run with narrower widths, e.g. 8,16,32,64,64 (CPU smoke runs; default VGG-16's)
vggishish_model=vggishish    # --lpaps vggishish: the classifier whose convs LPAPS reads (vggishish-tiny: tests)
vggishish_batch_size=32      # SpecVQGAN's vggish.yaml: Adam 3e-4, batch 32, 100 epochs, patience 3
vggishish_epochs=100
vggishish_patience=3
cells="resnet50"             # sampler cells: resnet50 bninception no-feats
features=                    # SpecVQGAN's VAS ResNet-50 features (features/<class>/feature_resnet50_dim2048_21.5fps)
bninception_rgb=             # ... BN-Inception RGB features (1,024-d)
bninception_flow=            # ... and flow features (concatenated: 2,048-d)
visual_weights=              # torchvision ResNet-50 ImageNet state dict (resnet50 without --features)
disc_start=2001
n_embed=128                  # the VAS codebook's codes
codebook_base_lr=1e-6
sampler_base_lr=1e-6
n_feats=212
top_k=                       # default: 64 with a VAS codebook, 512 with the VGGSound one (SpecVQGAN's README)
samples=10
nproc=1
melception_batch_size=8      # per process, like every batch size here
codebook_batch_size=3
vocoder_batch_size=64
sampler_batch_size=2
melception_epochs=100
melception_patience=3        # melception.yaml
codebook_epochs=260          # the released VAS codebook is epoch_259 (0-based)
vocoder_epochs=3000
sampler_epochs=1000          # Lightning 1.2's default cap (SpecVQGAN sets none) ...
sampler_patience=2           # ... and early stopping on the validation loss, patience 2
max_steps=
seed=0
workers=4
python=python3

. "$(dirname "$0")/../common.sh" "$@"

[ -n "$root" ] || [ "$stage" -gt 1 ] || { echo "$(basename "$0"): --root DIR (the VAS clips and split lists) is required" >&2; exit 2; }
SECONDS=0
need_vgg() { [ -n "$vggsound_exp" ] || { echo "$(basename "$0"): $1 needs --vggsound_exp EXP (recipes/vggsound/run.sh's)" >&2; exit 2; }; }
case "$codebook" in
  vas) cb=$exp/codebook; cb_source=VAS ;;
  vggsound) need_vgg "--codebook vggsound"; cb=$vggsound_exp/codebook; cb_source=vggsound ;;
  *) cb=$codebook; cb_source=$codebook ;;
esac
[ -n "$top_k" ] || { if [ "$codebook" = "vas" ]; then top_k=64; else top_k=512; fi; }
mel=${melception_exp:-${vggsound_exp:+$vggsound_exp/melception}}
mel=${mel:-$exp/melception}
voc=${vocoder_exp:-${vggsound_exp:+$vggsound_exp/vocoder}}
voc=${voc:-$exp/vocoder}
if [ -z "$lpaps" ]; then
  if [ -n "$vggsound_exp" ] && [ -e "$vggsound_exp/lpaps/lpaps.safetensors" ]; then lpaps=$vggsound_exp/lpaps; else lpaps=as-run; fi
fi
# SpecVQGAN's VAS features sit in one folder per class (features/<class>/<kind>/video_NNNNN.pkl): given the folder
# above them, the sampler reads DIR/*/<kind> (`*`: each example's class)
per_class() {
  if [ -n "$1" ] && [[ $1 != *"*"* ]] && compgen -G "$1/*/$2" >/dev/null; then echo "$1/*/$2"; else echo "$1"; fi
}
features=$(per_class "$features" feature_resnet50_dim2048_21.5fps)
bninception_rgb=$(per_class "$bninception_rgb" feature_rgb_bninception_dim1024_21.5fps)
bninception_flow=$(per_class "$bninception_flow" feature_flow_bninception_dim1024_21.5fps)
. "$(dirname "$0")/../specvqgan_real.sh"

if stage_on 1 "prepare VAS for sound generation"; then
  done_or_run "$data/prepare_report.json" $VXT prepare vas --root "$root" --out "$data" --no-cache --workers "$workers"
fi

if stage_on 2 "Melception, the classifier the metrics use"; then svq_melception; fi

if stage_on 3 "LPAPS, the codebook's perceptual network ($lpaps)"; then
  if [ "$codebook" != "vas" ]; then log "  no VAS codebook to train (--codebook $codebook)"; else svq_lpaps; fi
fi

if stage_on 4 "the spectrogram codebook ($codebook)"; then
  if [ "$codebook" = "vas" ]; then
    svq_codebook "$cb" --set "codebook.n_embed=$n_embed" --set "base_lr=$codebook_base_lr" \
      --set "loss.disc_start=$disc_start" --set "perceptual=$perceptual"
  else
    log "  using the codebook of $cb"
  fi
fi

if stage_on 5 "the MelGAN vocoder"; then svq_vocoder; fi

if stage_on 6 "the visually conditioned sampler on the $cb_source codebook (cells: $cells)"; then
  svq_samplers --set "sampler.base_lr=$sampler_base_lr"
fi

[ "$codebook" = "vas" ] && recon=("vq+patchgan+lpaps=$cb")

if stage_on 7 "decode vas_valid ($samples sample(s) per clip, top-k $top_k)"; then svq_decode; fi

if stage_on 8 "score with Melception: FID, MKL, KID, IS (RESULTS.md)"; then
  svq_score vas --codebook-source "$cb_source"
fi
log "done in ${SECONDS} s"
