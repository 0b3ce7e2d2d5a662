"""Helpers of the SpecVQGAN recipes (recipes/vggsound/run.sh and recipes/vas/run.sh).

    python specvqgan_tools.py lpaps --melception EXP --out DIR [--seed N] [--channels 8,16,32,64,64]
    python specvqgan_tools.py lpaps --vggishish EXP --out DIR [--seed N]
    python specvqgan_tools.py report --dataset vggsound|vas --exp EXP --cells "resnet50 ..." [...]

``lpaps``: the LPAPS network SpecVQGAN's code actually ran (see recipes/vggsound/README.md): the VGGish-ish conv
stack at VGGish-ish's own init (Kaiming normal, fan out, zero bias) and the five 1x1 layers at PyTorch's default
init, seeded, because neither loads from the published checkpoint (SpecVQGAN issue #13); only the per-mel-bin
scaling is data: the training set's mean and std, taken here from the Melception buffers (the same statistic
over the same clips), mapped to [-1, 1] as SpecVQGAN's ScalingLayer does. ``--vggishish EXP``: the LPAPS its
code meant to run, the conv stack of a VGGishish trained on the sound classes (``vxt train --task classify --model
vggishish``, SpecVQGAN's train_vggishish.py), the 1x1 layers at their init, the scaling from its statistics.

``report``: RESULTS.md and results.json from the ``vxt score`` files, beside the paper's numbers.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

#: the paper's numbers as issue #15 quotes them (FID, MKL; 212 feature rows)
PAPER = {
    "vggsound": {
        "sampling": {"bninception": (9.6, 6.8), "resnet50": (10.5, 6.9), "no-feats": (13.5, 9.7)},
        "reconstruction": {"vq+patchgan+lpaps": (1.0, 0.8), "vq": (130.4, 9.6), "vq+patchgan": (1.4, 1.1)},
    },
    # VAS, 212 features, sampler on the VGGSound codebook (the paper's best VAS rows)
    "vas": {"sampling": {"bninception": (20.5, 6.0), "resnet50": (20.8, 6.2), "no-feats": (33.7, 9.6)},
            "reconstruction": {}},
}
FEATURE_NAMES = {"bninception": "BN-Inception (RGB + flow)", "resnet50": "ResNet-50", "no-feats": "no features"}
CODEBOOK_NAMES = {"vq+patchgan+lpaps": "VQ + PatchGAN + LPAPS", "vq": "VQ only", "vq+patchgan": "VQ + PatchGAN"}
VAS_NOTE = "; VAS: the sampler on the VGGSound codebook, so a VAS codebook's rows show none"


# ---------------------------------------------------------------- lpaps


def lpaps(args) -> None:
    import torch
    import torch.nn as nn
    from safetensors.torch import save_file

    from vxt.models import load_checkpoint
    from vxt.models.sound.lpaps import LPAPS, WEIGHTS_FILE

    if args.vggishish:  # the LPAPS SpecVQGAN meant: a trained VGGishish's convs
        torch.manual_seed(int(args.seed))  # the 1x1 layers' init
        net = LPAPS.from_vggishish(load_checkpoint(args.vggishish))
        out = Path(args.out)
        net.save(out)
        LPAPS.load(out)  # it loads as the codebook stage will load it
        (out / "lpaps.json").write_text(json.dumps({
            "what": "SpecVQGAN's LPAPS as its code meant it: the convs of a VGGishish trained on the sound classes "
                    "(vxt train --task classify --model vggishish), the 1x1 layers at their init (nothing trains "
                    "them), the per-bin scaling from that classifier's training statistics",
            "seed": int(args.seed), "channels": list(net.channels),
            "vggishish": str(Path(args.vggishish).resolve())}, indent=2) + "\n")
        print(f"wrote {out / WEIGHTS_FILE} (LPAPS from the VGGishish of {args.vggishish}, seed {args.seed})")
        return
    if not args.melception:
        raise SystemExit("specvqgan_tools: lpaps needs --melception EXP (as run) or --vggishish EXP")
    mel = load_checkpoint(args.melception)
    mean = mel.net.norm_mean.detach().float().reshape(-1)
    std = mel.net.norm_std.detach().float().reshape(-1)
    torch.manual_seed(int(args.seed))
    if args.channels:  # a narrower stack of the same layout (CPU smoke runs)
        net = LPAPS(n_mels=int(mean.numel()), channels=tuple(int(c) for c in args.channels.split(",")))
    else:
        net = LPAPS(n_mels=int(mean.numel()))
    for m in net.net.modules():  # VGGishish.reset_parameters
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
    net.scaling_layer.shift.copy_((2 * mean - 1)[None, None, :, None])
    net.scaling_layer.scale.copy_((2 * std)[None, None, :, None])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / WEIGHTS_FILE))
    LPAPS.load(out)  # it loads as the codebook stage will load it
    (out / "lpaps.json").write_text(json.dumps({
        "what": "SpecVQGAN's LPAPS as its code ran it: VGGish-ish and the 1x1 layers at their init (the "
                "checkpoint loads into neither, SpecVQGAN issue #13); the per-bin scaling from the training set",
        "seed": int(args.seed), "channels": list(getattr(net, "channels", (64, 128, 256, 512, 512))),
        "statistics_from": str(Path(args.melception).resolve())}, indent=2) + "\n")
    print(f"wrote {out / WEIGHTS_FILE} (the as-run LPAPS, seed {args.seed})")


# ---------------------------------------------------------------- report


def _scores(path: Path) -> dict | None:
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    return doc.get("metrics", doc)


def _num(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{float(x):.2f}"


def _paper(p) -> list[str]:
    return [f"{p[0]:.1f}", f"{p[1]:.1f}"] if p else ["-", "-"]


def report(args) -> None:
    exp = Path(args.exp)
    paper = PAPER[args.dataset]
    if args.dataset == "vas" and args.codebook_source != "vggsound":  # the paper's VAS numbers: VGGSound codebook
        paper = {"sampling": {}, "reconstruction": {}}
    split = "vas_valid, the validation list" if args.dataset == "vas" else "test"
    cells = args.cells.split()
    out: dict = {"dataset": args.dataset, "split": split, "samples_per_clip": args.samples, "top_k": args.top_k,
                 "n_feats": args.n_feats, "codebook": args.codebook, "codebook_source": args.codebook_source,
                 "melception": args.melception,
                 "sampling": {}, "reconstruction": {}, "paper": paper}
    lines = [f"# SpecVQGAN on {'VAS' if args.dataset == 'vas' else 'VGGSound'} ({split})", "",
             f"Scored by `vxt score --classifier {args.melception}` (Melception: FID and KID on its 2,048-d "
             "features, IS on its bias-free logits, MKL per sample against its own clip). Sampling: "
             f"{args.samples} sample(s) per clip, top-k {args.top_k}, temperature 1, {args.n_feats} feature rows (none "
             "in the no-features row), "
             f"the codebook of {args.codebook} (trained on {args.codebook_source}). The paper's numbers are those of "
             f"issue #15 (212 feature rows{VAS_NOTE if args.dataset == 'vas' else ''}).", "",
             "## Sampling", "",
             "| features | FID | MKL | KID | IS | paper FID | paper MKL |", "|---|---|---|---|---|---|---|"]

    def row(group: str, key: str, name: str, m: dict | None) -> str:
        """A table row: the measured FID, MKL, KID, IS (or "not run") and the paper's FID, MKL."""
        theirs = " | ".join(_paper(paper[group].get(key)))
        if m is None:
            return f"| {name} | not run | | | | {theirs} |"
        out[group][key] = m
        return f"| {name} | {' | '.join(_num(m.get(k)) for k in ('FID', 'MKL', 'KID', 'IS'))} | {theirs} |"

    for cell in ("bninception", "resnet50", "no-feats"):
        m = _scores(exp / f"sampler-{cell}" / "preds_test.scores.json") if cell in cells else None
        lines.append(row("sampling", cell, FEATURE_NAMES[cell], m))
    recon = [(k, Path(v)) for k, v in (x.split("=", 1) for x in args.reconstruction)]
    if recon:
        lines += ["", "## Codebook reconstruction", "",
                  "Each clip's spectrogram through the codebook (encoder, quantiser, decoder), scored as the samples.",
                  "", "| codebook losses | FID | MKL | KID | IS | paper FID | paper MKL |",
                  "|---|---|---|---|---|---|---|"]
        for key, path in recon:
            lines.append(row("reconstruction", key, CODEBOOK_NAMES.get(key, key), _scores(path)))
    from vxt.utils import atomic_write_text, write_json

    write_json(exp / "results.json", out)
    atomic_write_text(exp / "RESULTS.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lpaps")
    p.add_argument("--melception", help="as run: the scaling from this Melception's training statistics")
    p.add_argument("--vggishish", help="as meant: a trained VGGishish experiment (its convs and statistics)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", default=0, type=int)
    p.add_argument("--channels", help="five widths, comma-separated (default: VGG-16's 64,128,256,512,512)")
    p = sub.add_parser("report")
    p.add_argument("--dataset", required=True, choices=sorted(PAPER))
    p.add_argument("--exp", required=True)
    p.add_argument("--cells", default="")
    p.add_argument("--reconstruction", nargs="*", default=[], help="KEY=SCORES_JSON, in table order")
    p.add_argument("--samples", type=int, required=True)
    p.add_argument("--top-k", type=int, required=True)
    p.add_argument("--n-feats", type=int, required=True)
    p.add_argument("--codebook", required=True)
    p.add_argument("--codebook-source", default="vggsound", help="the data the codebook was trained on")
    p.add_argument("--melception", required=True)
    args = ap.parse_args()
    {"lpaps": lpaps, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
