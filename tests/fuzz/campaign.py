"""Run a fuzz campaign: make the cases, run them in forked workers, classify each outcome.

Outcomes (:func:`classify`):

- ``clean``: exit 1 or 2, at most :data:`MAX_STDERR_LINES` lines on stderr, no traceback, no
  output folder, staging folder or lock file left;
- ``accepted``: exit 0 on a case whose input may be valid (``expect="any"``);
- ``crash``: death by a signal (a segmentation fault…), a traceback, or another exit code;
- ``hang``: the case's time limit was reached;
- ``silent``: exit 0 on an input that must be refused (``expect="reject"``);
- ``messy``: refused, but with too many lines on stderr or something left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

from .cases import Case, Fixtures, make_case

WORKER = Path(__file__).with_name("worker.py")
MAX_STDERR_LINES = 3
OUTCOMES = ("clean", "accepted", "crash", "hang", "silent", "messy")


@dataclass
class Outcome:
    case: Case
    kind: str
    code: int | None
    signal: int | None
    stderr: str
    why: str = ""

    def line(self) -> str:
        status = f"signal {signal.Signals(self.signal).name}" if self.signal else f"exit {self.code}"
        last = (self.stderr.strip().splitlines() or [""])[-1][:160]
        return (f"case {self.case.index} [{self.case.family}] {self.kind}: {status}; "
                f"{self.case.detail}; {self.why} {last}").strip()


def classify(case: Case, result: dict) -> Outcome:
    code, sig, err = result["code"], result["signal"], result["stderr"]
    lines = [l for l in err.strip().splitlines() if l.strip()]
    left = sorted(p.name for p in case.folder.iterdir()
                  if p.name == case.output or p.name.startswith(f".{case.output}."))
    if sig == signal.SIGALRM:
        return Outcome(case, "hang", code, sig, err, "time limit")
    if sig is not None:
        return Outcome(case, "crash", code, sig, err, "killed by a signal")
    if "Traceback" in err:
        return Outcome(case, "crash", code, sig, err, "traceback")
    if code == 0:
        if case.expect == "reject":
            return Outcome(case, "silent", code, sig, err, "invalid input accepted")
        return Outcome(case, "accepted", code, sig, err)
    if code not in (1, 2):
        return Outcome(case, "crash", code, sig, err, f"exit code {code}")
    if len(lines) > MAX_STDERR_LINES:
        return Outcome(case, "messy", code, sig, err, f"{len(lines)} stderr lines")
    if left:
        return Outcome(case, "messy", code, sig, err, f"left {left}")
    return Outcome(case, "clean", code, sig, err)


class _Worker:
    """One fork-server process (``worker.py``) testing the emseq on ``emseq_path``."""

    def __init__(self, emseq_path: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(emseq_path))
        self.proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, bufsize=1)
        ready = self.proc.stdout.readline()
        if not ready.strip().startswith("{"):
            raise RuntimeError(f"fuzz worker did not start: {ready!r}")

    def run(self, case: Case, timeout: int, stderr_path: Path) -> dict:
        self.proc.stdin.write(json.dumps({"argv": case.argv, "cwd": str(case.folder),
                                          "stderr": str(stderr_path),
                                          "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def run_campaign(n_cases: int, *, seed: int = 0, work: Path, emseq_path: Path,
                 jobs: int = 2, timeout: int = 60, first: int = 0,
                 families: list[str] | None = None, keep: bool = False,
                 on_outcome=None) -> list[Outcome]:
    """Run cases ``first .. first + n_cases - 1`` of campaign ``seed`` against the emseq in
    ``emseq_path``, with ``jobs`` workers; return the outcomes in case order."""
    fixtures = Fixtures.make(work / "fixtures")
    queue: Queue = Queue()
    for index in range(first, first + n_cases):
        queue.put(index)
    outcomes: dict[int, Outcome] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def drive(slot: int) -> None:
        try:
            worker = _Worker(emseq_path)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            return
        try:
            while True:
                try:
                    index = queue.get_nowait()
                except Exception:  # noqa: BLE001  (queue.Empty)
                    return
                with lock:
                    case = make_case(seed, index, fixtures, work / "cases", families)
                result = worker.run(case, timeout, work / f"stderr{slot}")
                outcome = classify(case, result)
                with lock:
                    outcomes[index] = outcome
                    if on_outcome is not None:
                        on_outcome(outcome)
                if not keep or outcome.kind == "accepted":
                    shutil.rmtree(case.folder, ignore_errors=True)
        finally:
            worker.close()

    threads = [threading.Thread(target=drive, args=(slot,)) for slot in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [outcomes[i] for i in sorted(outcomes)]


def summarize(outcomes: list[Outcome]) -> dict[str, int]:
    counts = Counter(o.kind for o in outcomes)
    return {"cases": len(outcomes), **{k: counts.get(k, 0) for k in OUTCOMES}}
