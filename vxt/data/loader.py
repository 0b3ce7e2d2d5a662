"""From a data dir to batches: examples of a task, their cached media, deterministic batching.

The order of batches is a pure function of (seed, epoch), and each batch gets
its own ``random.Random`` seeded from (seed, epoch, batch index), so a run that
resumes mid-epoch sees exactly the batches (and random clip choices) that an
unbroken run would have seen.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from vxt.errors import DataError
from vxt.data.manifest import load_split


def dataset_meta(data_dir: str | Path) -> dict:
    p = Path(data_dir) / "dataset.json"
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"malformed JSON at line {e.lineno}", path=str(p)) from None


def task_examples(data_dir: str | Path, split: str, task: str) -> list[dict]:
    """The examples of ``split`` whose manifest ``task`` is ``task`` (an example without one serves any).

    Tasks that select otherwise (``classify``: one example per media item) do
    so in their registry entry (:meth:`vxt.tasks.base.Task.examples`).
    """
    return [ex for ex in load_split(data_dir, split) if ex.get("task", task) == task]


def subsample(examples: list[dict], fraction: float, seed: int) -> list[dict]:
    """A seeded fraction of the examples (at least one), in their original order."""
    if not 0 < fraction <= 1:
        raise DataError(f"--train-fraction must be in (0, 1], got {fraction}")
    if fraction >= 1:
        return examples
    n = max(1, round(len(examples) * fraction))
    idx = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in idx]


@dataclass
class BatchPlan:
    """Deterministic batching of a list of examples across epochs and ranks."""

    examples: list[dict]
    batch_size: int
    seed: int
    shuffle: bool = True
    drop_last: bool = False
    rank: int = 0
    world_size: int = 1

    def num_batches(self) -> int:
        n = len(self.examples)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batch_indices(self, epoch: int) -> list[list[int]]:
        order = list(range(len(self.examples)))
        if self.shuffle:
            random.Random(f"{self.seed}-epoch-{epoch}").shuffle(order)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def iterate(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[int, list[dict], random.Random]]:
        """Yield (batch index, this rank's examples, batch rng) from ``start_batch`` on.

        With several ranks each global batch is split into interleaved shards
        (rank r takes items r, r+W, ...), so the union over ranks is the batch a
        single process would see.
        """
        for b, idx in enumerate(self.batch_indices(epoch)):
            if b < start_batch:
                continue
            shard = idx[self.rank :: self.world_size]
            rng = random.Random(f"{self.seed}-epoch-{epoch}-batch-{b}-rank-{self.rank}")
            yield b, [self.examples[i] for i in shard], rng


def with_media(examples: list[dict], cache, *, pick_clip: str | None = None) -> list[dict]:
    """Pair each example with its cached media (``{"example", "media"}`` items).

    ``pick_clip`` (training) keeps one random cached clip and one random
    reference per example, chosen by a generator seeded from ``pick_clip`` and
    the example id: the choice does not depend on batch composition, so sharded
    (DDP) and single-process runs pick the same clips and targets.
    """
    items = []
    for ex in examples:
        media = dict(cache.get(ex)) if cache is not None else {"video": None, "audio": None}
        if pick_clip is not None:
            rng = random.Random(f"{pick_clip}-{ex['id']}")
            video = media.get("video")
            if video is not None and len(video) > 1:
                k = rng.randrange(len(video))
                media["video"] = video[k : k + 1]
            targets = ex.get("targets") or []
            if len(targets) > 1:  # one reference per example and epoch, whatever the batch it lands in
                ex = {**ex, "targets": [targets[rng.randrange(len(targets))]]}
        items.append({"example": ex, "media": media})
    return items
