"""``dense``: timed, captioned events of a whole video (ActivityNet Captions), served by BMT and MDVC."""

from __future__ import annotations

from vxt.tasks.base import Task, register_task


class DenseTask(Task):
    name = "dense"
    description = "dense: timed captioned events of a whole video"
    default_model = None  # bmt, bmt-tiny, mdvc, mdvc-tiny: the user chooses
    metric = "METEOR"
    scorer = "dense"
    strategy = "staged"

    def score(self, examples: list[dict], preds: list[dict], *, java: bool | None = None) -> dict[str, float]:
        from vxt.metrics.dense_examples import score_dense_predictions

        return score_dense_predictions(examples, preds, java=java)

    def prediction_row(self, pred: dict, example: dict) -> dict:
        row = super().prediction_row(pred, example)
        if example.get("events"):
            row["reference_events"] = example["events"]
            row["duration"] = example.get("duration")
        return row

    def print_predictions(self, preds: dict, explain: list | None, con, n_best: int = 10, max_videos: int = 5) -> None:
        """A timeline per video: its ``n_best`` most confident events, sorted by start time."""
        from rich.table import Table

        rows = preds["predictions"]
        if len(rows) > max_videos:
            con.print(f"{len(rows)} videos (first {max_videos}):")
        for r in rows[:max_videos]:
            events = r.get("events") or []
            best = sorted(events[:n_best], key=lambda e: (float(e["start"]), float(e["end"])))
            title = f"{r['id']}: {len(best)} of {len(events)} events (most confident first, shown by start time)"
            table = Table(title=title, title_justify="left")
            for col, kw in (("start", {"justify": "right"}), ("end", {"justify": "right"}),
                            ("score", {"justify": "right"}), ("caption", {"overflow": "fold"})):
                table.add_column(col, **kw)
            for e in best:
                table.add_row(f"{float(e['start']):.1f}s", f"{float(e['end']):.1f}s",
                              f"{float(e.get('score', 0.0)):.2f}", e.get("sentence", ""))
            con.print(table)


register_task(DenseTask())
