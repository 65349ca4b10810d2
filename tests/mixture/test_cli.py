"""``emseq mixture`` end to end: outputs, and bad input -> one line, non-zero exit, nothing written."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emseq.cli import main
from emseq.em import read_convergence

DEMO = Path(__file__).resolve().parents[2] / "data" / "mixture"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emseq", "mixture", *map(str, args)],
                          capture_output=True, text=True)


def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo_out"
    done = run_cli(DEMO / "demo.tsv", "-k", 3, "-o", out, "-p", 1)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "assignments.tsv", "convergence.tsv", "covariances.npy", "mixture.png", "model.npz",
        "parameters.tsv"]
    params = pd.read_csv(out / "parameters.tsv", sep="\t")
    truth = pd.read_csv(DEMO / "demo_truth.tsv", sep="\t")
    assert list(params.columns) == ["component", "weight", "mean_x", "mean_y", "mean_z"]
    for _, row in truth.iterrows():
        mean = row[["mean_x", "mean_y", "mean_z"]].to_numpy(float)
        dist = np.linalg.norm(params[["mean_x", "mean_y", "mean_z"]].to_numpy() - mean, axis=1)
        k = int(np.argmin(dist))
        assert dist[k] < 0.2 and abs(params.weight[k] - row.weight) < 0.03
    cov = np.load(out / "covariances.npy")
    assert cov.shape == (3, 3, 3) and np.allclose(cov, np.swapaxes(cov, 1, 2))
    assignments = pd.read_csv(out / "assignments.tsv", sep="\t")
    assert len(assignments) == 1500 and list(assignments.columns[:2]) == ["row", "component"]
    np.testing.assert_allclose(assignments[["p_0", "p_1", "p_2"]].sum(axis=1), 1.0, atol=1e-5)
    trace = read_convergence(out / "convergence.tsv")
    assert np.all(np.diff(trace.log_likelihood) >= -1e-12)
    assert (out / "mixture.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_npy_csv_and_missing_cells(tmp_path):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    np.save(tmp_path / "x.npy", X)
    assert main(["mixture", str(tmp_path / "x.npy"), "-k", "2", "--covariance", "diag",
                 "-o", str(tmp_path / "a"), "-q", "--no-plot"]) == 0
    lines = ["a,b"] + [f"{x:.6f},{y:.6f}" for x, y in X]
    lines[5] = "NA,1.0"
    lines[9] = "2.0,"
    (tmp_path / "x.csv").write_text("\n".join(lines) + "\n")
    assert main(["mixture", str(tmp_path / "x.csv"), "-k", "2", "-o", str(tmp_path / "b"),
                 "-q"]) == 1  # NaN without --missing marginalize
    assert not (tmp_path / "b").exists()
    assert main(["mixture", str(tmp_path / "x.csv"), "-k", "2", "--missing", "marginalize",
                 "-o", str(tmp_path / "b"), "-q", "--hard"]) == 0
    assignments = pd.read_csv(tmp_path / "b" / "assignments.tsv", sep="\t")
    assert len(assignments) == 400


@pytest.mark.parametrize("name, text, code, words", [
    ("empty.tsv", "", 1, "empty file"),
    ("blank.tsv", "\n\n", 1, "empty file"),
    ("header.tsv", "a\tb\n", 1, "no data rows"),
    ("ragged.tsv", "a\tb\n1\t2\n3\t4\t5\n", 1, "line 3 has 3 fields, expected 2"),
    ("text.tsv", "a\tb\n1\t2\n3\tfoo\n5\t6\n", 1, "column 2 ('b') is not numeric: 'foo' on line 3"),
    ("few.tsv", "1\t2\n3\t4\n", 1, "2 rows for 3 components"),
    ("bad.npy", "not an array", 1, "not a readable .npy"),
])
def test_bad_input_files(tmp_path, capsys, name, text, code, words):
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["mixture", str(path), "-k", "3", "-o", str(out)]) == code
    stderr = capsys.readouterr().err
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in stderr, stderr
    assert lines[0].startswith("emseq mixture: error: ")
    assert not out.exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_usage_errors(tmp_path, capsys):
    assert main(["mixture", str(DEMO / "demo.tsv"), "-k", "0", "-o", str(tmp_path / "o")]) == 2
    assert "components" in capsys.readouterr().err
    assert main(["mixture", str(tmp_path / "no.tsv"), "-k", "2", "-o", str(tmp_path / "o")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("header", [False, True])
def test_utf8_bom_table(tmp_path, header):
    """A BOM (Excel's "UTF-8 CSV") made the first data row of a header-less table look like a
    header: the row was silently dropped and its numbers became feature names."""
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(8, 1, (40, 2))])
    body = "".join(f"{a:.6f}\t{b:.6f}\n" for a, b in X)
    path = tmp_path / "bom.tsv"
    path.write_text(("a\tb\n" if header else "") + body, encoding="utf-8-sig")
    assert main(["mixture", str(path), "-k", "2", "-o", str(tmp_path / "o"), "-q",
                 "--no-plot"]) == 0
    assignments = pd.read_csv(tmp_path / "o" / "assignments.tsv", sep="\t")
    params = pd.read_csv(tmp_path / "o" / "parameters.tsv", sep="\t")
    assert len(assignments) == 80
    names = ["a", "b"] if header else ["x1", "x2"]
    assert list(params.columns) == ["component", "weight"] + [f"mean_{n}" for n in names]


@pytest.mark.parametrize("cell, option, words", [
    ("NA", [], "row 3, column 2 ('b') is missing; pass --missing marginalize"),
    ("inf", [], "row 3, column 2 ('b') is infinite"),
    ("inf", ["--missing", "marginalize"], "row 3, column 2 ('b') is infinite"),
])
def test_bad_cells_are_numbered_as_in_the_file(tmp_path, capsys, cell, option, words):
    """The CLI passed on the estimator's 0-based 'row 2, column 1' (the wrong cell for a user
    reading the table, whose rows assignments.tsv numbers from 1) and its Python advice
    "missing='marginalize'"."""
    path = tmp_path / "x.tsv"
    path.write_text(f"a\tb\n1\t2\n3\t4\n5\t{cell}\n7\t8\n")
    assert main(["mixture", str(path), "-k", "2", "-o", str(tmp_path / "o"), *option]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], lines
    assert not (tmp_path / "o").exists()


def test_empty_row_and_column_numbered_as_in_the_file(tmp_path, capsys):
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\n1\t\n3\t\n\t\n7\t\n")
    assert main(["mixture", str(path), "-k", "2", "-o", str(tmp_path / "o"),
                 "--missing", "marginalize"]) == 1
    assert "row 3 has no observed value" in capsys.readouterr().err
    path.write_text("a\tb\n1\t\n3\t\n5\t\n7\t\n")
    assert main(["mixture", str(path), "-k", "2", "-o", str(tmp_path / "o"),
                 "--missing", "marginalize"]) == 1
    assert "column 2 ('b') has no observed value" in capsys.readouterr().err


def test_rerun_with_no_plot_leaves_no_stale_plot(tmp_path):
    """Re-running into the same directory with --force replaces it whole; with --no-plot the
    previous run's mixture.png (3 components) stayed beside the new 2-component parameters."""
    out = tmp_path / "o"
    assert main(["mixture", str(DEMO / "demo.tsv"), "-k", "3", "-o", str(out), "-q"]) == 0
    assert (out / "mixture.png").is_file()
    assert main(["mixture", str(DEMO / "demo.tsv"), "-k", "2", "-o", str(out), "-q",
                 "--no-plot"]) == 1  # a non-empty -o needs --force
    assert main(["mixture", str(DEMO / "demo.tsv"), "-k", "2", "-o", str(out), "-q",
                 "--no-plot", "--force"]) == 0
    assert len(pd.read_csv(out / "parameters.tsv", sep="\t")) == 2
    assert not (out / "mixture.png").exists()


