"""Tasks: which inputs a task's encoder sees, what it is trained to produce, which metric applies.

VX2TEXT frames every task as text generation from one encoder input::

    e_task  e_sep V...  e_sep A...  e_sep text_1  e_sep text_2 ...  </s>

where ``e_task`` is the task token (``<caption>``, ``<answer>``, ``<dialog>``;
``<question>`` for question generation), ``V``/``A`` the video and audio
category tokens and ``text_i`` the task's text modalities in a fixed order.
A :class:`TaskSpec` names those modalities (:attr:`TaskSpec.modalities`, in
encoder order), turns a manifest example into the text of each segment
(:meth:`TaskSpec.segment_text`) and picks the training target
(:meth:`TaskSpec.target`)::

    from vxt.tasks import get_task
    spec = get_task("qa")
    spec.segment_text(example, "question")

The registry entries ``caption``, ``qa`` and ``dialog`` (:class:`TextTask`)
hold a spec each and add what the training loop, ``vxt decode`` and ``vxt
score`` need: the scorer (captioning metrics or accuracy), the media inputs a
task cannot do without, the ``--explain`` table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from vxt.tasks.base import Task, register_task

#: continuous modalities (become category tokens) and text modalities, in encoder order
CONTINUOUS = ("video", "audio")
TEXT_SEGMENTS = ("subtitles", "history", "question", "answer", "candidates")


def subtitles_text(ex: dict, max_chars: int | None = None) -> str:
    """Speech transcript or subtitles: the subtitle texts joined in time order.

    ``max_chars``: stop joining once the text is longer than that (whole cues: the text is a prefix, at a
    word boundary, of the full one), so a long transcript is not built whole to be cut to a token budget.
    """
    subs = sorted(ex.get("subtitles", []), key=lambda s: (float(s.get("start", 0.0)), float(s.get("end", 0.0))))
    parts: list[str] = []
    n = -1
    for s in subs:
        t = str(s.get("text", "")).strip()
        if not t:
            continue
        parts.append(t)
        n += len(t) + 1
        if max_chars is not None and n > max_chars:
            break
    return " ".join(parts)


def history_text(ex: dict) -> str:
    """The dialog history as ``q1 a1 q2 a2 ...``."""
    parts: list[str] = []
    for turn in ex.get("history", []):
        parts.extend(str(t).strip() for t in turn if str(t).strip())
    return " ".join(parts)


def answer_text(ex: dict) -> str | None:
    """The ground-truth answer text of a multiple-choice example (None when unknown)."""
    cands, ans = ex.get("candidates"), ex.get("answer")
    if cands and isinstance(ans, int) and 0 <= ans < len(cands):
        return str(cands[ans])
    return None


@dataclass(frozen=True)
class TaskSpec:
    """What a task feeds the encoder and what it decodes."""

    name: str
    #: the task token key in vxt.models.text.TASK_TOKENS
    token_key: str
    #: the inputs this task can use, in encoder order (continuous first, then text segments)
    modalities: tuple[str, ...]
    #: the validation metric that picks the best checkpoint (higher is better)
    metric: str
    #: every metric that applies
    metrics: tuple[str, ...] = field(default_factory=tuple)
    #: answered by scoring the candidates (multiple choice) rather than free decoding
    multiple_choice: bool = False

    @property
    def text_segments(self) -> tuple[str, ...]:
        return tuple(m for m in self.modalities if m not in CONTINUOUS)

    def segment_text(self, ex: dict, segment: str, max_chars: int | None = None) -> str:
        """The text of one segment for example ``ex`` ("" when the example has none); ``max_chars``: the
        subtitles may stop (at a cue) once longer than that."""
        if segment == "subtitles":
            return subtitles_text(ex, max_chars)
        if segment == "history":
            return history_text(ex)
        if segment == "question":
            return str(ex.get("question", ""))
        if segment == "answer":
            return answer_text(ex) or ""
        if segment == "candidates":
            raise ValueError("candidates are a list: use TaskSpec.candidates")
        raise KeyError(f"unknown text segment {segment!r}")

    def candidates(self, ex: dict) -> list[str]:
        return [str(c) for c in ex.get("candidates", [])]

    def target(self, ex: dict, rng: random.Random | None = None) -> str | None:
        """The training target: a random reference (first one without ``rng``), or the correct candidate."""
        if self.name == "qa":
            return answer_text(ex)
        if self.name == "qg":
            return ex.get("question")
        refs = [str(t) for t in ex.get("targets", []) if str(t).strip()]
        if not refs:
            return None
        return refs[rng.randrange(len(refs))] if rng is not None else refs[0]

    def references(self, ex: dict) -> list[str]:
        if self.name == "qa":
            a = answer_text(ex)
            return [a] if a is not None else []
        return [str(t) for t in ex.get("targets", [])]


CAPTION = TaskSpec("caption", "caption", ("video", "audio", "subtitles"), "CIDEr",
                   ("BLEU-4", "METEOR", "ROUGE-L", "CIDEr"))
QA = TaskSpec("qa", "qa", ("video", "audio", "subtitles", "question", "candidates"), "accuracy", ("accuracy",),
              multiple_choice=True)
DIALOG = TaskSpec("dialog", "dialog", ("video", "audio", "subtitles", "history", "question"), "CIDEr",
                  ("BLEU-4", "METEOR", "ROUGE-L", "CIDEr"))
#: question generation (the qa+qg and cycle objectives): the answer is in the input, the question is the target
QG = TaskSpec("qg", "qg", ("video", "audio", "subtitles", "answer"), "CIDEr")

SPECS: dict[str, TaskSpec] = {s.name: s for s in (CAPTION, QA, DIALOG, QG)}


def get_task(name: str) -> TaskSpec:
    """The spec of a task (``caption``, ``qa``, ``dialog``; ``qg`` for question generation)."""
    from vxt.errors import VxtError

    if name in SPECS:
        return SPECS[name]
    raise VxtError(f"VX2TEXT does not do the task {name!r} (it does: caption, qa, dialog)")


def resolve_modalities(spec: TaskSpec, modalities: list[str] | str | None) -> tuple[str, ...]:
    """The inputs a model uses: ``None`` = all the task can use; else the named ones, in encoder order.

    Names that no task knows raise; names the task cannot use (e.g. ``history``
    for captioning) are ignored.
    """
    from vxt.errors import VxtError

    if modalities is None:
        return spec.modalities
    if isinstance(modalities, str):
        modalities = [m.strip() for m in modalities.split(",") if m.strip()]
    known = set(CONTINUOUS) | set(TEXT_SEGMENTS)
    unknown = [m for m in modalities if m not in known]
    if unknown:
        raise VxtError(f"unknown modality {', '.join(unknown)} (known: {', '.join(CONTINUOUS + TEXT_SEGMENTS)})")
    chosen = [m for m in spec.modalities if m in modalities]
    if not chosen:
        raise VxtError(f"none of the modalities {', '.join(modalities)} applies to the task {spec.name} "
                       f"(it can use {', '.join(spec.modalities)})")
    return tuple(chosen)


# ---------------------------------------------------------------- the registry entries


class TextTask(Task):
    """``caption``, ``qa``, ``dialog``: text out of video, audio and text in (VX2TEXT's tasks)."""

    default_model = "vx2text-tiny"

    def __init__(self, spec: TaskSpec, description: str, scorer: str):
        self.spec = spec
        self.name = spec.name
        self.metric = spec.metric
        self.description = description
        self.scorer = scorer

    def score(self, examples: list[dict], preds: list[dict], *, java: bool | None = None) -> dict[str, float]:
        from vxt.metrics import java_available, qa_accuracy, score_captions

        if self.spec.multiple_choice:
            answers = {ex["id"]: ex["answer"] for ex in examples if "answer" in ex}
            choices = {p["id"]: p["choice"] for p in preds if "choice" in p}
            types = {ex["id"]: ex["question_type"] for ex in examples if "question_type" in ex} or None
            res = qa_accuracy(choices, answers, types)
            out = {"accuracy": float(res["accuracy"])}
            for qtype, row in (res.get("per_type") or {}).items():
                out[f"accuracy_{qtype}"] = float(row["accuracy"])
            return out
        refs = {ex["id"]: ex["targets"] for ex in examples if ex.get("targets")}
        hyps = {p["id"]: p["prediction"] for p in preds if p["id"] in refs}
        if not refs:
            return {}
        use_java = java_available() if java is None else java
        kw = {}
        if use_java:
            from vxt.metrics.meteor import shared_meteor

            kw["meteor"] = shared_meteor()  # one METEOR process for every evaluation of a run
        return {k: float(v) for k, v in score_captions(hyps, refs, java=use_java, **kw).items()}

    def check_media_inputs(self, request) -> None:
        from vxt.errors import VxtError

        if self.spec.multiple_choice and (not request.question or not request.candidates):
            raise VxtError(f"--task {self.name} on a media file needs --question and --candidates")
        if "question" in self.spec.modalities and not request.question:
            raise VxtError(f"--task {self.name} on a media file needs --question (and optionally --history)")

    def print_predictions(self, preds: dict, explain: list | None, con) -> None:
        if not explain:
            return super().print_predictions(preds, explain, con)
        from rich.table import Table

        if "words" in explain[0]:  # a gated decoder (TAVT): how much each word leant on each memory
            table = Table(title="alpha_av / alpha_va per generated word (the decoder's gates)", show_lines=True)
            for col in ("id", "audio", "words (alpha_av / alpha_va)", "prediction"):
                table.add_column(col, overflow="fold")
            for e in explain:
                words = " ".join(f"{w['word']}({w['alpha_av']:.2f}/{w['alpha_va']:.2f})" for w in e["words"])
                table.add_row(e["id"], str(e.get("audio", "-")), words or "-", e["prediction"])
            con.print(table)
            return

        table = Table(title="what the language model saw", show_lines=True)
        for col in ("id", "video tokens", "audio tokens", "text inputs", "prediction"):
            table.add_column(col, overflow="fold")
        for e in explain:
            text = e.get("text") or {}
            text_s = "\n".join(f"[b]{k}[/b]: {v}" for k, v in text.items() if v)
            table.add_row(e["id"], ", ".join(e.get("video") or []) or "-", ", ".join(e.get("audio") or []) or "-",
                          text_s or "-", e["prediction"])
        con.print(table)


register_task(TextTask(CAPTION, "caption: a sentence describing a clip", "caption"))
register_task(TextTask(QA, "qa: multiple-choice question answering, answered generatively", "qa"))
register_task(TextTask(DIALOG, "dialog: the next reply of an audio-visual dialog", "caption"))
