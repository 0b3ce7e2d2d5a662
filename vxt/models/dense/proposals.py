"""BMT's event proposal generator, as a module of its own (Iashin and Rahtu, BMVC 2020).

It works on any set of time streams (a captioner's encoder outputs such as
BMT's Av/Va, MDVC's or VX2TEXT's, or raw feature streams): for each stream
(modality) several heads, each three 1-D convolutions (the first with the
head's kernel size, then kernel 1, ReLU between), predict for every grid cell
(time step) and anchor three numbers:

* centre = cell + sigmoid(x)                 (in cells)
* length = anchor * exp(l)                   (in cells)
* objectness = sigmoid(o)

A cell lasts ``step`` seconds: the stream's fixed step when the config gives
one (BMT: 64/25 = 2.56 s for I3D, 0.96 s for VGGish), else duration / number
of valid steps of that example. Anchors (in cells) and kernel sizes come from
K-means on the training segments' lengths in cells (:func:`fit_anchors`).

Loss (YOLO-like, as BMT): each ground-truth segment is assigned to the cell
holding its centre and to the anchor of best length-IoU; MSE on sigmoid(x) vs
the centre's offset in the cell and on l vs log(length / anchor), binary
cross-entropy on objectness at the assigned (cell, anchor) pairs (weight
``obj_coeff``) and at every other valid pair (weight ``noobj_coeff`` = 100),
summed over heads and streams.

Proposals: all valid predictions of all heads of all streams, ranked by
objectness, converted to seconds and clipped to [0, duration]; segments not
longer than ``min_length`` dropped; optional NMS (tIoU threshold); the top
``top_k`` (100) kept. A stream that is missing for an example (all-False mask)
gives no proposals and no loss for it.

Training order (BMT): the captioner on ground-truth segments first, then this
generator on the captioner's frozen encoder (:class:`EncoderProposalModel`).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vxt.decoding.events import nms_segments
from vxt.errors import VxtError

# ------------------------------------------------------------------ anchors


def _kmeans_1d(x: np.ndarray, k: int, rng: np.random.Generator, n_init: int = 4, iters: int = 300) -> np.ndarray:
    """Euclidean K-means on 1-D data with k-means++ seeding; best of ``n_init`` runs; sorted centres."""
    def assign(c_sorted: np.ndarray) -> np.ndarray:
        # in 1-D the nearest centre is found between the midpoints of the sorted centres
        return np.searchsorted((c_sorted[1:] + c_sorted[:-1]) / 2, x)

    best, best_inertia = None, math.inf
    for _ in range(n_init):
        centres = [x[rng.integers(len(x))]]
        d2 = (x - centres[0]) ** 2
        for _ in range(1, k):
            total = d2.sum()
            nxt = x[rng.integers(len(x))] if total <= 0 else x[rng.choice(len(x), p=d2 / total)]
            centres.append(nxt)
            d2 = np.minimum(d2, (x - nxt) ** 2)
        c = np.sort(np.asarray(centres, dtype=np.float64))
        for _ in range(iters):
            a = assign(c)
            counts = np.bincount(a, minlength=k)
            sums = np.bincount(a, weights=x, minlength=k)
            new = np.sort(np.where(counts > 0, sums / np.maximum(counts, 1), c))
            if np.allclose(new, c, rtol=0, atol=1e-10):
                break
            c = new
        inertia = float(((x - c[assign(c)]) ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = c, inertia
    return best


def odd_ceil(v: float) -> int:
    """The smallest odd integer >= v (at least 1)."""
    k = max(1, int(math.ceil(v - 1e-9)))
    return k if k % 2 else k + 1


def fit_anchors(segment_lengths_in_cells: Sequence[float], n_anchors: int, seed: int = 0,
                n_kernels: int | None = None) -> tuple[list[float], list[int]]:
    """Anchors and head kernel sizes from the training segments' lengths (in grid cells).

    Anchors: the ``n_anchors`` K-means (Euclidean) centres of the lengths,
    sorted. Kernel sizes: the centres of a K-means with ``n_kernels`` clusters
    (default ``min(10, n_anchors)``, BMT's 10 heads) rounded up to odd
    integers, deduplicated and sorted. Deterministic for a given ``seed``.
    """
    x = np.asarray([float(v) for v in segment_lengths_in_cells], dtype=np.float64)
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) == 0:
        raise VxtError("fit_anchors needs at least one positive segment length")
    if n_anchors < 1:
        raise VxtError(f"n_anchors must be >= 1, got {n_anchors}")
    n_distinct = len(np.unique(x))
    rng = np.random.default_rng(seed)
    anchors = _kmeans_1d(x, min(n_anchors, n_distinct), rng)
    n_k = min(n_kernels or min(10, n_anchors), n_distinct)
    kernels = sorted({odd_ceil(c) for c in _kmeans_1d(x, n_k, rng)})
    return [float(a) for a in anchors], kernels


# ------------------------------------------------------------------ the generator


class ProposalHead(nn.Module):
    """Three 1-D convolutions: kernel ``k`` then 1 then 1 -> 3 numbers per anchor per step."""

    def __init__(self, d_in: int, hidden: Sequence[int], n_anchors: int, kernel_size: int, dropout: float,
                 layer_norm: bool = False):
        super().__init__()
        if kernel_size % 2 != 1:
            raise VxtError(f"proposal head kernel sizes must be odd, got {kernel_size}")
        dims = [d_in, *hidden, 3 * n_anchors]
        self.norms = nn.ModuleList([nn.LayerNorm(d) if layer_norm else nn.Identity() for d in dims[:-1]])
        self.convs = nn.ModuleList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            k = kernel_size if i == 0 else 1
            self.convs.append(nn.Conv1d(a, b, k, padding=k // 2))
        self.dropout = nn.Dropout(dropout)
        self.n_anchors = n_anchors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T, A, 3] raw (x, l, o)."""
        B, T, _ = x.shape
        for i, (norm, conv) in enumerate(zip(self.norms, self.convs)):
            x = conv(norm(x).transpose(1, 2)).transpose(1, 2)
            if i < len(self.convs) - 1:
                x = F.relu(self.dropout(x))
        return x.reshape(B, T, self.n_anchors, 3)


class ProposalGenerator(nn.Module):
    """Event proposals from time streams (see the module docstring).

    Args:
        stream_dims: width of each stream, e.g. ``{"video": 1024, "audio": 128}``.
        anchors: anchor lengths in grid cells per stream (from :func:`fit_anchors`).
        kernel_sizes: odd kernel sizes of the heads per stream (one head per size).
        hidden: widths of the two hidden convolutions (BMT: 512, 512).
        steps: seconds per grid cell per stream; None (or a missing key) = duration / valid steps.
        obj_coeff, noobj_coeff: objectness loss weights (BMT: 1 and 100).
        min_length: proposals not longer than this (seconds) are dropped (BMT: 0.2 s).
    """

    def __init__(self, stream_dims: dict[str, int], anchors: dict[str, list[float]],
                 kernel_sizes: dict[str, list[int]], hidden: Sequence[int] = (512, 512), dropout: float = 0.1,
                 layer_norm: bool = False, steps: dict[str, float | None] | None = None,
                 obj_coeff: float = 1.0, noobj_coeff: float = 100.0, min_length: float = 0.2):
        super().__init__()
        streams = list(stream_dims)
        for m in streams:
            if not anchors.get(m):
                raise VxtError(f"proposal generator: no anchors for stream {m!r}")
            if not kernel_sizes.get(m):
                raise VxtError(f"proposal generator: no kernel sizes for stream {m!r}")
        self._config = {
            "stream_dims": {m: int(stream_dims[m]) for m in streams},
            "anchors": {m: [float(a) for a in anchors[m]] for m in streams},
            "kernel_sizes": {m: [int(k) for k in kernel_sizes[m]] for m in streams},
            "hidden": [int(h) for h in hidden],
            "dropout": float(dropout),
            "layer_norm": bool(layer_norm),
            "steps": {m: (None if (steps or {}).get(m) is None else float(steps[m])) for m in streams},
            "obj_coeff": float(obj_coeff),
            "noobj_coeff": float(noobj_coeff),
            "min_length": float(min_length),
        }
        self.heads = nn.ModuleDict({
            m: nn.ModuleList([ProposalHead(self._config["stream_dims"][m], self._config["hidden"],
                                           len(self._config["anchors"][m]), k, dropout, layer_norm)
                              for k in self._config["kernel_sizes"][m]])
            for m in streams
        })
        for m in streams:
            self.register_buffer(f"anchors_{m}", torch.tensor(self._config["anchors"][m]), persistent=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    @property
    def config(self) -> dict:
        return copy.deepcopy(self._config)

    @property
    def streams(self) -> list[str]:
        return list(self.heads.keys())

    # -- prediction
    def forward(self, streams: dict[str, torch.Tensor], masks: dict[str, torch.Tensor] | None,
                durations: torch.Tensor) -> dict:
        """Raw predictions per stream: ``{m: {"raw": [B, H, T, A, 3], "mask": [B, T], "step": [B] s}}``.

        Streams the generator has no heads for, or the input lacks, are skipped.
        """
        out = {}
        durations = torch.as_tensor(durations, dtype=torch.float32)
        for m, heads in self.heads.items():
            x = streams.get(m)
            if x is None:
                continue
            mask = (masks or {}).get(m)
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
            x = torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))
            raw = torch.stack([h(x) for h in heads], dim=1).float()
            step_cfg = self._config["steps"].get(m)
            n_valid = mask.sum(dim=1).to(torch.float32).cpu()
            if step_cfg is None:
                step = durations.cpu() / n_valid.clamp(min=1)
            else:
                step = torch.full_like(n_valid, step_cfg)
            out[m] = {"raw": raw, "mask": mask, "step": step.to(x.device)}
        return out

    def _targets(self, m: str, pred: dict, gt_segments: Sequence[Sequence[Sequence[float]]]):
        """obj mask, targets for sigmoid(x) and l ([B, T, A])."""
        raw, mask, step = pred["raw"], pred["mask"], pred["step"]
        B, _, T, A, _ = raw.shape
        anchors = getattr(self, f"anchors_{m}").to(raw.device)
        obj = torch.zeros(B, T, A, dtype=torch.bool, device=raw.device)
        tx = torch.zeros(B, T, A, device=raw.device)
        tw = torch.zeros(B, T, A, device=raw.device)
        n_valid = mask.sum(dim=1).tolist()
        for b, segs in enumerate(gt_segments):
            if n_valid[b] == 0:
                continue
            st = float(step[b])
            for seg in segs:
                s, e = float(seg[0]), float(seg[1])
                if not e > s:
                    continue
                c, w = (s + e) / 2 / st, (e - s) / st
                wt = anchors.new_tensor(w)
                iou = torch.minimum(anchors, wt) / torch.maximum(anchors, wt)
                a = int(iou.argmax())
                cell = min(max(int(math.floor(c)), 0), n_valid[b] - 1)
                obj[b, cell, a] = True
                tx[b, cell, a] = min(max(c - cell, 0.0), 1.0)
                tw[b, cell, a] = math.log(w / float(anchors[a]) + 1e-16)
        return obj, tx, tw

    def loss(self, predictions: dict, gt_segments: Sequence[Sequence[Sequence[float]]]) -> dict:
        """YOLO-like loss. ``gt_segments[b]`` lists (start, end) in seconds for example b.

        Returns {"loss": total, "loss_x", "loss_w", "loss_obj", "loss_noobj"} (parts summed over heads/streams).
        """
        parts = {"loss_x": 0.0, "loss_w": 0.0, "loss_obj": 0.0, "loss_noobj": 0.0}
        total = None
        for m, pred in predictions.items():
            raw, mask = pred["raw"], pred["mask"]
            if not bool(mask.any()):
                continue
            obj, tx, tw = self._targets(m, pred, gt_segments)
            noobj = mask[:, :, None].expand_as(obj) & ~obj
            for h in range(raw.shape[1]):
                x, l, o = raw[:, h, ..., 0], raw[:, h, ..., 1], raw[:, h, ..., 2]
                zero = raw.sum() * 0.0  # keeps the graph when a term is empty
                lx = F.mse_loss(torch.sigmoid(x[obj]), tx[obj]) if obj.any() else zero
                lw = F.mse_loss(l[obj], tw[obj]) if obj.any() else zero
                lo = F.binary_cross_entropy_with_logits(o[obj], torch.ones_like(o[obj])) if obj.any() else zero
                ln = (F.binary_cross_entropy_with_logits(o[noobj], torch.zeros_like(o[noobj]))
                      if noobj.any() else zero)
                term = lx + lw + self._config["obj_coeff"] * lo + self._config["noobj_coeff"] * ln
                total = term if total is None else total + term
                for k, v in zip(parts, (lx, lw, lo, ln)):
                    parts[k] = parts[k] + v.detach()
        if total is None:
            raise VxtError("proposal loss: every stream of the batch is masked out")
        return {"loss": total, **parts}

    @torch.no_grad()
    def decode(self, predictions: dict, durations, top_k: int = 100, nms: float | None = None,
               min_length: float | None = None) -> list[list[dict]]:
        """Proposals in seconds per example: ``[[{"start", "end", "score"}, ...], ...]`` by descending score."""
        durations = torch.as_tensor(durations, dtype=torch.float32).cpu()
        min_length = self._config["min_length"] if min_length is None else float(min_length)
        B = len(durations)
        per_row: list[list[np.ndarray]] = [[] for _ in range(B)]
        for m, pred in predictions.items():
            raw, mask, step = pred["raw"].float().cpu(), pred["mask"].cpu(), pred["step"].float().cpu()
            _, H, T, A, _ = raw.shape
            anchors = getattr(self, f"anchors_{m}").cpu().float()
            cells = torch.arange(T, dtype=torch.float32).view(1, 1, T, 1)
            centre = (cells + torch.sigmoid(raw[..., 0])) * step.view(B, 1, 1, 1)
            length = anchors.view(1, 1, 1, A) * torch.exp(raw[..., 1].clamp(max=30.0)) * step.view(B, 1, 1, 1)
            score = torch.sigmoid(raw[..., 2])
            valid = mask.view(B, 1, T, 1).expand(B, H, T, A)
            for b in range(B):
                v = valid[b]
                if not bool(v.any()):
                    continue  # a missing stream proposes nothing
                c, ln, sc = centre[b][v], length[b][v], score[b][v]
                start = (c - ln / 2).clamp(min=0.0).clamp(max=float(durations[b]))
                end = (c + ln / 2).clamp(min=0.0).clamp(max=float(durations[b]))
                per_row[b].append(torch.stack([start, end, sc], dim=1).numpy())
        results = []
        for b in range(B):
            if not per_row[b]:
                results.append([])
                continue
            cand = np.concatenate(per_row[b], axis=0)
            cand = cand[(cand[:, 1] - cand[:, 0]) > min_length]
            if nms is not None and len(cand):
                pool = cand[np.argsort(-cand[:, 2], kind="stable")[: max(20 * top_k, 2000)]]
                keep = nms_segments(pool[:, :2], pool[:, 2], float(nms), top_k)
                cand = pool[keep]
            else:
                cand = cand[np.argsort(-cand[:, 2], kind="stable")[:top_k]]
            results.append([{"start": float(s), "end": float(e), "score": float(sc)} for s, e, sc in cand])
        return results

    @torch.no_grad()
    def propose(self, streams: dict[str, torch.Tensor], masks: dict[str, torch.Tensor] | None, durations,
                top_k: int = 100, nms: float | None = None, min_length: float | None = None) -> list[list[dict]]:
        """forward + decode: the top ``top_k`` proposals (seconds) of each example."""
        return self.decode(self.forward(streams, masks, durations), durations, top_k, nms, min_length)

    # -- persistence
    def save_pretrained(self, out_dir: str | Path) -> None:
        from safetensors.torch import save

        from vxt.files import canonical_safetensors
        from vxt.utils import atomic_write_bytes, write_json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        cfg = {**self.config, "arch": "proposal-generator",
               "class": f"{type(self).__module__}:{type(self).__qualname__}"}
        write_json(out / "config.json", cfg)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        atomic_write_bytes(out / "model.safetensors", canonical_safetensors(save(state, metadata={"format": "pt"})))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "ProposalGenerator":
        from safetensors.torch import load_file

        from vxt.utils import read_json

        p = Path(path)
        cfg = read_json(p / "config.json")
        if cfg.get("arch") != "proposal-generator":
            raise VxtError("not a proposal generator checkpoint", path=str(p))
        keys = ("stream_dims", "anchors", "kernel_sizes", "hidden", "dropout", "layer_norm", "steps",
                "obj_coeff", "noobj_coeff", "min_length")
        model = cls(**{k: cfg[k] for k in keys if k in cfg})
        from vxt.files import check_weight_shapes

        state = load_file(str(p / "model.safetensors"))
        check_weight_shapes({k: v.shape for k, v in model.state_dict().items()}, {k: v.shape for k, v in state.items()},
                            p / "model.safetensors")
        model.load_state_dict(state)
        return model


