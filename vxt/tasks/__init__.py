"""Tasks: one registry entry per task (``vxt.registry.TASKS``), see :mod:`vxt.tasks.base`.

- :mod:`vxt.tasks.text`: ``caption``, ``qa``, ``dialog`` (and VX2TEXT's
  :class:`~vxt.tasks.text.TaskSpec`: which text segments a task feeds the
  encoder, its targets and references);
- :mod:`vxt.tasks.dense`: ``dense`` (timed events; its timeline printer);
- :mod:`vxt.tasks.classify`: ``classify`` (pre-training a modality classifier).

``get_task_entry(name)`` gives the registry entry the training loop,
``vxt decode`` and ``vxt score`` use; ``get_task(name)`` the text spec.
"""

from __future__ import annotations

from vxt.tasks.base import Task, get_task_entry, task_file_scorers, task_scorers
from vxt.tasks.text import (
    CAPTION,
    CONTINUOUS,
    DIALOG,
    QA,
    QG,
    SPECS,
    TEXT_SEGMENTS,
    TaskSpec,
    answer_text,
    get_task,
    history_text,
    resolve_modalities,
    subtitles_text,
)

__all__ = ["CAPTION", "CONTINUOUS", "DIALOG", "QA", "QG", "SPECS", "TEXT_SEGMENTS", "Task", "TaskSpec",
           "answer_text", "get_task", "get_task_entry", "history_text", "resolve_modalities", "subtitles_text",
           "task_file_scorers", "task_scorers"]
