"""The training loop shared by every task and model.

What it guarantees:

- the same command gives the same weights on the CPU (seeded; batch order and
  clip choices are functions of the seed, the epoch and the example id);
- ``--resume`` continues from the last checkpoint (mid-epoch ones included,
  with ``save_every``) and ends with the weights an unbroken run ends with;
- Adam with the paper's step schedule scaled to the run's length: the learning
  rate is divided by 10 at 50% and 75% of training (VX2TEXT: epochs 20 and 30
  of 40);
- one checkpoint per epoch, the best one on the task's validation metric
  (higher is better: CIDEr, accuracy, METEOR; never the loss);
- DDP through torchrun or ``nproc`` (gloo on CPU, NCCL on GPU): each rank takes
  its shard of every global batch, rank 0 evaluates and writes.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vxt.errors import VxtError
from vxt.utils import err_console, progress, read_json, seed_everything, write_json, write_jsonl


@dataclass
class TrainOptions:
    task: str
    data: str = "data/synth"
    model: str = "vx2text-tiny"
    overrides: dict = field(default_factory=dict)
    out: str | None = None
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 8
    lr: float = 1e-4
    lr_milestones: tuple[float, ...] = (0.5, 0.75)
    lr_gamma: float = 0.1
    grad_clip: float | None = 1.0
    train_fraction: float = 1.0
    seed: int = 0
    resume: bool = False
    save_every: int = 0
    eval_limit: int | None = 200
    eval_beam: int = 1
    log_every: int = 10
    nproc: int = 1
    keep_epochs: int = 2
    device: str = "auto"
    modality: str | None = None
    evaluate: bool = True

    def to_json(self) -> dict:
        d = asdict(self)
        d["lr_milestones"] = list(self.lr_milestones)
        return d


def default_out(opts: TrainOptions) -> str:
    data_name = Path(opts.data).name or "data"
    parts = [data_name, opts.task]
    if opts.task == "classify" and opts.modality:
        parts.append(opts.modality)
    else:
        parts.append(opts.model)
        tok = opts.overrides.get("tokenization")
        if tok and tok != "gumbel":
            parts.append(tok)
        mods = opts.overrides.get("modalities")
        if mods:
            parts.append("+".join(mods) if isinstance(mods, list) else str(mods))
    if opts.train_fraction < 1:
        parts.append(f"frac{opts.train_fraction:g}")
    parts.append(f"seed{opts.seed}")
    return str(Path("exp") / "-".join(parts))


def pick_device(spec: str):
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def to_device(batch: dict, device) -> dict:
    import torch

    if device.type == "cpu":
        return batch
    out = {}
    for k, v in batch.items():
        out[k] = v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
    return out


def build_for_task(opts: TrainOptions):
    """Build the model a run trains (a registry lookup, never a chain of ifs per model)."""
    from vxt.registry import MODELS

    overrides = dict(opts.overrides)
    overrides.setdefault("task", opts.task)
    if opts.task == "classify":
        from vxt.models.classify import build_classifier_model

        return build_classifier_model(opts.modality or "video", opts.data, overrides)
    entry = MODELS.get(opts.model)
    return entry.builder(overrides=overrides, data_dir=opts.data, name=opts.model)


def _rng_state() -> dict:
    import torch

    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]), "python_version": random.getstate()[0]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate((int(state["python_version"]), tuple(int(x) for x in state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class MetricsLog:
    """``metrics.jsonl``: append lines; on resume, lines past the resumed step are dropped."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        self.rows: list[dict] = []
        if resume_step is not None and path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    if row.get("step", 0) <= resume_step:
                        self.rows.append(row)
        self._flush()

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self._flush()

    def _flush(self) -> None:
        write_jsonl(self.path, self.rows)


def train(opts: TrainOptions) -> dict:
    """Train a model as ``opts`` says; returns a summary (best metric, paths)."""
    from vxt.train import distributed

    if opts.out is None:
        opts.out = default_out(opts)
    if opts.nproc > 1 and distributed.world()[1] == 1:
        distributed.spawn(_train_worker, opts.nproc, opts)
        summary_path = Path(opts.out) / "train_summary.json"
        return read_json(summary_path) if summary_path.exists() else {}
    return _train(opts)


def _train_worker(opts: TrainOptions) -> None:
    _train(opts)


