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
        preds: Optional[List[Path]] = typer.Argument(
            None, help="Predictions: vxt preds.json, an ActivityNet Captions submission, TVC JSONL, AVSD results, ... "
            "(none with --coverage)"
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
        paragraph: bool = typer.Option(
            False, "--paragraph", help="ActivityNet Captions paragraphs: each video's captions in start order, scored "
            "against all its reference paragraphs (val_1 and val_2; inside preds.json or --refs val_1.json --refs val_2.json)."
        ),
        coverage: Optional[Path] = typer.Option(
            None, "--coverage", metavar="DATA_DIR", help="No predictions: the speech coverage rate of a data dir (the share "
            "of caption words found in the example's transcript, `subtitles`); writes DATA_DIR/coverage.json (or --out)."
        ),
        splits: List[str] = typer.Option([], "--split", help="--coverage: the splits (repeat; default: every split the data dir has)."),
    ) -> None:
        """Score predictions with each benchmark's official metrics; writes <preds>.scores.json."""
        from vxt.errors import VxtError

        if coverage is not None:
            if preds or refs or paragraph:
                raise VxtError("--coverage DATA_DIR scores the data dir's transcripts: give no predictions, --refs or --paragraph")
            return _coverage(coverage, splits, out, digits)
        if splits:
            raise VxtError("--split applies to --coverage DATA_DIR only")
        if not preds:
            raise VxtError("no predictions file given (vxt score PREDS..., or --coverage DATA_DIR)")
        from vxt.metrics.java import require_java

        if not no_java:
            require_java()  # before anything else: a missing Java is said in one line, with the fix
        from vxt.metrics import run
        from vxt.tasks import task_file_scorers, task_scorers
        from vxt.utils import check_writable, console

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
                                file_scorers=task_file_scorers(), classifier=None if classifier is None else str(classifier),
                                paragraph=paragraph)
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
            _write(path, doc, "the scores")

        from vxt.files import stdout_may_close

        con = console()
        with stdout_may_close():
            con.print(run.title_line(results), style="bold", highlight=False)
            con.print(run.render(results, mean, opts, digits=digits))
            for line in run.summary_lines(results, opts):
                con.print(line, highlight=False, soft_wrap=True)
            for path, _ in targets:
                con.print(f"wrote {path}", highlight=False, soft_wrap=True)


def _coverage(data_dir: Path, splits: List[str], out: Optional[Path], digits: int) -> None:
    """``vxt score --coverage DATA_DIR``: the speech coverage table and ``coverage.json`` (vxt.metrics.coverage)."""
    from vxt.files import stdout_may_close
    from vxt.metrics.coverage import coverage_document, coverage_table
    from vxt.utils import check_writable, console

    target = out if out is not None else data_dir / "coverage.json"
    doc = coverage_document(data_dir, splits or None)
    check_writable(target)
    _write(target, doc, "the coverage")
    con = console()
    with stdout_may_close():
        con.print(f"vxt score --coverage: speech coverage of {data_dir} (caption words found in the transcript)",
                  style="bold", highlight=False, soft_wrap=True)
        con.print(coverage_table(doc, digits=digits))
        for line in doc["notes"]:
            con.print(line, highlight=False, soft_wrap=True)
        con.print(f"wrote {target}", highlight=False, soft_wrap=True)


def _write(path: Path, doc: dict, what: str) -> None:
    """``doc`` as JSON at ``path`` (atomically); a failed write is one line naming ``what`` and the fix."""
    from vxt.errors import VxtError
    from vxt.utils import write_json

    try:
        write_json(path, doc)
    except OSError as e:
        raise VxtError(f"cannot write {what} ({e.strerror or e}); choose another place with --out", path=str(path)) from None
