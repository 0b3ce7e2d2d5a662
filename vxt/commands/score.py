"""``vxt score``: the benchmarks' own metrics on a predictions file (library code: vxt.metrics)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer


def _warn(message: str) -> None:
    print(f"vxt: warning: {message}", file=sys.stderr)


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score(
        preds: List[Path] = typer.Argument(
            ..., help="Predictions: vxt preds.json, an ActivityNet Captions submission, TVC JSONL, AVSD results, ..."
        ),
        refs: List[str] = typer.Option(
            [], "--refs", "-r",
            help="Reference file(s). Repeat for several. With one predictions file all are used together "
            "(ActivityNet val_1 + val_2); with several, give one --refs per file in order (commas join files).",
        ),
        no_java: bool = typer.Option(
            False, "--no-java", help="Without Java: pure-Python tokenizer, no METEOR (NOT comparable to published numbers)."
        ),
        strict: bool = typer.Option(False, "--strict", help="Ids in predictions but not in references (or the reverse) are an error."),
        sacrebleu: bool = typer.Option(False, "--sacrebleu", help="Also report sacreBLEU's corpus BLEU and its signature."),
        max_proposals: int = typer.Option(
            100, "--max-proposals", min=1, help="Dense: predictions counted per video (the official default is 1000; BMT and most papers use 100)."
        ),
        tious: str = typer.Option("0.3,0.5,0.7,0.9", "--tious", help="Dense: tIoU thresholds, comma-separated."),
        seed: int = typer.Option(0, "--seed", min=0, help="Dense: seed of the random reference given to unmatched predictions."),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Dense: processes for BLEU/ROUGE-L/CIDEr beside METEOR's Java (default: CPU cores - 1, at most 4; 1 = in-process)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write the scores (default: <preds>.scores.json beside the input)."),
        classifier: Optional[Path] = typer.Option(None, "--classifier", help="Sound: a trained Melception (`vxt train --task classify --model melception`) for FID, KID, IS and MKL."),
        digits: int = typer.Option(2, "--digits", min=0, max=12, help="Decimals of the percentages in the table (the JSON keeps every digit)."),
    ) -> None:
        """Score predictions with each benchmark's official metrics; writes <preds>.scores.json."""
        from vxt.errors import VxtError
        from vxt.metrics.java import require_java

        if not no_java:
            require_java()  # before anything else: a missing Java is said in one line, with the fix
        from vxt.metrics import run
        from vxt.tasks import task_file_scorers, task_scorers
        from vxt.utils import check_writable, console, write_json

        if out is not None:
            check_writable(out)  # an unwritable --out: one line now, not after scoring
        try:
            tiou_list = tuple(float(t) for t in tious.split(",") if t.strip())
        except ValueError:
            raise VxtError(f"--tious: expected numbers separated by commas, got {tious!r}") from None
        if not tiou_list or any(not 0 < t <= 1 for t in tiou_list):
            raise VxtError(f"--tious: thresholds must lie in (0, 1], got {tious!r}")
        if max_proposals < 1:
            raise VxtError(f"--max-proposals must be at least 1, got {max_proposals}")
        opts = run.ScoreOptions(java=not no_java, strict=strict, sacrebleu=sacrebleu, max_proposals=max_proposals,
                                tious=tiou_list, seed=seed, workers=workers, task_scorers=task_scorers(),
                                file_scorers=task_file_scorers(), classifier=None if classifier is None else str(classifier))
        pairs = run.pair_inputs([str(p) for p in preds], refs)
        results = run.score_files(pairs, opts, warn=_warn)
        mean = run.mean_over_pairs(results)

        docs = [(Path(r.pred_path), run.scores_document(r, opts, mean, results)) for r in results]
        if out is not None:
            targets = [(out, docs[0][1] if len(docs) == 1 else
                        {"pairs": [d for _, d in docs], "mean_over_pairs": docs[0][1].get("mean_over_pairs")})]
        else:
            targets = [(run.default_out_path(str(p)), d) for p, d in docs]
        # the results are written before they are printed: a closed stdout (`vxt score ... | head -1`)
        # ends the printing, not the run
        for path, doc in targets:
            try:
                write_json(path, doc)
            except OSError as e:
                raise VxtError(f"cannot write the scores ({e.strerror or e}); choose another place with --out", path=str(path)) from None

        from vxt.files import stdout_may_close

        con = console()
        with stdout_may_close():
            con.print(run.title_line(results), style="bold", highlight=False)
            con.print(run.render(results, mean, opts, digits=digits))
            for line in run.summary_lines(results, opts):
                con.print(line, highlight=False, soft_wrap=True)
            for path, _ in targets:
                con.print(f"wrote {path}", highlight=False, soft_wrap=True)
