"""The options of one training run, and how the task and the model are chosen from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from vxt.errors import VxtError


DEFAULT_LR = 1e-4


@dataclass
class TrainOptions:
    task: str
    data: str = "data/synth"
    #: a model registry name; None: the task's default model
    model: str | None = None
    #: a training strategy (``vxt.train.strategies``) instead of the model's own (``--strategy meta``); None: the model's
    strategy: str | None = None
    overrides: dict = field(default_factory=dict)
    out: str | None = None
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 8
    lr: float = DEFAULT_LR
    #: whether ``lr`` was chosen (``vxt train --lr``) rather than left at its default: a model with its own rule
    #: (SpecVQGAN's sampler: 5e-6 x batch size) follows an explicit one; None: explicit when it is not 1e-4
    lr_given: bool | None = None
    lr_milestones: tuple[float, ...] = (0.5, 0.75)
    lr_gamma: float = 0.1
    grad_clip: float | None = 1.0
    train_fraction: float = 1.0
    seed: int = 0
    resume: bool = False
    #: train into an experiment dir that holds a trained model, replacing its checkpoints
    overwrite: bool = False
    save_every: int = 0
    eval_limit: int | None = 200
    #: early stopping: end the run once this many validations in a row have not improved on the best
    #: checkpoint's metric (``best/`` keeps that one; SpecVQGAN's sampler: 2 on the validation loss); None: never
    patience: int | None = None
    eval_beam: int = 1
    log_every: int = 10
    nproc: int = 1
    keep_epochs: int = 2
    device: str = "auto"
    modality: str | None = None
    #: --task classify: train (and validate) on the examples of these visual domains only (None: all)
    domains: list | None = None
    evaluate: bool = True

    def validate(self) -> None:
        """One check of every numeric option (the CLI declares the same bounds, shown by ``--help``):
        a nonsense value is a one-line VxtError, never a run of 0/-4 steps or a ZeroDivisionError."""
        import math

        def whole(name: str, value, low: int, *, none_ok: bool = False) -> None:
            if value is None and none_ok:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise VxtError(f"--{name.replace('_', '-')} must be a whole number >= {low}, got {value!r}")

        for name, low in (("epochs", 1), ("batch_size", 1), ("nproc", 1), ("save_every", 0), ("eval_beam", 1),
                          ("log_every", 1), ("keep_epochs", 1), ("seed", 0)):
            whole(name, getattr(self, name), low)
        whole("max_steps", self.max_steps, 1, none_ok=True)
        whole("eval_limit", self.eval_limit, 0, none_ok=True)
        whole("patience", self.patience, 1, none_ok=True)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not (0 < self.lr < math.inf):
            raise VxtError(f"--lr must be a positive finite number, got {self.lr!r}")
        if not isinstance(self.train_fraction, (int, float)) or not 0 < self.train_fraction <= 1:
            raise VxtError(f"--train-fraction must be in (0, 1], got {self.train_fraction!r}")
        if self.grad_clip is not None and not 0 < self.grad_clip < math.inf:
            raise VxtError(f"grad_clip must be a positive finite number or None, got {self.grad_clip!r}")
        if not 0 < self.lr_gamma < math.inf or any(not 0 <= f <= 1 for f in self.lr_milestones):
            raise VxtError("lr_gamma must be positive and lr_milestones fractions in [0, 1]")

    def lr_explicit(self) -> bool:
        """Whether the run's learning rate was given explicitly (see ``lr_given``)."""
        return self.lr != DEFAULT_LR if self.lr_given is None else bool(self.lr_given)

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


def check_resume(opts: TrainOptions) -> None:
    """``--resume`` into an experiment trained for another task is a one-line error naming both tasks."""
    import json

    exp = Path(opts.out)
    for name in ("run.json", "config.json", "last/config.json"):
        p = exp / name
        if not p.is_file():
            continue
        try:
            task = json.loads(p.read_text(encoding="utf-8")).get("task")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(task, str) and task != opts.task:
            raise VxtError(f"cannot --resume --task {opts.task}: this experiment was trained for --task {task} "
                           "(choose another --out, or resume with its own task)", path=str(exp))
        return


def default_out(opts: TrainOptions) -> str:
    """``exp/<data>-<task>-<the task's run name parts>[-frac<f>]-seed<N>``."""
    from vxt.tasks import get_task_entry

    data_name = Path(opts.data).name or "data"
    parts = [data_name, opts.task, *get_task_entry(opts.task).run_name(opts)]
    if opts.strategy:
        parts.append(opts.strategy)
    if opts.train_fraction < 1:
        parts.append(f"frac{opts.train_fraction:g}")
    parts.append(f"seed{opts.seed}")
    return str(Path("exp") / "-".join(parts))
