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
- with ``patience`` N (``--patience``), early stopping: the run ends after N
  validations in a row without a new best (``best/`` is that best one;
  ``train_summary.json`` says where it stopped, and ``--resume`` of a stopped
  run trains no further);
- DDP through torchrun or ``nproc`` (gloo on CPU, NCCL on GPU): each rank takes
  its shard of every global batch, rank 0 evaluates and writes.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vxt.errors import VxtError
from vxt.train.device import pick_device, to_device  # noqa: F401 - to_device: part of this module's API
from vxt.train.options import TrainOptions, check_resume, default_out, resolve
from vxt.utils import ensure_dir, err_console, progress, read_json, seed_everything, write_json, write_jsonl


def build_for_task(opts: TrainOptions):
    """Build the model a run trains (a registry lookup, never a chain of ifs per model)."""
    from vxt.registry import MODELS

    overrides = dict(opts.overrides)
    overrides.setdefault("task", opts.task)
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
    """Train a model as ``opts`` says; returns a summary (best metric, paths).

    The task and the model are looked up in their registries; the model's
    training strategy (:mod:`vxt.train.strategies`) says which runs to make
    (one, or one per stage) and what a step does.
    """
    from vxt.train.strategies import strategy_for

    opts.validate()
    pick_device(opts.device)  # an unknown or absent device: one line, before anything is built
    task, entry = resolve(opts)
    task.configure(opts)
    if opts.out is None:
        opts.out = default_out(opts)
    ensure_dir(opts.out, "experiment dir", create=False)  # a file in the way, /proc, read-only: one line now
    if opts.resume:
        check_resume(opts)
    strategy = strategy_for(task, entry, opts.strategy)
    plan = strategy.plan(opts, entry)
    _check_out(opts, [run_opts.out for run_opts, _ in plan])
    summaries = [(key, _run(run_opts)) for run_opts, key in plan]
    return strategy.combine(summaries)


def _check_out(opts: TrainOptions, outs: list[str]) -> None:
    """What a user trained is never lost: a dir holding a trained model is only resumed (``--resume``) or,
    asked for with ``--overwrite``, cleared of its checkpoints first."""
    from vxt.train.checkpoint import clear_experiment, holds_trained_model

    if opts.resume:
        return
    taken = [o for o in outs if holds_trained_model(o)]
    if not taken:
        return
    if not opts.overwrite:
        raise VxtError("already holds a trained model: continue it with --resume, train into a new --out, "
                       "or replace it with --overwrite", path=str(opts.out))
    for o in taken:
        clear_experiment(o)


