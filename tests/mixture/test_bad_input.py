"""Bad input to the estimator: one clear error (an emseq error, also a ValueError)."""

import numpy as np
import pytest

from emseq.errors import EmseqError, InputError, UsageError
from emseq.mixture import DegenerateCovarianceError, GaussianMixture


def _one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "infinity"),
                                       (-np.inf, "infinity")])
def test_nan_inf_rejected_when_missing_values_not_enabled(bad, word, blobs):
    X = blobs[0].copy()
    X[17, 1] = bad
    with pytest.raises(InputError) as excinfo:
        GaussianMixture(3).fit(X)
    message = _one_line(excinfo)
    assert word in message and "row 17, column 1" in message
    if word == "NaN":
        assert "missing='marginalize'" in message


def test_inf_rejected_even_with_missing_values(blobs):
    X = blobs[0].copy()
    X[3, 0] = np.inf
    with pytest.raises(InputError, match="infinity"):
        GaussianMixture(3, missing="marginalize").fit(X)


def test_row_entirely_missing(blobs):
    X = blobs[0].copy()
    X[5] = np.nan
    with pytest.raises(InputError, match="row 5 of X has no observed value"):
        GaussianMixture(3, missing="marginalize").fit(X)


def test_predict_rejects_nan_after_plain_fit(blobs):
    gm = GaussianMixture(3, random_state=0).fit(blobs[0])
    X = blobs[0][:10].copy()
    X[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        gm.predict(X)


def test_fewer_samples_than_components():
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(InputError) as excinfo:
        GaussianMixture(5).fit(X)
    assert "n_samples >= n_components" in _one_line(excinfo)


def test_single_feature_works():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-5, 1, 500), rng.normal(5, 0.5, 500)])[:, None]
    for cov_type in ["full", "tied", "diag", "spherical"]:
        gm = GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(X)
        order = np.argsort(gm.means_[:, 0])
        np.testing.assert_allclose(gm.means_[order, 0], [-5, 5], atol=0.15)
    with pytest.raises(InputError, match="2D array"):
        GaussianMixture(2).fit(X[:, 0])  # 1-D: the shape is said, not guessed


def test_constant_column_is_regularised(blobs):
    X = blobs[0].copy()
    X = np.column_stack([X, np.full(len(X), 3.0)])
    gm = GaussianMixture(3, random_state=0).fit(X)
    assert np.all(np.isfinite(gm.lower_bounds_))
    np.testing.assert_allclose(gm.covariances_[:, 2, 2], gm.reg_covar, rtol=1e-3)
    np.testing.assert_allclose(gm.means_[:, 2], 3.0)
    with pytest.raises(DegenerateCovarianceError) as excinfo:
        GaussianMixture(3, random_state=0, reg_covar=0.0).fit(X)
    assert "reg_covar" in _one_line(excinfo)


def test_degenerate_cluster(blobs):
    """A cluster of identical points: reg_covar keeps it positive definite, 0 fails clearly."""
    X = np.vstack([blobs[0], np.tile([[40.0, -40.0]], (30, 1))])
    gm = GaussianMixture(4, random_state=0).fit(X)
    collapsed = int(np.argmin(np.abs(gm.means_[:, 0] - 40.0)))
    np.testing.assert_allclose(gm.means_[collapsed], [40.0, -40.0])
    assert np.all(np.linalg.eigvalsh(gm.covariances_[collapsed]) > 0)
    for cov_type in ["full", "diag", "spherical"]:
        with pytest.raises(DegenerateCovarianceError) as excinfo:
            GaussianMixture(4, covariance_type=cov_type, random_state=0,
                            reg_covar=0.0).fit(X)
        message = _one_line(excinfo)
        assert "ill-defined covariance" in message and "reg_covar" in message
        assert isinstance(excinfo.value, (EmseqError, ValueError))


@pytest.mark.parametrize("X, word", [
    (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), "float"),
    (np.zeros((0, 2)), "0 sample"),
    (np.zeros((3, 0)), "0 feature"),
    (np.zeros((3, 2, 2)), "dim"),
    (np.ones((1, 2)), "1 sample"),
])
def test_wrong_dtype_or_shape(X, word):
    with pytest.raises(InputError) as excinfo:
        GaussianMixture(1).fit(X)
    assert word in _one_line(excinfo)


def test_wrong_number_of_features_at_predict(blobs):
    gm = GaussianMixture(3, random_state=0).fit(blobs[0])
    with pytest.raises(InputError, match="3 features"):
        gm.predict(np.zeros((4, 3)))


@pytest.mark.parametrize("params, word", [
    (dict(covariance_type="banana"), "covariance_type"),
    (dict(n_components=0), "n_components"),
    (dict(reg_covar=-1.0), "reg_covar"),
    (dict(init_params="magic"), "init_params"),
    (dict(missing="impute"), "missing"),
    (dict(acceleration="aitken"), "acceleration"),
    (dict(weights_init=[0.5, 0.6, -0.1]), "weights_init"),
    (dict(means_init=np.zeros((2, 2))), "means_init"),
    (dict(precisions_init=-np.ones(3), covariance_type="spherical"), "positive"),
])
def test_bad_parameters(params, word, blobs):
    with pytest.raises(UsageError) as excinfo:
        GaussianMixture(**{"n_components": 3, **params}).fit(blobs[0])
    assert word in _one_line(excinfo)


def test_bad_sample_weight(blobs):
    X = blobs[0]
    for sw, word in [(np.ones(5), "shape"), (-np.ones(len(X)), "non-negative"),
                     (np.zeros(len(X)), "sums to zero")]:
        with pytest.raises(InputError, match=word):
            GaussianMixture(3).fit(X, sample_weight=sw)


def test_column_entirely_missing(blobs):
    """Used to escape as scikit-learn's multi-line KMeans NaN ValueError."""
    X = blobs[0].copy()
    X[:, 1] = np.nan
    with pytest.raises(InputError, match="column 1 of X has no observed value"):
        GaussianMixture(3, missing="marginalize").fit(X)
