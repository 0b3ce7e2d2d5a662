"""``sound``: a 22.05 kHz soundtrack for a (silent) video, served by SpecVQGAN.

``vxt decode`` writes one wav per prediction (``<preds base>.wav`` for one
media file, ``<preds base>.wavs/<id>.wav`` otherwise, e.g. ``exp/E/preds_test.wavs/``
for a data dir split) and records its path
as ``audio`` in ``preds.json``; with ``--out X.mp4`` it also writes the
input's video stream, copied packet for packet, with that sound
(:func:`vxt.data.media.mux.mux_audio`), and ``preds.json`` beside it
(``X.preds.json``). Rows carry ``vocoder`` (a Griffin-Lim wave is labelled
as the lower-quality fallback) and, where the input has sound of its own,
``reference_audio``.

Validation: ``1-L1`` for the codebook stage (one minus the mean absolute
reconstruction error of the [0, 1] spectrogram), ``-CE`` for the sampler
(minus its teacher-forced cross-entropy). With ``--samples N`` (a sampler
checkpoint) each clip has N rows, the same ``id`` and ``sample`` 0..N-1,
and N wavs (``<base>.wavs/<id>-<k>.wav``; ``--out X.mp4`` takes the first). ``sample_seconds``: the
wall time the model took to make the row's sound (see :mod:`vxt.models.sound.task_model`). Beside each wav, its
spectrogram as the model made it (``<wav>.npy``, ``spectrogram``; ``audio_start``: where wav and
spectrogram begin on the clip's timeline).

``vxt score`` on these predictions (scorer ``sound``): FID, KID, IS and MKL on a
trained Melception's features and logits (``--classifier DIR``), and the onset
alignment where the rows carry ``sound_events`` (no classifier needed); run by
the ``melception`` registry entry's ``score_predictions``
(:mod:`vxt.models.sound.scoring`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vxt.errors import MediaError, VxtError
from vxt.tasks.base import Task, register_task

#: row keys that carry arrays from the model to after_decode (removed before preds.json is written)
_PRIVATE = ("_wave", "_sample_rate", "_start", "_spec")


class SoundTask(Task):
    name = "sound"
    description = "sound: a 22.05 kHz soundtrack for a video (SpecVQGAN)"
    default_model = "specvqgan"
    metric = "1-L1"
    scorer = "sound"  # vxt.metrics.formats reads the rows; score_file scores them
    strategy = "gan"

    def run_name(self, opts: Any) -> list[str]:
        return [opts.model]

    def examples(self, data_dir, split: str, opts: Any = None) -> list[dict]:
        """The split's examples that have sound (the codebook and the sampler learn from it)."""
        from vxt.utils import say_once

        exs = super().examples(data_dir, split, opts)
        keep = [ex for ex in exs if "audio" not in (ex.get("missing") or [])]
        if len(keep) < len(exs):
            say_once(f"{split}: {len(exs) - len(keep)} example(s) without sound left out of --task sound")
        return keep

    def score(self, examples: list[dict], preds: list[dict], *, java: bool | None = None) -> dict[str, float]:
        """The mean of each per-clip score the model reports (codebook: ``1-L1``; sampler: ``-CE``)."""
        sums: dict[str, list[float]] = {}
        for p in preds:
            for k, v in (p.get("scores") or {}).items():
                sums.setdefault(k, []).append(float(v))
        return {k: sum(v) / len(v) for k, v in sums.items()}

    def score_file(self, pred: Any, refs: dict | None, opts: Any, warn) -> tuple[dict, dict]:
        """``vxt score`` on sound predictions: Melception's metrics (``opts.classifier``) and the onset alignment,
        by the ``melception`` entry of the model registry (the sound system's code)."""
        from vxt.registry import MODELS

        score = MODELS.get("melception").meta["score_predictions"]
        return score(pred.path, pred.preds, refs, classifier=getattr(opts, "classifier", None), warn=warn)

    def check_media_inputs(self, request: Any) -> None:
        from vxt.data.media import probe

        for raw in request.inputs:
            p = Path(raw)
            if p.is_file() and not probe(p).has_video:
                raise MediaError("no video stream: --task sound makes the sound for a video", path=str(p))

    def prediction_row(self, pred: dict, example: dict) -> dict:
        row = super().prediction_row(pred, example)
        for k in ("sample", "vocoder", "l1", "sample_seconds"):
            if k in pred:
                row[k] = pred[k]
        if "wave" in pred:
            row["_wave"], row["_sample_rate"] = pred["wave"], int(pred["sample_rate"])
            row["_start"] = float(pred.get("start", 0.0))
            row["_spec"] = pred.get("spec")
        if example.get("video") and "audio" not in (example.get("missing") or []):
            row["reference_audio"] = str(example["video"])
            if float(example.get("start") or 0.0):
                row["reference_start"] = float(example["start"])
        if example.get("sound_events"):
            row["sound_events"] = example["sound_events"]
        row["_input"] = example.get("video")
        return row

    def preds_path(self, out: str | None, inputs: list[str], default: str) -> str:
        if out is not None and not out.lower().endswith(".json"):
            return str(Path(out).with_suffix("")) + ".preds.json"
        return super().preds_path(out, inputs, default)

    def after_decode(self, preds: dict, preds_path: str, out: str | None, request: Any, con) -> None:
        """Write the wavs (and, with ``--out X.mp4``, the video with its new sound); record their paths."""
        import numpy as np

        from vxt.data.manifest import resolve_media
        from vxt.data.media.mux import mux_audio, write_wav
        from vxt.utils import safe_name

        rows = preds["predictions"]
        base = str(preds_path)
        for suffix in (".preds.json", ".json"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        video_out = out is not None and not out.lower().endswith(".json")
        if video_out and len({r["id"] for r in rows}) != 1:
            raise VxtError(f"--out {out} writes one video: give one input (got {len(rows)} predictions)")
        from_dir = Path(request.inputs[0]).is_dir()
        single = len(rows) == 1 and not from_dir  # a data dir's wavs: always a folder
        muxed = False
        for r in rows:
            wave = r.pop("_wave", None)
            sr = r.pop("_sample_rate", None)
            start = r.pop("_start", 0.0)
            src = r.pop("_input", None)
            spec = r.pop("_spec", None)
            if from_dir and r.get("reference_audio"):  # a data dir's media path: one `vxt score` finds anywhere
                r["reference_audio"] = str(resolve_media(request.inputs[0], r["reference_audio"]).resolve())
            if wave is None:
                continue
            name = r["id"] if "sample" not in r or single else f"{r['id']}-{r['sample']}"
            path = Path(f"{base}.wav") if single else Path(f"{base}.wavs") / f"{safe_name(name)}.wav"
            write_wav(path, wave, sr)
            r["audio"] = str(path)
            r["sample_rate"] = sr
            r["audio_start"] = float(start)
            if spec is not None:  # the model's own spectrogram: what FID/MKL score (SpecVQGAN scores spectrograms)
                spec_path = path.with_suffix(".npy")
                np.save(spec_path, np.asarray(spec, dtype=np.float32))
                r["spectrogram"] = str(spec_path)
            if video_out and not muxed:
                muxed = True
                if src and Path(request.inputs[0]).is_dir():
                    src = str(resolve_media(request.inputs[0], src))

                # the generated wave begins `start` s into the clip (SpecVQGAN's centre crop): silence before it
                lead = np.zeros(int(round(start * sr)), dtype=np.float32)
                info = mux_audio(src, out, np.concatenate([lead, wave]), sr)
                r["video_with_sound"] = str(out)
                con.print(f"wrote {out} ({info['video_packets']} video packets copied, "
                          f"{info['audio_seconds']:.2f} s of generated sound)")
        labels = {r.get("vocoder") for r in rows if r.get("vocoder")}
        for lab in sorted(labels):
            if "fallback" in lab:
                con.print(f"[yellow]vxt:[/] the sound was made with {lab}")

    def print_predictions(self, preds: dict, explain: list | None, con) -> None:
        from rich.table import Table

        rows = preds["predictions"]
        if len(rows) > 20:
            con.print(f"{len(rows)} predictions (first 20):")
        table = Table(title=f"vxt decode --task {preds['task']}")
        for col in ("id", "audio", "what"):
            table.add_column(col, overflow="fold")
        for r in rows[:20]:
            table.add_row(r["id"], r.get("audio", ""), r["prediction"])
        con.print(table)


register_task(SoundTask())
