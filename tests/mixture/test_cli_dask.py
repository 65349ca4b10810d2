"""``emseq mixture`` on a .npy or zarr input fitted on Dask chunks (--scheduler, --workers):
the same outputs as the in-memory fit of the same rows, written without loading X."""

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from emseq.cli import main  # noqa: E402


def _rows(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)) + rng.normal(0, 5, (3, 3))[rng.integers(0, 3, n)]


def _tables(out):
    return {name: pd.read_csv(out / name, sep="\t") for name in
            ("parameters.tsv", "assignments.tsv", "convergence.tsv")}


def test_npy_on_a_scheduler_equals_in_memory(client, tmp_path):
    X = _rows()
    np.save(tmp_path / "x.npy", X)
    common = ["-k", "3", "--tol", "0", "--max-iter", "10", "-q"]
    assert main(["mixture", str(tmp_path / "x.npy"), *common, "-o", str(tmp_path / "m"),
                 "--no-plot"]) == 0
    assert main(["mixture", str(tmp_path / "x.npy"), *common, "-o", str(tmp_path / "d"),
                 "--scheduler", client.scheduler.address, "--chunk-rows", "700"]) == 0
    mem, lazy = _tables(tmp_path / "m"), _tables(tmp_path / "d")
    np.testing.assert_allclose(lazy["parameters.tsv"].to_numpy(),
                               mem["parameters.tsv"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(lazy["convergence.tsv"]["log_likelihood"],
                               mem["convergence.tsv"]["log_likelihood"], rtol=1e-10)
    a, b = lazy["assignments.tsv"], mem["assignments.tsv"]
    assert list(a.columns) == list(b.columns) and list(a["row"]) == list(range(1, 3001))
    np.testing.assert_array_equal(a["component"], b["component"])
    np.testing.assert_allclose(a.iloc[:, 2:], b.iloc[:, 2:], rtol=1e-5, atol=1e-6)
    assert (tmp_path / "d" / "mixture.png").stat().st_size > 0


def test_zarr_selection_on_an_embedded_cluster(tmp_path):
    zarr = pytest.importorskip("zarr", reason="zarr not installed (pip install zarr)")
    X = _rows(1)
    store = zarr.create_array(str(tmp_path / "x.zarr"), shape=X.shape, chunks=(1000, 3),
                              dtype="f8")
    store[:] = X
    np.savetxt(tmp_path / "x.tsv", X, delimiter="\t", fmt="%.17g")
    common = ["-k", "2-4", "--covariance-type", "full,diag", "-q", "--no-plot"]
    assert main(["mixture", str(tmp_path / "x.tsv"), *common, "-o", str(tmp_path / "m")]) == 0
    assert main(["mixture", str(tmp_path / "x.zarr"), *common, "-o", str(tmp_path / "d"),
                 "--workers", "2"]) == 0
    mem = pd.read_csv(tmp_path / "m" / "selection.tsv", sep="\t")
    lazy = pd.read_csv(tmp_path / "d" / "selection.tsv", sep="\t")
    assert lazy["best"].tolist() == mem["best"].tolist()
    assert lazy[lazy["best"]]["n_components"].item() == 3
    np.testing.assert_allclose(lazy["bic"], mem["bic"], rtol=1e-10)


@pytest.mark.parametrize("name, option, code, words", [
    ("x.tsv", ["--workers", "2"], 2, "--workers and --chunk-rows fit a .npy or zarr input"),
    ("x.tsv", ["--chunk-rows", "10"], 2, "--workers and --chunk-rows fit a .npy or zarr"),
    ("x.npy", ["--chunk-rows", "10"], 2, "--chunk-rows: "),
    ("x.npy", ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], 2,
     "--scheduler and --workers exclude each other"),
    ("x.npy", ["--workers", "2", "--index-col", "1"], 2, "it has no identifier column"),
])
def test_dask_options_in_memory(tmp_path, capsys, name, option, code, words):
    np.savetxt(tmp_path / "x.tsv", _rows(n=20), delimiter="\t")
    np.save(tmp_path / "x.npy", _rows(n=20))
    out = tmp_path / "o"
    assert main(["mixture", str(tmp_path / name), "-k", "2", *option, "-o", str(out)]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not out.exists()


def test_nan_in_a_npy_on_dask_one_line_nothing_written(client, tmp_path, capsys):
    X = _rows(n=2000)
    X[1234, 2] = np.nan
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "o"
    assert main(["mixture", str(tmp_path / "x.npy"), "-k", "2", "--chunk-rows", "500",
                 "--scheduler", client.scheduler.address, "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NaN (row 1234, column 2)" in err[0], err
    assert not out.exists()
    assert main(["mixture", str(tmp_path / "x.npy"), "-k", "2", "--missing", "marginalize",
                 "--scheduler", client.scheduler.address, "-o", str(out)]) == 2
    assert "missing='marginalize' is not supported" in capsys.readouterr().err
    assert not out.exists()


def test_predict_with_a_model_of_another_version(tmp_path, capsys):
    X = _rows(n=200)
    np.savetxt(tmp_path / "x.tsv", X, delimiter="\t")
    assert main(["mixture", str(tmp_path / "x.tsv"), "-k", "2", "-o", str(tmp_path / "fit"),
                 "-q", "--no-plot"]) == 0
    with np.load(tmp_path / "fit" / "model.npz", allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["metadata"]))
    meta.update(format_version=7, emseq_version="7.0")
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **arrays)
    capsys.readouterr()
    out = tmp_path / "p"
    assert main(["mixture", "predict", str(tmp_path / "old.npz"), str(tmp_path / "x.tsv"),
                 "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model format version 7 (written by emseq 7.0)" in err[0], err
    assert not out.exists()


def test_predict_a_npy_on_dask_equals_in_memory(client, tmp_path):
    X = _rows(2)
    np.save(tmp_path / "x.npy", X)
    assert main(["mixture", str(tmp_path / "x.npy"), "-k", "3", "-o", str(tmp_path / "fit"),
                 "-q", "--no-plot"]) == 0
    model = str(tmp_path / "fit" / "model.npz")
    assert main(["mixture", "predict", model, str(tmp_path / "x.npy"), "-o",
                 str(tmp_path / "d"), "--scheduler", client.scheduler.address,
                 "--chunk-rows", "999", "-q"]) == 0
    lazy = pd.read_csv(tmp_path / "d" / "assignments.tsv", sep="\t")
    mem = pd.read_csv(tmp_path / "fit" / "assignments.tsv", sep="\t")
    pd.testing.assert_frame_equal(lazy, mem)


def test_predict_an_array_with_a_model_of_named_features(tmp_path, capsys):
    X = _rows(n=200)
    lines = ["CD4\tCD8\tCD19"] + ["\t".join(f"{v:.6f}" for v in row) for row in X]
    (tmp_path / "x.tsv").write_text("\n".join(lines) + "\n")
    np.save(tmp_path / "x.npy", X)
    assert main(["mixture", str(tmp_path / "x.tsv"), "-k", "2", "-o", str(tmp_path / "fit"),
                 "-q", "--no-plot"]) == 0
    capsys.readouterr()
    out = tmp_path / "p"
    assert main(["mixture", "predict", str(tmp_path / "fit" / "model.npz"),
                 str(tmp_path / "x.npy"), "--workers", "1", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "an array has no feature names" in err[0], err
    assert not out.exists()