def _train(opts: TrainOptions) -> dict:
    import torch

    from vxt.data.cache import DecodeSettings, MediaCache
    from vxt.data.loader import BatchPlan, dataset_meta, subsample, task_examples, with_media
    from vxt.train import distributed
    from vxt.train.checkpoint import find_resume_dir, load_checkpoint, load_train_state, mirror_to_top, save_model_dir

    device = pick_device(opts.device)
    is_dist = distributed.init_if_needed(device.type)
    rank, world_size = distributed.world()
    if opts.batch_size % world_size:
        raise VxtError(f"the batch size {opts.batch_size} must be divisible by the number of processes {world_size}")
    seed_everything(opts.seed + rank)
    torch.manual_seed(opts.seed)  # identical initial weights on every rank
    exp = Path(opts.out)
    data = Path(opts.data)
    if not (data / "train.jsonl").exists():
        raise VxtError("no train.jsonl here: run `vxt prepare` first (e.g. `vxt prepare synth --out data/synth`)", path=str(data))

    train_ex = subsample(task_examples(data, "train", opts.task, opts.modality), opts.train_fraction, opts.seed)
    val_ex = task_examples(data, "val", opts.task, opts.modality) if (data / "val.jsonl").exists() else []
    if opts.eval_limit:
        val_ex = val_ex[: opts.eval_limit]
    if not train_ex:
        raise VxtError(f"no training examples for task {opts.task!r}", path=str(data / "train.jsonl"))

    meta = dataset_meta(data)
    settings = DecodeSettings(**meta.get("decode", {}))
    cache = MediaCache(data, settings)

    resume_dir = find_resume_dir(exp) if opts.resume else None
    if opts.resume and resume_dir is None and rank == 0:
        err_console().print(f"[yellow]vxt:[/] nothing to resume in {exp}; starting from scratch")
    if resume_dir is not None:
        model = load_checkpoint(resume_dir)
        state = load_train_state(resume_dir)
    else:
        model = build_for_task(opts)
        state = None
    if not getattr(model, "needs_media", True):
        cache = None  # the model reads its own inputs (the dense models: cached feature streams)
    elif rank == 0:
        cache.build(train_ex + val_ex, progress=True)
    distributed.barrier()
    # the decode settings travel with the model, so `vxt decode` samples media the same way
    if hasattr(model, "config") and isinstance(model.config, dict):
        model.config.setdefault("decode", asdict(settings))
    model.to(device)
    # a model may give its parameters their own learning rates (VX2TEXT: classifier_lr_scale); before DDP,
    # which registers the parameters that need gradients
    groups = model.param_groups(opts.lr) if hasattr(model, "param_groups") else None
    train_module = model
    if is_dist:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_module = DDP(model, find_unused_parameters=True)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(groups or params, lr=opts.lr)
    plan = BatchPlan(train_ex, opts.batch_size, opts.seed, shuffle=True, rank=rank, world_size=world_size)
    steps_per_epoch = plan.num_batches()
    total_steps = opts.max_steps if opts.max_steps else opts.epochs * steps_per_epoch
    n_epochs = math.ceil(total_steps / steps_per_epoch)
    milestones = sorted({max(1, int(round(f * total_steps))) for f in opts.lr_milestones})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=opts.lr_gamma)

    step, epoch, batch_in_epoch, best = 0, 0, 0, None
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, epoch, batch_in_epoch = int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"])
        best = state.get("best")
        best = None if best is None else float(best)
        _set_rng_state(state["rng"])
        if rank == 0:
            err_console().print(f"vxt: resuming {exp} at step {step} (epoch {epoch + 1}, batch {batch_in_epoch})")

    log = MetricsLog(exp / "metrics.jsonl", step if state is not None else None) if rank == 0 else None
    if rank == 0:
        exp.mkdir(parents=True, exist_ok=True)
        write_json(exp / "run.json", {**opts.to_json(), "world_size": world_size, "steps_per_epoch": steps_per_epoch,
                                      "total_steps": total_steps, "lr_milestones_steps": milestones,
                                      "decode": asdict(settings)})

    # every task model names the validation metric that picks its best checkpoint (higher is better)
    metric_name = model.metric_name

    def save_last(epoch_: int, batch_: int) -> None:
        if rank != 0:
            return
        extra = {
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "step": step, "epoch": epoch_, "batch_in_epoch": batch_,
            "best": best, "rng": _rng_state(),
        }
        last = save_model_dir(model, exp / "last", extra_state=extra)
        mirror_to_top(last, exp)

    t0 = time.time()
    done = step >= total_steps
    bar = progress() if rank == 0 else None
    summary: dict[str, Any] = {}
    try:
        if bar is not None:
            bar.start()
            task_id = bar.add_task(f"train {opts.task}", total=total_steps, completed=step)
        while not done and epoch < n_epochs:
            train_module.train()
            running, n_running = 0.0, 0
            for b, exs, rng in plan.iterate(epoch, start_batch=batch_in_epoch):
                items = with_media(exs, cache, pick_clip=f"{opts.seed}-{epoch}")
                batch = to_device(model.collate(items, train=True, rng=rng), device)
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    out = train_module(batch)
                loss = out["loss"]
                if not torch.isfinite(loss):
                    raise VxtError(f"the loss became {loss.item()} at step {step}: lower --lr or check the data")
                optimizer.zero_grad(set_to_none=True)
                if is_dist and "n_tokens" in out:
                    # DDP averages gradients over ranks: weight each rank's token mean so that the
                    # average equals the mean over all the global batch's tokens (as one process computes)
                    n_local = out["n_tokens"].detach().to(loss.dtype)
                    n_total = n_local.clone()
                    torch.distributed.all_reduce(n_total)
                    (loss * n_local * world_size / n_total.clamp(min=1)).backward()
                else:
                    loss.backward()
                if opts.grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, opts.grad_clip)
                optimizer.step()
                scheduler.step()
                step += 1
                batch_in_epoch = b + 1
                running += float(loss.detach())
                n_running += 1
                if bar is not None:
                    bar.update(task_id, advance=1, description=f"train {opts.task} ep {epoch + 1}/{n_epochs} loss {running / n_running:.3f}")
                if log is not None and (step % opts.log_every == 0 or step == total_steps):
                    log.add({"step": step, "epoch": epoch + 1, "loss": running / n_running,
                             "lr": scheduler.get_last_lr()[0], "time": round(time.time() - t0, 2)})
                    running, n_running = 0.0, 0
                if opts.save_every and step % opts.save_every == 0 and step < total_steps:
                    save_last(epoch, batch_in_epoch)
                if step >= total_steps:
                    done = True
                    break
            finished_epoch = batch_in_epoch >= steps_per_epoch
            if finished_epoch or done:
                metrics = {}
                if rank == 0 and opts.evaluate and val_ex:
                    from vxt.train.evaluate import evaluate

                    metrics = evaluate(model, opts.task, val_ex, cache, device=device, beam=opts.eval_beam,
                                       batch_size=max(opts.batch_size, 16))
                    main = metrics.get(metric_name)
                    row = {"step": step, "epoch": epoch + 1, "split": "val", **metrics}
                    log.add(row)
                    err_console().print(f"vxt: epoch {epoch + 1} val " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
                    if main is not None and (best is None or main > best):
                        best = float(main)
                        save_model_dir(model, exp / "best")
                        write_json(exp / "best" / "metric.json", {"metric": metric_name, "value": best, "step": step, "epoch": epoch + 1})
                if rank == 0:
                    save_model_dir(model, exp / f"epoch-{epoch + 1:03d}")
                    _prune_epochs(exp, opts.keep_epochs)
            if finished_epoch:
                epoch += 1
                batch_in_epoch = 0
            if done or finished_epoch:
                save_last(epoch, batch_in_epoch)
            distributed.barrier()
    finally:
        if bar is not None:
            bar.stop()
    if rank == 0:
        summary = {"exp": str(exp), "task": opts.task, "steps": step, "metric": metric_name, "best": best,
                   "seconds": round(time.time() - t0, 1)}
        write_json(exp / "train_summary.json", summary)
    distributed.barrier()
    if is_dist:
        distributed.destroy()
    return summary


def _prune_epochs(exp: Path, keep: int) -> None:
    import shutil

    dirs = sorted(exp.glob("epoch-[0-9][0-9][0-9]"))
    for d in dirs[: max(0, len(dirs) - keep)]:
        shutil.rmtree(d, ignore_errors=True)