def test_convergence_warning_reaches_stderr(tmp_path):
    """The CLI routes Python warnings to logging (captureWarnings) but gave the 'py.warnings'
    logger no handler, so the ConvergenceWarning of a fit that stopped at --max-iter was
    swallowed: exit 0 and, with -q, not a word."""
    done = run_cli(DEMO / "demo.tsv", "-k", "3", "--max-iter", "1", "-o", tmp_path / "o", "-q",
                   "--no-plot")
    assert done.returncode == 0
    assert "did not converge" in done.stderr


@pytest.mark.parametrize("name, sep", [("x.tsv.gz", "\t"), ("x.csv.gz", ",")])
def test_gzipped_table(tmp_path, name, sep):
    """A .tsv.gz was read as text with replacement characters and refused as 'ragged'."""
    import gzip

    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(9, 1, (30, 2))])
    text = f"a{sep}b\n" + "".join(f"{a:.6f}{sep}{b:.6f}\n" for a, b in X)
    (tmp_path / name).write_bytes(gzip.compress(text.encode()))
    assert main(["mixture", str(tmp_path / name), "-k", "2", "-o", str(tmp_path / "o"), "-q",
                 "--no-plot"]) == 0
    params = pd.read_csv(tmp_path / "o" / "parameters.tsv", sep="\t")
    assert list(params.columns) == ["component", "weight", "mean_a", "mean_b"]
    assert sorted(params["mean_a"].round()) == [0.0, 9.0]
