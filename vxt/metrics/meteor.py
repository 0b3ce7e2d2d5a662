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

import atexit
import subprocess
import threading
from typing import Iterable, Sequence

from vxt.errors import VxtError


def _score_line(hyp: str, refs: Sequence[str]) -> str:
    # Exactly pycocoevalcap's Meteor._stat formatting.
    hyp = hyp.replace("|||", "").replace("  ", " ")
    return " ||| ".join(("SCORE", " ||| ".join(refs), hyp))


JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
_N_STATS = 23  # tstLen refLen tstFunc refFunc, 4 modules x 4 match counts, chunks, tstWordMatches, refWordMatches


def _parse_stats(line: str) -> list[float] | None:
    """The values of a statistics line, with the chunk count zeroed where ``addStats`` skips it; None if not integral."""
    v = [float(x) for x in line.split()]
    if len(v) != _N_STATS or not all(x.is_integer() and abs(x) < 2**52 for x in v):
        return None
    test_matches = sum(v[4:20:4]) + sum(v[6:20:4])
    ref_matches = sum(v[5:20:4]) + sum(v[7:20:4])
    if test_matches == v[0] and ref_matches == v[1] and v[20] == 1.0:
        v[20] = 0.0  # addStats leaves out the chunk of a segment matched completely in one chunk
    return v


def _sum_stats(group: Sequence[str], cache: dict | None = None) -> str | None:
    """The statistics line ``MeteorStats.addStats`` accumulates for a set, or None if it cannot be exact."""
    total = [0.0] * _N_STATS
    for line in group:
        if cache is None:
            v = _parse_stats(line)
        else:
            v = cache.get(line, False)
            if v is False:
                v = cache[line] = _parse_stats(line)
        if v is None:
            return None
        total = [a + b for a, b in zip(total, v)]
    t_m = sum(total[4:20:4]) + sum(total[6:20:4])
    r_m = sum(total[5:20:4]) + sum(total[7:20:4])
    if t_m == total[0] and r_m == total[1] and total[20] == 1.0:
        return None  # the sum would meet the special case itself: let the jar add the lines one by one
    return " ".join(repr(x) for x in total)


class MeteorScorer:
    """One long-lived ``java -jar meteor-1.5.jar - - -stdio -l en -norm`` process.

    Start it early (the paraphrase table takes a few seconds to load) and use
    it as a context manager so the process is always reaped.
    """

    def __init__(self, java: str | None = None, memory: str = "2G", max_cache: int = 500_000):
        from vxt.metrics.java import meteor_jar, require_java

        java = java or require_java()
        jar = meteor_jar()
        # pycocoevalcap's command (same jar, same options, same -Xmx); the two JVM flags only cut the CPU
        # the JVM spends on garbage collection and optimising compilation in a run of this length
        self._cmd = [java, "-jar", f"-Xmx{memory}", *JVM_FLAGS, jar.name, "-", "-", "-stdio", "-l", "en", "-norm"]
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
        self._max_cache = max_cache

    def alive(self) -> bool:
        """Whether the Java process is still running."""
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------ protocol

    def _exchange(self, lines: list[str], n_answers: int) -> list[str]:
        """Write ``lines`` from a feeder thread while reading ``n_answers`` answer lines."""
        proc = self._proc
        if proc is None:
            raise VxtError("the METEOR process was closed")
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
        if todo and len(self._cache) + len(todo) > self._max_cache:
            self._cache.clear()  # a long-lived (shared) scorer must not grow without bound
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

    def set_scores(self, groups: Sequence[Sequence[str]]) -> list[float]:
        """The jar's score of each set of statistics lines (what ``evaluate`` gives first), faster.

        ``EVAL`` sums the sets' statistics (``MeteorStats.addStats``) and scores
        the sum; it also parses and scores every segment, which is most of its
        time. The statistics are counts (integral doubles), so their sums are
        exact in any order: this sends one pre-summed line per set, applying
        ``addStats``' one special case (the chunk of a segment that matches its
        reference completely in one chunk is not added), and the jar scores it
        with the same code. Sets whose statistics are not all integral, or whose
        sum would itself hit that special case, go through ``EVAL`` unchanged.
        """
        summed: list[str | None] = []
        parsed: dict = {}
        for g in groups:
            if not g:
                raise ValueError("METEOR cannot evaluate an empty set")
            summed.append(_sum_stats(g, parsed))
        out: list[float | None] = [None] * len(groups)
        fast = [i for i, s in enumerate(summed) if s is not None]
        if fast:
            answers = self._exchange([f"EVAL ||| {summed[i]}" for i in fast], 2 * len(fast))
            for k, i in enumerate(fast):
                out[i] = float(answers[2 * k + 1])
        slow = [i for i, s in enumerate(summed) if s is None]
        if slow:
            for i, (score, _) in zip(slow, self.evaluate([groups[i] for i in slow])):
                out[i] = score
        return out  # type: ignore[return-value]

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


_shared: MeteorScorer | None = None
_shared_lock = threading.Lock()


def shared_meteor() -> MeteorScorer:
    """A process-wide METEOR scorer, started on first use and closed at exit.

    Starting METEOR costs seconds (Java plus its paraphrase table); a training
    loop that scores every epoch, or ``vxt score`` on several files, should
    pass this one (``meteor=shared_meteor()``) instead of starting one per
    call. A process that died is replaced on the next call.
    """
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive():
            first = _shared is None
            _shared = MeteorScorer()
            if first:
                atexit.register(_close_shared)
        return _shared


def _close_shared() -> None:
    if _shared is not None:
        _shared.close()
