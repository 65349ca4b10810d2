"""Numeric options are range-checked while parsing: one line naming the option, exit 2,
before anything is read or written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emseq._threads import available_cpus
from emseq.cli import main

ROOT = Path(__file__).resolve().parents[2]
BAM = str(ROOT / "data" / "quant" / "demo.bam")
FASTA = str(ROOT / "data" / "motif" / "crp0.s")
TABLE = str(ROOT / "data" / "mixture" / "demo.tsv")


@pytest.mark.parametrize("argv, option", [
    (["quant", "-a", BAM, "-p", "0"], "-p/--threads: 0 is out of range: from 1 to"),
    (["quant", "-a", BAM, "-p", "-3"], "-p/--threads: -3 is out of range"),
    (["quant", "-a", BAM, "-p", "100000"], "-p/--threads: 100000 is out of range"),
    (["quant", "-a", BAM, "-p", "two"], "-p/--threads: expected a whole number, got 'two'"),
    (["quant", "-a", BAM, "--fld-sd", "0"], "--fld-sd/--fldSD: 0 is out of range: from 0.0"),
    (["quant", "-a", BAM, "--num-bootstraps", "-1"], "--num-bootstraps/--numBootstraps"),
    (["quant", "-a", BAM, "--incompat-prior", "nan"], "--incompat-prior: nan"),
    (["motif", FASTA, "--markov-order", "9"], "--markov-order: 9 is out of range: from 0 to 5"),
    (["motif", FASTA, "--minw", "1"], "--minw: 1 is out of range"),
    (["mixture", TABLE, "-k", "2", "--n-init", "0"], "--n-init: 0 is out of range"),
    (["mixture", TABLE, "-k", "2", "--tol", "inf"], "--tol: inf is out of range"),
    (["batch", "sheet.csv", "--retries", "-1"], "--retries: -1 is out of range"),
])
def test_out_of_range_option_is_one_line_exit_2(tmp_path, capsys, argv, option):
    out = tmp_path / "out"
    assert main([*argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"emseq {argv[0]}: error: argument {option}" in err, err
    assert not out.exists() and os.listdir(tmp_path) == []


def test_threads_bound_is_four_per_cpu(tmp_path, capsys):
    top = available_cpus() * 4
    assert main(["quant", "-a", BAM, "-p", str(top + 1), "-o", str(tmp_path / "o")]) == 2
    assert f"from 1 to {top}" in capsys.readouterr().err
