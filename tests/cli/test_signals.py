"""SIGINT/SIGTERM at any moment of a run: one line, exit 130/143, no traceback, nothing left.

The signal is sent once the child's own handler is installed (SIGTERM appears in the caught
mask of /proc/PID/status; before that the interpreter is still starting, running site's .pth
files, outside emseq), then after a range of extra delays that fall in start-up, in the
imports, in the BAM loop and in the EM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "quant"

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="needs /proc to see the child's signal handlers")


def _handler_installed(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(l for l in text.splitlines() if l.startswith("SigCgt:")).split()[1], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("delay", [0.0, 0.15, 0.6, 1.5])
def test_signal_at_any_moment_is_one_line_and_leaves_nothing(tmp_path, signum, delay):
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-m", "emseq", "quant", "-a", str(DEMO / "demo.bam"), "-t",
         str(DEMO / "demo_transcripts.fa.gz"), "-o", str(out), "-q", "-p", "1"],
        stderr=subprocess.PIPE, text=True, cwd=ROOT)
    while child.poll() is None and not _handler_installed(child.pid):
        time.sleep(0.002)
    time.sleep(delay)
    child.send_signal(signum)
    err = child.communicate(timeout=300)[1]
    assert "Traceback" not in err, err
    if child.returncode == 0:  # finished before the signal: a complete result
        assert (out / "aux_info" / "meta_info.json").is_file()
    else:
        assert child.returncode == 128 + signum, (child.returncode, err)
        assert err.strip().splitlines() == [
            line for line in err.strip().splitlines() if "interrupted" in line]
        assert len(err.strip().splitlines()) == 1
        assert f"interrupted ({signal.Signals(signum).name})" in err
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out"] if out.exists() else [])
