"""``emseq mixture`` as a user of the field tries it: -k ranges, estimator spellings, an
identifier column, a saved model applied to new rows with ``emseq mixture predict``."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emseq.cli import main
from emseq.cli.mixture import parse_components
from emseq.mixture import GaussianMixture

DEMO = Path(__file__).resolve().parents[2] / "data" / "mixture"


def _cells(tmp_path, n=150, seed=0, name="cells.tsv", header=True):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal((0, 0), 1, (n, 2)), rng.normal((7, 7), 1, (n, 2)),
                   rng.normal((0, 8), 1, (n, 2))])
    ids = [f"cell_{i:04d}" for i in range(len(X))]
    lines = (["cell_id\tCD4\tCD8"] if header else []) + [
        f"{c}\t{a:.6f}\t{b:.6f}" for c, (a, b) in zip(ids, X)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path, X, ids


@pytest.mark.parametrize("text, values", [("3", [3]), ("1-4", [1, 2, 3, 4]),
                                          ("2,4,8", [2, 4, 8]), ("1-3,8,2", [1, 2, 3, 8])])
def test_parse_components(text, values):
    assert parse_components(text) == values


def test_selection_end_to_end_with_identifier_column(tmp_path):
    path, X, ids = _cells(tmp_path)
    out = tmp_path / "o"
    assert main(["mixture", str(path), "-k", "1-5", "--covariance-type", "full,diag",
                 "--random-state", "1", "--n-components", "1-5", "-o", str(out), "-q"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["assignments.tsv", "convergence.tsv", "covariances.npy", "mixture.png",
                     "model.npz", "parameters.tsv", "selection.tsv"]
    selection = pd.read_csv(out / "selection.tsv", sep="\t")
    assert len(selection) == 10 and selection["best"].sum() == 1
    best = selection[selection["best"]].iloc[0]
    assert best["n_components"] == 3 and best["bic"] == selection["bic"].min()
    assignments = pd.read_csv(out / "assignments.tsv", sep="\t")
    assert list(assignments.columns[:3]) == ["cell_id", "component", "log_likelihood"]
    assert list(assignments["cell_id"]) == ids
    params = pd.read_csv(out / "parameters.tsv", sep="\t")
    assert list(params.columns) == ["component", "weight", "mean_CD4", "mean_CD8"]
    model = GaussianMixture.load(out / "model.npz")
    assert model.n_components == 3 and list(model.feature_names_in_) == ["CD4", "CD8"]
    np.testing.assert_array_equal(model.predict(pd.DataFrame(X, columns=["CD4", "CD8"])),
                                  assignments["component"])


def test_predict_new_rows_by_feature_name(tmp_path):
    path, _, _ = _cells(tmp_path)
    assert main(["mixture", str(path), "-k", "3", "-o", str(tmp_path / "fit"), "-q",
                 "--no-plot"]) == 0
    # new data: other rows, columns in another order, an extra column
    rng = np.random.default_rng(9)
    new = np.vstack([rng.normal((7, 7), 1, (20, 2)), rng.normal((0, 8), 1, (20, 2))])
    lines = ["id\tCD8\textra\tCD4"] + [f"n{i}\t{b:.5f}\t1\t{a:.5f}" for i, (a, b) in
                                       enumerate(new)]
    (tmp_path / "new.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "pred"
    assert main(["mixture", "predict", str(tmp_path / "fit" / "model.npz"),
                 str(tmp_path / "new.tsv"), "-o", str(out), "-q"]) == 0
    pred = pd.read_csv(out / "assignments.tsv", sep="\t")
    assert list(pred["id"]) == [f"n{i}" for i in range(40)]
    model = GaussianMixture.load(tmp_path / "fit" / "model.npz")
    frame = pd.DataFrame(new, columns=["CD4", "CD8"])
    np.testing.assert_array_equal(pred["component"], model.predict(frame))
    np.testing.assert_allclose(pred["log_likelihood"], model.score_samples(frame), rtol=1e-5)
    assert pred["component"][:20].nunique() == 1 and pred["component"][20:].nunique() == 1


def test_predict_refuses_other_features(tmp_path, capsys):
    path, _, _ = _cells(tmp_path)
    assert main(["mixture", str(path), "-k", "2", "-o", str(tmp_path / "fit"), "-q",
                 "--no-plot"]) == 0
    (tmp_path / "new.tsv").write_text("id\tCD4\tCD19\na\t1\t2\nb\t3\t4\n")
    capsys.readouterr()
    assert main(["mixture", "predict", str(tmp_path / "fit" / "model.npz"),
                 str(tmp_path / "new.tsv"), "-o", str(tmp_path / "p")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column 'CD8' of the model" in err[0]
    assert not (tmp_path / "p").exists()


def test_headerless_ids_and_explicit_columns(tmp_path):
    path, X, ids = _cells(tmp_path, header=False)
    out = tmp_path / "o"
    assert main(["mixture", str(path), "-k", "3", "-o", str(out), "-q", "--no-plot"]) == 0
    assignments = pd.read_csv(out / "assignments.tsv", sep="\t")
    assert list(assignments["id"]) == ids  # the first row is data, not a header
    # --index-col by number and --columns choosing one feature
    assert main(["mixture", str(path), "-k", "2", "--index-col", "1", "--columns", "3",
                 "-o", str(tmp_path / "o2"), "-q", "--no-plot"]) == 0
    params = pd.read_csv(tmp_path / "o2" / "parameters.tsv", sep="\t")
    assert list(params.columns) == ["component", "weight", "mean_x3"]


def test_defaults_are_the_apis():
    from emseq.cli import build_parser

    args = build_parser().parse_args(["mixture", "x.tsv", "-k", "2", "-o", "o"])
    api = GaussianMixture()
    assert (args.tol, args.max_iter, args.n_init, args.init, args.reg_covar) == (
        api.tol, api.max_iter, api.n_init, api.init_params, api.reg_covar)


@pytest.mark.parametrize("option, code, words", [
    (["-k", "0"], 2, "must be at least 1"),
    (["-k", "5-2"], 2, "the range ends before it starts; did you mean 2-5?"),
    (["-k", "two"], 2, "expected a number, a range"),
    (["-k", "2", "--covariance", "round"], 2, "--covariance 'round'"),
    (["-k", "2", "--index-col", "gene"], 2, "--index-col 'gene': no such column"),
    (["-k", "2", "--columns", "CD4,CD99"], 2, "--columns 'CD99': no such column"),
    (["-k", "2", "--plot-columns", "CD4"], 2, "--plot-columns"),
    ([], 2, "-k/--components is required"),
])
def test_usage_errors_one_line_nothing_written(tmp_path, capsys, option, code, words):
    path, _, _ = _cells(tmp_path, n=10)
    out = tmp_path / "o"
    assert main(["mixture", str(path), *option, "-o", str(out)]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not out.exists()


def test_mixed_first_column_is_not_taken_for_ids(tmp_path, capsys):
    (tmp_path / "x.tsv").write_text("a\tb\n1\t2\nfoo\t3\n4\t5\n")
    assert main(["mixture", str(tmp_path / "x.tsv"), "-k", "1", "-o", str(tmp_path / "o")]) == 1
    assert "pass --index-col 1" in capsys.readouterr().err
