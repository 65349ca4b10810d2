"""One output-folder policy for every command (emseq.io.atomic): absent or empty -o is fine,
a non-empty one needs --force (then replaced whole, atomically), the decision is taken once
under a lock, before any computation; stale staging folders are removed; modes follow the
umask."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emseq.errors import OutputError
from emseq.io.atomic import (STAGING_PATTERN, atomic_output_dir, claim_output,
                             remove_stale_staging, staging_name)

ROOT = Path(__file__).resolve().parents[2]
DEMO_TABLE = ROOT / "data" / "mixture" / "demo.tsv"


def _emseq(*args, umask=None):
    def preexec():
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "emseq", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, preexec_fn=preexec)


def _write(path: Path, text: str) -> None:
    with atomic_output_dir(path) as stage:
        (stage / "result.txt").write_text(text)


def test_absent_and_empty_folders_are_written(tmp_path):
    _write(tmp_path / "new", "a")
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "empty", "b")
    assert (tmp_path / "new" / "result.txt").read_text() == "a"
    assert (tmp_path / "empty" / "result.txt").read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "new"]  # no lock, no stage


def test_non_empty_folder_needs_force_then_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old_only.txt").write_text("earlier run")
    with pytest.raises(OutputError, match="exists and is not empty; pass --force"):
        _write(out, "new")
    assert sorted(p.name for p in out.iterdir()) == ["old_only.txt"]
    with atomic_output_dir(out, force=True) as stage:
        (stage / "result.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["result.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_write_leaves_the_previous_result(tmp_path):
    out = tmp_path / "out"
    _write(out, "first")
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out, force=True) as stage:
            (stage / "result.txt").write_text("half")
            raise RuntimeError("engine failed")
    assert (out / "result.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_second_concurrent_run_is_refused_with_one_line(tmp_path):
    """While this process holds -o, a command on the same -o exits 1 with one line, and the
    holder's result is the one that ends in place."""
    out = tmp_path / "out"
    with claim_output(out) as claim:
        done = _emseq("mixture", DEMO_TABLE, "-k", "2", "--no-plot", "-q", "-o", out)
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "is being written by another emseq run" in lines[0]
        assert f"pid {os.getpid()}" in lines[0] or "pid" in lines[0]
        with atomic_output_dir(out) as stage:
            (stage / "result.txt").write_text("holder")
        assert claim.committed
    assert sorted(p.name for p in out.iterdir()) == ["result.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_force_cannot_take_a_folder_another_run_holds(tmp_path):
    out = tmp_path / "out"
    with claim_output(out):
        done = _emseq("mixture", DEMO_TABLE, "-k", "2", "--no-plot", "-q", "--force", "-o", out)
        assert done.returncode == 1 and "another emseq run" in done.stderr


def test_parent_checked_before_any_computation(tmp_path):
    """The parent of -o is a file: said first, although the input is missing too (the input
    is only read once the output is known to be writable)."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = _emseq("quant", "-a", tmp_path / "missing.bam", "-o", blocker / "out", "-q")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"emseq quant: error: -o {blocker / 'out'}: {blocker} is not a folder"]


def test_stale_staging_folders_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = staging_name("x").split(".tmp-")[1].rsplit("-", 2)[0]
    stale_pid = tmp_path / f".out.tmp-{host}-{dead.pid}-0123abcd"
    old_other_host = tmp_path / ".other.tmp-elsewhere-12-89abcdef"
    young_other_host = tmp_path / ".other.tmp-elsewhere-13-89abcdef"
    live = tmp_path / f".out.tmp-{host}-{os.getpid()}-4567cdef"
    for path in (stale_pid, old_other_host, young_other_host, live):
        path.mkdir()
        (path / "part").write_text("x")
    two_days = time.time() - 2 * 86400
    os.utime(old_other_host, (two_days, two_days))
    removed = remove_stale_staging(tmp_path)
    assert sorted(p.name for p in removed) == sorted([stale_pid.name, old_other_host.name])
    assert live.exists() and young_other_host.exists()
    assert all(STAGING_PATTERN.match(p.name) for p in (stale_pid, live, young_other_host))


def test_a_rerun_after_a_killed_run_leaves_no_staging_folder(tmp_path):
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", (
        "import os, sys\n"
        "from emseq.io.atomic import claim_output\n"
        f"held = claim_output({str(out)!r})\n"
        "c = held.__enter__()\n"
        "(c.stage / 'half.txt').write_text('x')\n"
        "os._exit(0)  # dies holding the claim: no clean-up runs\n")], cwd=ROOT)
    child.wait()
    assert [p for p in tmp_path.iterdir() if STAGING_PATTERN.match(p.name)]
    done = _emseq("mixture", DEMO_TABLE, "-k", "2", "--no-plot", "-q", "-o", out)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_folder_modes_follow_the_umask(tmp_path, umask, mode):
    out = tmp_path / "out"
    done = _emseq("mixture", DEMO_TABLE, "-k", "2", "--no-plot", "-q", "-o", out, umask=umask)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o777 == mode


def test_motif_meme_spellings_o_refuses_oc_replaces(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "logo_3.png").write_text("earlier run")
    args = ["motif", ROOT / "data" / "motif" / "crp0.s", "-minw", "6", "-maxw", "6",
            "-nmotifs", "1", "-maxiter", "3", "-p", "1", "-nostatus"]
    refused = _emseq(*args, "-o", out)
    assert refused.returncode == 1 and "pass --force" in refused.stderr
    replaced = _emseq(*args, "-oc", out)
    assert replaced.returncode == 0, replaced.stderr
    assert not (out / "logo_3.png").exists() and (out / "motifs.meme").is_file()


def test_quantmerge_output_file_follows_the_policy(tmp_path):
    table = tmp_path / "merged.tsv"
    table.write_text("keep\n")
    done = _emseq("quantmerge", "--quants", tmp_path / "nope", "-o", table)
    assert done.returncode == 1 and "exists and is an existing file; pass --force" in done.stderr
    assert table.read_text() == "keep\n"
    folder = tmp_path / "dir"
    folder.mkdir()
    done = _emseq("quantmerge", "--quants", tmp_path / "nope", "-o", folder, "--force")
    assert done.returncode == 1 and "is a folder; this command writes one file" in done.stderr
