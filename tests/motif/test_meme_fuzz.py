"""Seeded, bounded fuzzing of the MEME motif reader and of `emseq motif compare` / `scan` on
what it accepts: every mutated file is read into valid motifs or refused with an InputError;
nothing else escapes."""

from pathlib import Path

import numpy as np
import pytest

from emseq.errors import InputError
from emseq.motif.alphabet import encode
from emseq.motif.compare import compare_motifs
from emseq.motif.meme import read_meme_file
from emseq.motif.scan import scan_sequences

TEN = Path(__file__).resolve().parents[2] / "data" / "motif" / "jaspar2026_core_vert10.meme"
TOKENS = ["MOTIF", "letter-probability matrix:", "w=", "alength=", "nsites=", "ALPHABET=",
          "strands:", "Background letter frequencies", "nan", "inf", "-1", "1e400", "0", "",
          "\t", "\x00", "é", "END ALPHABET", "MEME version 4"]


def _mutate(rng: np.random.Generator, lines: list[str]) -> list[str]:
    lines = list(lines)
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.integers(0, 6)
        i = int(rng.integers(0, len(lines))) if lines else 0
        if kind == 0 and lines:                      # drop a line
            del lines[i]
        elif kind == 1 and lines:                    # duplicate a line
            lines.insert(i, lines[i])
        elif kind == 2 and lines:                    # replace a word by a token
            words = lines[i].split()
            if words:
                words[int(rng.integers(0, len(words)))] = str(rng.choice(TOKENS))
                lines[i] = " ".join(words)
        elif kind == 3:                              # insert a token line
            lines.insert(i, str(rng.choice(TOKENS)))
        elif kind == 4 and lines:                    # cut a line short
            lines[i] = lines[i][:int(rng.integers(0, len(lines[i]) + 1))]
        else:                                        # truncate the file
            lines = lines[:i]
    return lines


@pytest.mark.parametrize("block", range(4))
def test_mutated_meme_files(tmp_path, block):
    rng = np.random.default_rng(1300 + block)
    original = TEN.read_text().splitlines()
    data = encode(["ACGTTGCAAGGCTTACCGATGCAAT" * 8])
    outcomes = {"read": 0, "refused": 0}
    for case in range(50):
        path = tmp_path / f"case{case}.meme"
        path.write_text("\n".join(_mutate(rng, original)) + "\n")
        try:
            meme = read_meme_file(path)
        except InputError as exc:
            assert str(exc).startswith(str(path)), exc  # names the file
            outcomes["refused"] += 1
            continue
        outcomes["read"] += 1
        for motif in meme.motifs:
            assert motif.width >= 1 and motif.pwm.shape == (motif.width, 4)
            np.testing.assert_allclose(motif.pwm.sum(axis=1), 1.0)
            assert np.all(motif.pwm >= 0)
        # what is read can be compared and scanned
        table = compare_motifs(meme, TEN, thresh=None, n_threads=1)
        assert np.all((table["p-value"] >= 0) & (table["p-value"] <= 1))
        hits = scan_sequences(meme, data, thresh=1e-2, bfile="uniform", n_threads=1)
        assert np.all(hits["p-value"] < 1e-2)
    assert outcomes["read"] > 0 and outcomes["refused"] > 0
