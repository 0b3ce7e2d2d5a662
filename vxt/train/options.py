"""The options of one training run, and how the task and the model are chosen from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from vxt.errors import VxtError


@dataclass
class TrainOptions:
    task: str
    data: str = "data/synth"
    #: a model registry name; None: the task's default model
    model: str | None = None
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


def resolve(opts: TrainOptions):
    """Look up the task and the model of ``opts`` (filling in the task's default model); returns both entries.

    A model that does not serve the task is a one-line error listing the models that do.
    """
    from vxt.registry import MODELS
    from vxt.tasks import get_task_entry

    task = get_task_entry(opts.task)
    serving = MODELS.serving(opts.task)
    if opts.model is None:
        if task.default_model is None:
            raise VxtError(f"--task {opts.task} needs --model (one of {', '.join(serving) or 'none'})")
        opts.model = task.default_model
    entry = MODELS.get(opts.model)
    if opts.task not in entry.tasks:
        raise VxtError(f"the model {opts.model} does not serve --task {opts.task} "
                       f"(models that do: {', '.join(serving) or 'none'})")
    return task, entry


def default_out(opts: TrainOptions) -> str:
    """``exp/<data>-<task>-<the task's run name parts>[-frac<f>]-seed<N>``."""
    from vxt.tasks import get_task_entry

    data_name = Path(opts.data).name or "data"
    parts = [data_name, opts.task, *get_task_entry(opts.task).run_name(opts)]
    if opts.train_fraction < 1:
        parts.append(f"frac{opts.train_fraction:g}")
    parts.append(f"seed{opts.seed}")
    return str(Path("exp") / "-".join(parts))
