"""Run fuzz cases in forked children of one warmed-up process (a fork server).

Started as a script (``python tests/fuzz/worker.py``) so that the ``emseq`` it imports is the
one on ``PYTHONPATH`` (a campaign may test another tree than the one holding the suite). It
imports emseq's command line and engines once, then for each case read from stdin (one JSON
object a line: ``argv``, ``cwd``, ``stderr`` (a file path), ``timeout``) forks a child that runs
``emseq.cli.main(argv)`` with stderr in a file, and writes back one JSON line: the exit code,
or the signal that ended the child (SIGALRM: the time limit), and the stderr text.

Only the standard library and emseq are imported here.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # no thread pools before fork()
os.environ["MPLBACKEND"] = "Agg"

#: Address space per case: a case needing more is a bug worth seeing (ENOMEM, not a swap storm)
MEMORY_LIMIT = 3 << 30


def _warm_up() -> None:
    import emseq.cli  # noqa: F401
    import emseq.mixture  # noqa: F401
    import emseq.motif  # noqa: F401
    import emseq.quant  # noqa: F401
    import emseq.cli as cli

    cli.build_parser()


def _run_one(case: dict) -> dict:
    err_path = case["stderr"]
    pid = os.fork()
    if pid == 0:  # the child
        try:
            fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.chdir(case["cwd"])
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(case.get("timeout", 60)))
            sys.stderr = os.fdopen(2, "w", buffering=1)
            from emseq.cli import main

            code = main(case["argv"])
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 1)
        except SystemExit as exc:
            os._exit(exc.code if isinstance(exc.code, int) else 2)
        except BaseException:  # noqa: BLE001  (a traceback is what the campaign looks for)
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    with open(err_path, encoding="utf-8", errors="replace") as handle:
        stderr = handle.read()
    os.unlink(err_path)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status), "code": None, "stderr": stderr}
    return {"signal": None, "code": os.WEXITSTATUS(status), "stderr": stderr}


def main() -> int:
    _warm_up()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        result = _run_one(json.loads(line))
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
