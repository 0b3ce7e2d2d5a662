"""``classify``: pre-training a modality classifier on a data dir's label space (as Kinetics, AudioSet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vxt.tasks.base import Task, register_task

MODALITIES = ("video", "audio")


class ClassifyTask(Task):
    name = "classify"
    description = "classify: pre-train a video or audio classifier on the data's labels"
    default_model = "classifier"
    metric = "accuracy"
    scorer = None

    def configure(self, opts: Any) -> None:
        """``--modality`` is required; ``--video-weights``/``--audio-weights`` become the classifier's ``weights``."""
        from vxt.errors import VxtError

        own = _entry_meta(opts).get("modality")  # a model of one modality says which (Melception: audio)
        if own is not None and opts.modality not in (None, own):
            raise VxtError(f"{opts.model} classifies {own}: drop --modality {opts.modality}")
        opts.modality = opts.modality or own
        if opts.modality is None:
            raise VxtError("--task classify needs --modality video or --modality audio")
        if opts.modality not in MODALITIES:
            raise VxtError(f"--modality must be video or audio, got {opts.modality!r}")
        over = opts.overrides
        weights = over.pop("video_weights", None) if opts.modality == "video" else over.pop("audio_weights", None)
        over.pop("video_weights", None)
        over.pop("audio_weights", None)
        if weights:
            over["weights"] = weights
        over["modality"] = opts.modality
        # --domains is the example filter of examples(), never a classifier setting
        domains = over.pop("domains", None)
        if domains is not None:
            if isinstance(domains, str):
                domains = [d.strip() for d in domains.split(",") if d.strip()]
            if not domains or not all(isinstance(d, str) for d in domains):
                raise VxtError(f"--domains must name at least one visual domain, got {domains!r}")
            opts.domains = list(domains)

    def run_name(self, opts: Any) -> list[str]:
        own = "examples" in _entry_meta(opts)  # a model with its own examples (Melception) names the run
        parts = [opts.modality] if opts.modality and not own else [opts.model]
        domains = getattr(opts, "domains", None)
        return parts + ["+".join(domains)] if domains else parts

    def examples(self, data_dir: str | Path, split: str, opts: Any = None) -> list[dict]:
        """Every example whose ``labels`` name its classes, one per media item.

        A clip serving caption, qa and dialog counts once; dense-captioning
        videos (several events, each with its own labels) are left out; with
        a modality, only the items that have it; with ``domains``
        (``--domains``), only the examples of those visual domains (one
        without a ``domain`` field is ``photo``, the synthetic default look).
        """
        from vxt.data.manifest import load_split

        modality = getattr(opts, "modality", None) if opts is not None else None
        domains = getattr(opts, "domains", None) if opts is not None else None
        if domains is None and opts is not None:  # configure() not run (e.g. a caller's own options)
            domains = (getattr(opts, "overrides", None) or {}).get("domains")
        pick = _entry_meta(opts).get("examples")
        if pick is not None:  # the model's own selection (Melception: each clip's sound class, `label`)
            return [ex for ex in pick(load_split(data_dir, split))
                    if domains is None or ex.get("domain", "photo") in domains]
        seen: set[tuple] = set()
        out = []
        for ex in load_split(data_dir, split):
            if "labels" not in ex or "video" not in ex and "audio" not in ex or ex.get("task") == "dense":
                continue
            if modality is not None and (modality in ex.get("missing", []) or not ex["labels"].get(modality)):
                continue
            if domains is not None and ex.get("domain", "photo") not in domains:
                continue
            key = (ex.get("video") or ex.get("audio"), ex.get("start"), ex.get("end"))
            if key in seen:
                continue
            seen.add(key)
            out.append(ex)
        return out

    def score(self, examples: list[dict], preds: list[dict], *, java: bool | None = None) -> dict[str, float]:
        from vxt.metrics import qa_accuracy

        answers = {p["id"]: p["answer"] for p in preds if "answer" in p}
        choices = {p["id"]: p["choice"] for p in preds if "choice" in p}
        return {"accuracy": float(qa_accuracy(choices, answers, None)["accuracy"])}


def _entry_meta(opts: Any) -> dict:
    """What the registry entry of the run's model declares (``modality``, ``examples``); {} without one."""
    from vxt.registry import MODELS

    name = getattr(opts, "model", None) if opts is not None else None
    return MODELS.get(name).meta if isinstance(name, str) and name in MODELS else {}


register_task(ClassifyTask())