def raw_streams(batch: dict) -> tuple[dict, dict]:
    """The feature streams of a batch as they are (``video``/``audio`` + ``*_mask``)."""
    streams = {m: batch[m] for m in ("video", "audio") if batch.get(m) is not None}
    masks = {m: batch.get(f"{m}_mask") for m in streams if batch.get(f"{m}_mask") is not None}
    return streams, masks


class EncoderProposalModel(nn.Module):
    """A proposal generator on a (frozen) captioner's encoder, or on raw streams.

    ``encoder``: None (raw feature streams), a model with ``encode_streams(batch)``
    (BMT, MDVC) or any callable ``batch -> (streams, masks)``. Batches carry
    ``duration`` [B] (seconds) and, for the loss, ``segments``: per example a
    list of (start, end) seconds.
    """

    def __init__(self, generator: ProposalGenerator, encoder: Any = None, freeze_encoder: bool = True):
        super().__init__()
        self.generator = generator
        self.encoder = encoder if isinstance(encoder, nn.Module) else None
        self._encode_fn: Callable = (raw_streams if encoder is None else
                                     getattr(encoder, "encode_streams", encoder))
        self.freeze_encoder = freeze_encoder
        if self.encoder is not None and freeze_encoder:
            self.encoder.requires_grad_(False)

    def streams(self, batch: dict) -> tuple[dict, dict]:
        if self.encoder is not None and self.freeze_encoder:
            self.encoder.eval()
            with torch.no_grad():
                return self._encode_fn(batch)
        return self._encode_fn(batch)

    def forward(self, batch: dict) -> dict:
        streams, masks = self.streams(batch)
        return self.generator.loss(self.generator(streams, masks, batch["duration"]), batch["segments"])

    @torch.no_grad()
    def propose(self, batch: dict, top_k: int = 100, nms: float | None = None) -> list[list[dict]]:
        streams, masks = self.streams(batch)
        return self.generator.propose(streams, masks, batch["duration"], top_k=top_k, nms=nms)
