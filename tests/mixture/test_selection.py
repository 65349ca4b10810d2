"""emseq.mixture.select: the true number of components and covariance type are found."""

import numpy as np
import pandas as pd
import pytest

from emseq.errors import UsageError
from emseq.mixture import GaussianMixture, select
from emseq.mixture._selection import SELECTION_COLUMNS


@pytest.mark.parametrize("true_k", [2, 4])
def test_bic_finds_the_true_number_of_components(true_k, simulate):
    X, *_ = simulate(n=1200, d=2, k=true_k, seed=true_k, spread=8.0)
    best, table = select(X, n_components=range(1, 7), random_state=0, n_init=2)
    assert best.n_components == true_k
    assert list(table.columns) == [*SELECTION_COLUMNS, "best"]
    assert table["best"].sum() == 1 and table.loc[table["best"], "n_components"].item() == true_k
    # the table's criteria are scikit-learn's bic()/aic() of each fitted model
    row = table[table["best"]].iloc[0]
    assert row["bic"] == pytest.approx(best.bic(X), rel=1e-12)
    assert row["aic"] == pytest.approx(best.aic(X), rel=1e-12)
    assert row["log_likelihood"] == pytest.approx(best.score(X) * len(X), rel=1e-12)
    # more components never fit worse by much (same seed, nested models up to EM's local optima)
    assert table["bic"].idxmin() == table.index[table["best"]][0]


def test_covariance_type_is_selected(simulate):
    rng = np.random.default_rng(3)
    # axis-aligned, unequal variances: diag is the true model, full only adds parameters
    X = np.vstack([rng.normal((0, 0), (1.0, 3.0), (600, 2)),
                   rng.normal((10, 0), (3.0, 1.0), (600, 2))])
    best, table = select(X, [1, 2, 3], ["full", "diag", "spherical"], random_state=0)
    assert (best.n_components, best.covariance_type) == (2, "diag")
    assert len(table) == 9
    assert list(table["covariance_type"]) == ["full"] * 3 + ["diag"] * 3 + ["spherical"] * 3


def test_aic_and_threads_do_not_change_the_table(simulate):
    X, *_ = simulate(n=800, d=3, k=3, seed=1)
    one, t1 = select(X, range(1, 5), "full", n_jobs=1, random_state=4, criterion="aic")
    two, t2 = select(X, range(1, 5), "full", n_jobs=2, random_state=4, criterion="aic")
    cols = ["log_likelihood", "bic", "aic", "n_iter"]
    pd.testing.assert_frame_equal(t1[cols], t2[cols])
    np.testing.assert_array_equal(one.means_, two.means_)
    assert t1.loc[t1["best"], "aic"].item() == t1["aic"].min()


def test_selected_model_equals_a_direct_fit(simulate):
    X, *_ = simulate(n=600, d=2, k=3, seed=2)
    best, _ = select(X, [3], "full", random_state=5)
    direct = GaussianMixture(3, random_state=5).fit(X)
    np.testing.assert_array_equal(best.means_, direct.means_)


@pytest.mark.parametrize("kwargs, words", [
    (dict(n_components=[]), "n_components is empty"),
    (dict(n_components=[0, 2]), "n_components must be integers >= 1"),
    (dict(covariance_type="round"), "covariance_type must be"),
    (dict(criterion="icl"), "criterion must be"),
])
def test_bad_grid(kwargs, words, blobs):
    with pytest.raises(UsageError, match=words):
        select(blobs[0], **kwargs)