def _run(opts: TrainOptions) -> dict:
    """One run: in this process, or in ``nproc`` DDP processes."""
    from vxt.train import distributed

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
    from vxt.data.loader import BatchPlan, dataset_meta, subsample, with_media
    from vxt.registry import MODELS
    from vxt.tasks import get_task_entry
    from vxt.train import distributed
    from vxt.train.checkpoint import (
        clear_dead_temps,
        find_resume_dir,
        load_checkpoint,
        load_train_state,
        mirror_to_top,
        save_model_dir,
    )
    from vxt.train.strategies import StepContext, strategy_for

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

    task = get_task_entry(opts.task)
    train_ex = subsample(task.examples(data, "train", opts), opts.train_fraction, opts.seed)
    val_ex = task.examples(data, "val", opts) if (data / "val.jsonl").exists() else []
    strategy = strategy_for(task, MODELS.get(opts.model), opts.strategy)
    select = getattr(strategy, "select_examples", None)
    if select is not None:  # a strategy that trains on part of the data (meta: the source domains, or the target)
        train_ex, val_ex = select(train_ex, "train", opts), select(val_ex, "val", opts)
    if opts.eval_limit:
        val_ex = val_ex[: opts.eval_limit]
    if not train_ex:
        raise VxtError(f"no training examples for task {opts.task!r}", path=str(data / "train.jsonl"))

    meta = dataset_meta(data)
    try:
        settings = DecodeSettings.from_dict(meta.get("decode"))
    except VxtError as e:
        raise VxtError(e.message, path=str(data / "dataset.json")) from None
    cache = MediaCache(data, settings)

    resume_dir = find_resume_dir(exp) if opts.resume else None
    if opts.resume and resume_dir is None and rank == 0:
        err_console().print(f"[yellow]vxt:[/] nothing to resume in {exp}; starting from scratch")
    if resume_dir is not None:
        model = load_checkpoint(resume_dir)
        state = load_train_state(resume_dir)
        if hasattr(model, "use_data_dir"):  # a model that reads its data dir itself reads this run's --data
            model.use_data_dir(data)
    else:
        model = strategy.build_model(opts, build_for_task)
        state = None
    pick = getattr(model, "training_examples", None)
    if pick is not None:  # a model that trains on part of a task's examples (avcap: its stage's own)
        train_ex, val_ex = pick(train_ex, "train"), pick(val_ex, "val")
        if not train_ex:
            raise VxtError(f"no training examples for this {opts.model} run", path=str(data / "train.jsonl"))
    if not getattr(model, "needs_media", True):
        cache = None  # the model reads its own inputs (the dense models: cached feature streams)
    elif rank == 0:
        cache.build(train_ex + val_ex, progress=True)
    distributed.barrier()
    if cache is not None:  # examples whose media cannot be read: skipped and counted; none readable: one line
        train_ex = cache.usable(train_ex, "train", quiet=rank != 0)
        try:
            val_ex = cache.usable(val_ex, "val", quiet=rank != 0)
        except VxtError as e:
            if rank == 0:
                err_console().print(f"[yellow]vxt:[/] no validation: {e.format()}", highlight=False, soft_wrap=True)
            val_ex = []
    # the decode settings travel with the model, so `vxt decode` samples media the same way
    if hasattr(model, "config") and isinstance(model.config, dict):
        model.config.setdefault("decode", asdict(settings))
    model.to(device)
    plan = BatchPlan(train_ex, opts.batch_size, opts.seed, shuffle=True, rank=rank, world_size=world_size)
    steps_per_epoch = plan.num_batches()
    total_steps = opts.max_steps if opts.max_steps else opts.epochs * steps_per_epoch
    n_epochs = math.ceil(total_steps / steps_per_epoch)
    # the strategy makes the optimizers before DDP wraps the model: a model may give its parameters their own
    # learning rates or freeze some (VX2TEXT: classifier_lr_scale), and DDP registers those that need gradients
    def make_batch(exs, rng, tag):
        return to_device(model.collate(with_media(exs, cache, pick_clip=f"{opts.seed}-{tag}"), train=True, rng=rng),
                         device)

    ctx = StepContext(model=model, module=model, params=[], opts=opts, total_steps=total_steps, device=device,
                      is_dist=is_dist, world_size=world_size, rank=rank, examples=train_ex, make_batch=make_batch)
    strategy.setup(ctx)
    if is_dist:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ctx.module = DDP(model, find_unused_parameters=True)
    train_module = ctx.module

    step, epoch, batch_in_epoch, best = 0, 0, 0, None
    # early stopping: validations since the last new best, and where the run stopped (None: it did not)
    since_best, stopped = 0, None
    if state is not None:
        strategy.load_state_dict(state)
        step, epoch, batch_in_epoch = int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"])
        best = state.get("best")
        best = None if best is None else float(best)
        since_best = int(state.get("since_best", 0))
        stopped = state.get("early_stop")
        _set_rng_state(state["rng"])
        if rank == 0:
            err_console().print(f"vxt: resuming {exp} at step {step} (epoch {epoch + 1}, batch {batch_in_epoch})")

    log = MetricsLog(exp / "metrics.jsonl", step if state is not None else None) if rank == 0 else None
    if rank == 0:
        exp.mkdir(parents=True, exist_ok=True)
        clear_dead_temps(exp)  # the half-written checkpoints of killed runs
        write_json(exp / "run.json", {**opts.to_json(), "world_size": world_size, "steps_per_epoch": steps_per_epoch,
                                      "total_steps": total_steps, "lr_milestones_steps": strategy.milestones,
                                      "decode": asdict(settings)})

    # every task model names the validation metric that picks its best checkpoint (higher is better)
    metric_name = getattr(model, "metric_name", task.metric)

    def save_last(epoch_: int, batch_: int) -> None:
        if rank != 0:
            return
        extra = {
            **strategy.state_dict(),
            "step": step, "epoch": epoch_, "batch_in_epoch": batch_,
            "best": best, "rng": _rng_state(), "since_best": since_best, "early_stop": stopped,
        }
        last = save_model_dir(model, exp / "last", extra_state=extra)
        mirror_to_top(last, exp)

    t0 = time.time()
    done = step >= total_steps or stopped is not None
    if opts.patience and not (opts.evaluate and val_ex) and rank == 0:
        err_console().print(f"[yellow]vxt:[/] --patience {opts.patience} needs validation examples: "
                            "this run has none, so it never stops early")
    bar = progress() if rank == 0 else None
    summary: dict[str, Any] = {}
    try:
        if bar is not None:
            bar.start()
            task_id = bar.add_task(f"train {opts.task}", total=total_steps, completed=step)
        while not done and epoch < n_epochs:
            train_module.train()
            running: dict[str, float] = {}
            n_running = 0
            for b, exs, rng in plan.iterate(epoch, start_batch=batch_in_epoch):
                items = with_media(exs, cache, pick_clip=f"{opts.seed}-{epoch}")
                batch = to_device(model.collate(items, train=True, rng=rng), device)
                logged = strategy.step(ctx, batch, step)
                step += 1
                batch_in_epoch = b + 1
                for k, v in logged.items():
                    running[k] = running.get(k, 0.0) + v
                n_running += 1
                if bar is not None:
                    bar.update(task_id, advance=1, description=f"train {opts.task} ep {epoch + 1}/{n_epochs} loss {running['loss'] / n_running:.3f}")
                if log is not None and (step % opts.log_every == 0 or step == total_steps):
                    extra = {k: v / n_running for k, v in running.items() if k != "loss"}
                    log.add({"step": step, "epoch": epoch + 1, "loss": running["loss"] / n_running,
                             "lr": strategy.lr(), "time": round(time.time() - t0, 2), **extra})
                    running, n_running = {}, 0
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

                    metrics = evaluate(model, task, val_ex, cache, device=device, beam=opts.eval_beam,
                                       batch_size=max(opts.batch_size, 16))
                    main = metrics.get(metric_name)
                    row = {"step": step, "epoch": epoch + 1, "split": "val", **metrics}
                    log.add(row)
                    err_console().print(f"vxt: epoch {epoch + 1} val " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
                    if main is not None and (best is None or main > best):
                        best = float(main)
                        since_best = 0
                        save_model_dir(model, exp / "best")
                        write_json(exp / "best" / "metric.json", {"metric": metric_name, "value": best, "step": step, "epoch": epoch + 1})
                    elif main is not None:
                        since_best += 1
                    if opts.patience and since_best >= opts.patience and not done:
                        stopped = {"step": step, "epoch": epoch + 1, "patience": opts.patience, "best": best}
                        err_console().print(f"vxt: early stop at epoch {epoch + 1} (step {step}): val {metric_name} "
                                            f"has not improved on {best:.4f} for {since_best} validations "
                                            f"(--patience {opts.patience}); best/ holds the best checkpoint")
                if is_dist and opts.patience:  # rank 0 decides; every rank stops at the same step
                    stopped = distributed.broadcast_object(stopped)
                if stopped is not None:
                    done = True
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
        if stopped is not None:
            summary["early_stop"] = stopped
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
