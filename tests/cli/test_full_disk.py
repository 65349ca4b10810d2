"""A write that fails part-way (full disk, quota, file-size limit): one line, exit 1, nothing lost.

The failure is real, not mocked: the child runs under ``RLIMIT_FSIZE``, so the kernel refuses
to grow any file past the limit (``EFBIG``, as ``ENOSPC`` on a full disk; Python ignores the
``SIGXFSZ`` that comes with it). The demo's ``report.png`` (~100 kB) is larger than every other
file of the output (< 15 kB), so a 50 kB limit fails the run at the last file, after the
numbers are written: that must still fail the run, not leave a folder without its report.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "quant"

pytestmark = pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"),
                                reason="needs RLIMIT_FSIZE to make writes fail")


def _quant(out: Path, *extra: str, file_limit: int | None = None):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run(
        [sys.executable, "-m", "emseq", "quant", "-a", str(DEMO / "demo.bam"), "-t",
         str(DEMO / "demo_transcripts.fa.gz"), "-o", str(out), "-q", "-p", "1", *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        preexec_fn=limit if file_limit else None)


@pytest.mark.parametrize("file_limit, fails_at", [(50_000, "report.png"), (4_000, "quant.sf")])
def test_a_failed_write_is_one_line_naming_the_file_and_leaves_nothing(tmp_path, file_limit,
                                                                        fails_at):
    out = tmp_path / "out"
    run = _quant(out, file_limit=file_limit)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert lines[0] == f"emseq quant: error: File too large: {out / fails_at}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failed_replacement_keeps_the_previous_output(tmp_path):
    out = tmp_path / "out"
    assert _quant(out).returncode == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    run = _quant(out, "--force", file_limit=50_000)
    assert run.returncode == 1 and "report.png" in run.stderr, run.stderr
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
