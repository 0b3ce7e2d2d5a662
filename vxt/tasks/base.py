"""The task registry's contract: what a task needs, how it is scored, what ``vxt decode`` writes and prints.

A task is one entry of ``vxt.registry.TASKS`` whose builder returns a
:class:`Task`. The training loop, :mod:`vxt.inference`, ``vxt decode`` and
``vxt score`` look a task up (:func:`get_task_entry`) and call these
methods; none of them branches on a task's name. Which models serve a task
is said by the models (``MODELS.register(..., tasks=(...))``), so a new
system adds itself to the tasks it serves without touching this layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vxt.errors import VxtError


class Task:
    """Defaults shared by every task; a task overrides what differs."""

    #: the registry name (``vxt train --task NAME``)
    name: str = ""
    #: one line for ``--help`` and error messages
    description: str = ""
    #: the model ``vxt train --task NAME`` builds without ``--model`` (None: the user must choose)
    default_model: str | None = None
    #: the validation metric that picks the best checkpoint (higher is better), unless the model names its own
    metric: str = "CIDEr"
    #: the scorer of ``vxt score`` for this task's ``preds.json`` (``vxt.metrics.formats``: caption | qa | dense)
    scorer: str | None = None
    #: the training strategy (``vxt.train.strategies``) unless the model's registry entry names one
    strategy: str = "plain"

    # ------------------------------------------------------------ training

    def configure(self, opts: Any) -> None:
        """Check and complete a run's options (a :class:`vxt.train.loop.TrainOptions`) before anything is built."""

    def run_name(self, opts: Any) -> list[str]:
        """The parts of the default experiment dir name between the data name and the seed."""
        parts = [opts.model]
        tok = opts.overrides.get("tokenization")
        if tok and tok != "gumbel":
            parts.append(tok)
        mods = opts.overrides.get("modalities")
        if mods:
            parts.append("+".join(mods) if isinstance(mods, list) else str(mods))
        return parts

    def examples(self, data_dir: str | Path, split: str, opts: Any = None) -> list[dict]:
        """The examples of ``split`` that serve this task (manifest ``task`` field, absent = any)."""
        from vxt.data.loader import task_examples

        return task_examples(data_dir, split, self.name)

    # ------------------------------------------------------------ scoring

    def score(self, examples: list[dict], preds: list[dict], *, java: bool | None = None) -> dict[str, float]:
        """The validation metrics of predictions aligned with ``examples`` (``{}`` when there is nothing to score)."""
        return {}

    # ------------------------------------------------------------ decoding

    def check_media_inputs(self, request: Any) -> None:
        """Raise a one-line error when decoding media files lacks an input the task needs (e.g. a question)."""

    def prediction_row(self, pred: dict, example: dict) -> dict:
        """The ``preds.json`` row of one prediction (the fields every task shares, then the task's own)."""
        row = {"id": pred["id"], "prediction": pred["prediction"]}
        if example.get("targets"):
            row["references"] = example["targets"]
        if "choice" in pred:
            row["choice"] = pred["choice"]
        if "answer" in example:
            row["answer"] = example["answer"]
        if "events" in pred:
            row["events"] = pred["events"]
        if isinstance(example.get("paragraph"), dict):  # ActivityNet: `vxt score --paragraph` groups rows per video
            row["paragraph"] = example["paragraph"]
            if "events" not in pred:
                row["start"] = float(example.get("start", 0.0))
        return row

    def preds_path(self, out: str | None, inputs: list[str], default: str) -> str:
        """Where ``vxt decode`` writes ``preds.json``: ``--out`` as given, else ``default`` (a task whose
        ``--out`` names another kind of file, e.g. a video with a new soundtrack, puts preds.json beside it)."""
        return out if out is not None else default

    def after_decode(self, preds: dict, preds_path: str, out: str | None, request: Any, con) -> None:
        """Write what the task makes besides ``preds.json`` (wavs, a video with new sound, a fixed file) once
        predictions exist, before ``preds.json`` is written (rows may record the paths of those files)."""

    def print_predictions(self, preds: dict, explain: list | None, con) -> None:
        """Print what ``vxt decode`` found: a table of ids, predictions and the first reference."""
        from rich.table import Table

        rows = preds["predictions"]
        if len(rows) > 20:
            con.print(f"{len(rows)} predictions (first 20):")
        table = Table(title=f"vxt decode --task {preds['task']}")
        table.add_column("id")
        table.add_column("prediction", overflow="fold")
        with_refs = any("references" in r for r in rows[:20])
        if with_refs:
            table.add_column("reference", overflow="fold")
        for r in rows[:20]:
            cells = [r["id"], r["prediction"]]
            if with_refs:
                cells.append((r.get("references") or [""])[0])
            table.add_row(*cells)
        con.print(table)


def get_task_entry(name: str) -> Task:
    """The registered task ``name`` (one-line error listing the known ones otherwise)."""
    from vxt.registry import TASKS

    task = TASKS.create(name)
    if not isinstance(task, Task):  # pragma: no cover - a registration bug
        raise VxtError(f"the task registry entry {name!r} is not a vxt.tasks.base.Task")
    return task


def task_scorers() -> dict[str, str]:
    """Task name -> the scorer that reads its ``preds.json`` (for ``vxt score``)."""
    from vxt.registry import TASKS

    out = {}
    for name in TASKS.names():
        task = get_task_entry(name)
        if task.scorer:
            out[name] = task.scorer
    return out


def task_file_scorers() -> dict[str, Any]:
    """Scorer -> the ``score_file(pred, refs, opts, warn)`` of the task that scores its predictions itself
    (``sound``: a classifier's features), for ``vxt score``."""
    from vxt.registry import TASKS

    out = {}
    for name in TASKS.names():
        task = get_task_entry(name)
        if task.scorer and callable(getattr(task, "score_file", None)):
            out[task.scorer] = task.score_file
    return out


def register_task(task: Task) -> Task:
    """Put ``task`` into ``vxt.registry.TASKS`` under its name (one shared instance)."""
    from vxt.registry import TASKS

    def builder() -> Task:
        return task

    TASKS.register(task.name, default_config={"metric": task.metric}, description=task.description)(builder)
    return task
