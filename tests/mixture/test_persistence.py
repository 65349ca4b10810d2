"""Saved models (.npz without pickle): round trip, and files that must be refused."""

import json

import numpy as np
import pandas as pd
import pytest

from emseq.errors import InputError
from emseq.mixture import GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_predicts_the_same(cov_type, dtype, blobs, tmp_path):
    X = blobs[0].astype(dtype)
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X)
    gm.save(tmp_path / "m.npz")
    back = GaussianMixture.load(tmp_path / "m.npz")
    assert back.get_params() == gm.get_params()
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        got, want = getattr(back, name), getattr(gm, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(back.predict(X), gm.predict(X))
    np.testing.assert_allclose(back.score_samples(X), gm.score_samples(X), rtol=1e-12)
    pd.testing.assert_frame_equal(back.convergence_, gm.convergence_)
    assert back.n_iter_ == gm.n_iter_ and back.converged_ == gm.converged_
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:  # readable without pickle
        meta = json.loads(str(archive["metadata"]))
    assert meta["format_version"] == 1 and meta["covariance_type"] == cov_type


def test_feature_names_are_kept_and_checked(blobs, tmp_path):
    frame = pd.DataFrame(blobs[0], columns=["CD4", "CD8"])
    gm = GaussianMixture(3, random_state=0).fit(frame)
    gm.save(tmp_path / "m.npz")
    back = GaussianMixture.load(tmp_path / "m.npz")
    assert list(back.feature_names_in_) == ["CD4", "CD8"]
    with pytest.raises(ValueError, match="feature names"):
        back.predict(frame.rename(columns={"CD8": "CD19"}))


def _rewrite(path, out, **changes):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["metadata"]))
    for key, value in changes.items():
        if key in arrays:
            arrays[key] = value
        else:
            meta[key] = value
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(out, **arrays)


@pytest.mark.parametrize("changes, words", [
    (dict(format_version=2, emseq_version="9.0"), "model format version 2 (written by emseq 9.0)"),
    (dict(format="something.else"), "not an emseq Gaussian mixture"),
    (dict(means=np.zeros((2, 2))), "'means' has shape (2, 2), expected (3, 2)"),
    (dict(covariances=-np.ones((3, 2, 2))), "not positive definite"),
])
def test_bad_model_files(changes, words, blobs, tmp_path):
    gm = GaussianMixture(3, random_state=0).fit(blobs[0])
    gm.save(tmp_path / "m.npz")
    _rewrite(tmp_path / "m.npz", tmp_path / "bad.npz", **changes)
    with pytest.raises(InputError) as info:
        GaussianMixture.load(tmp_path / "bad.npz")
    assert words in str(info.value)


def test_not_a_model(tmp_path):
    (tmp_path / "x.npz").write_text("hello")
    with pytest.raises(InputError, match="not an emseq model"):
        GaussianMixture.load(tmp_path / "x.npz")
    with pytest.raises(InputError, match="no such model file"):
        GaussianMixture.load(tmp_path / "none.npz")
