"""A METEOR 1.5 client that keeps one Java process and streams whole batches through it.

It speaks the same ``-stdio`` protocol as pycocoevalcap's ``Meteor`` (same
jar, same ``-l en -norm`` options, same line format), so the numbers are the
jar's own:

* ``SCORE ||| ref_1 ||| ... ||| ref_n ||| hyp`` returns the statistics line
  of one segment (what pycocoevalcap's ``Meteor._stat`` reads);
* ``EVAL ||| stats_1 ||| ... ||| stats_k`` returns one score per segment and
  then the score of the set, computed by the jar from the summed statistics
  (what ``Meteor.compute_score`` returns).

Differences that change speed, not numbers: the statistics of a distinct
(hypothesis, references) pair are computed once and reused by every set that
holds it (the dense-captioning protocol scores the same pair at several tIoU
thresholds), and lines are written by a feeder thread while the answers are
read, instead of one blocking round trip per segment.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Iterable, Sequence

from vxt.errors import VxtError


def _score_line(hyp: str, refs: Sequence[str]) -> str:
    # Exactly pycocoevalcap's Meteor._stat formatting.
    hyp = hyp.replace("|||", "").replace("  ", " ")
    return " ||| ".join(("SCORE", " ||| ".join(refs), hyp))


class MeteorScorer:
    """One long-lived ``java -jar meteor-1.5.jar - - -stdio -l en -norm`` process.

    Start it early (the paraphrase table takes a few seconds to load) and use
    it as a context manager so the process is always reaped.
    """

    def __init__(self, java: str | None = None, memory: str = "2G"):
        from vxt.metrics.java import meteor_jar, require_java

        java = java or require_java()
        jar = meteor_jar()
        self._cmd = [java, "-jar", f"-Xmx{memory}", jar.name, "-", "-", "-stdio", "-l", "en", "-norm"]
        try:
            self._proc = subprocess.Popen(
                self._cmd,
                cwd=str(jar.parent),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError as e:
            raise VxtError(f"cannot start METEOR ({e})") from None
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, tuple[str, ...]], str] = {}

    # ------------------------------------------------------------ protocol

    def _exchange(self, lines: list[str], n_answers: int) -> list[str]:
        """Write ``lines`` from a feeder thread while reading ``n_answers`` answer lines."""
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        error: list[BaseException] = []

        def feed() -> None:
            try:
                for i in range(0, len(lines), 512):
                    proc.stdin.write(("".join(line + "\n" for line in lines[i : i + 512])).encode())
                proc.stdin.flush()
            except BaseException as e:  # noqa: BLE001 - reported by the reader below
                error.append(e)

        feeder = threading.Thread(target=feed, daemon=True)
        with self._lock:
            feeder.start()
            out = []
            readline = proc.stdout.readline
            for _ in range(n_answers):
                line = readline()
                if not line:
                    feeder.join(timeout=5)
                    why = f" ({error[0]})" if error else ""
                    raise VxtError(f"METEOR (Java) stopped answering{why}; exit code {proc.poll()}")
                out.append(line.decode().strip())
            feeder.join()
        if error:
            raise VxtError(f"cannot talk to METEOR: {error[0]}")
        return out

    def stats(self, items: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
        """The jar's statistics line for each (hypothesis, references) item (cached per distinct item)."""
        items = [(h, tuple(r)) for h, r in items]
        todo = list(dict.fromkeys(k for k in items if k not in self._cache))
        if todo:
            answers = self._exchange([_score_line(h, r) for h, r in todo], len(todo))
            self._cache.update(zip(todo, answers))
        return [self._cache[k] for k in items]

    def evaluate(self, groups: Sequence[Sequence[str]]) -> list[tuple[float, list[float]]]:
        """For each group of statistics lines, (score of the set, per-segment scores), as the jar computes them."""
        groups = [g for g in groups]
        if any(len(g) == 0 for g in groups):
            raise ValueError("METEOR cannot evaluate an empty set")
        lines = ["EVAL ||| " + " ||| ".join(g) for g in groups]
        answers = self._exchange(lines, sum(len(g) + 1 for g in groups))
        out = []
        pos = 0
        for g in groups:
            seg = [float(a) for a in answers[pos : pos + len(g)]]
            out.append((float(answers[pos + len(g)]), seg))
            pos += len(g) + 1
        return out

    def compute_score(self, gts: dict, res: dict) -> tuple[float, list[float]]:
        """Drop-in for pycocoevalcap's ``Meteor.compute_score(gts, res)``: (corpus score, per-item scores)."""
        if gts.keys() != res.keys():
            raise ValueError("gts and res must hold the same ids")
        keys = list(gts.keys())
        stats = self.stats((res[k][0], gts[k]) for k in keys)
        score, scores = self.evaluate([stats])[0]
        return score, scores

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is None:
            return
        self._proc = None  # type: ignore[assignment]
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self) -> "MeteorScorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - safety net
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
