"""Atomic output folders: made as the umask says, like any folder the user makes."""

from __future__ import annotations

import os
import stat

import pytest

from emseq.io.atomic import atomic_output_dir, atomic_write


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the previous one back."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda value: os.umask(value)
    os.umask(previous)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o755), (0o002, 0o775), (0o077, 0o700)],
                         ids=["022", "002", "077"])
def test_a_new_output_folder_has_the_mode_the_umask_gives(tmp_path, umask, mask, expected):
    umask(mask)
    with atomic_output_dir(tmp_path / "out") as stage:
        with atomic_write(stage / "table.tsv") as handle:
            handle.write("a\n")
        (stage / "sub").mkdir()
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == expected
    assert stat.S_IMODE((tmp_path / "out" / "sub").stat().st_mode) == expected
    assert stat.S_IMODE((tmp_path / "out" / "table.tsv").stat().st_mode) == expected & 0o666
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
