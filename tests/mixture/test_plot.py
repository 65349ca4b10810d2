"""mixture.png: a legend of components with weights, covariance ellipses, integer ticks and
the selection curve, checked on the figure itself."""

import numpy as np
import pytest

from emseq.mixture import GaussianMixture, select
from emseq.mixture._gmm import _full_covariances
from emseq.mixture._plot import plot_mixture


def test_figure_has_legend_ellipses_integer_ticks_and_bic(blobs, tmp_path, monkeypatch):
    import matplotlib.figure

    seen = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, path, **kw: seen.append(fig))
    X = blobs[0]
    gm, table = select(X, [1, 2, 3, 4], random_state=0)
    cov = _full_covariances(gm.covariances_, gm.covariance_type, gm.n_components, 2)
    plot_mixture(tmp_path / "m.png", X, gm.predict(X), gm, ["a", "b"], cov, (0, 1), table)
    trace, scatter, selection = seen[0].axes
    labels = [t.get_text() for t in scatter.get_legend().get_texts()]
    assert labels == [f"{k}: weight {w:.3f}" for k, w in enumerate(gm.weights_)]
    ellipses = [p for p in scatter.patches if type(p).__name__ == "Ellipse"]
    assert len(ellipses) == 2 * gm.n_components  # outline + colour per component
    centres = sorted(tuple(np.round(e.center, 6)) for e in ellipses[::2])
    assert centres == sorted(tuple(np.round(m, 6)) for m in gm.means_)
    for ax in (trace, selection):
        ticks = ax.get_xticks()
        assert np.all(ticks == np.round(ticks))
    curve = selection.get_lines()[0]
    np.testing.assert_array_equal(curve.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(curve.get_ydata(), table["bic"])
    assert gm.n_components == 3


@pytest.mark.parametrize("k", [1, 2])
def test_one_feature_is_a_histogram_with_the_legend(k, blobs, tmp_path):
    X = blobs[0][:, :1]
    gm = GaussianMixture(k, random_state=0).fit(X)
    cov = _full_covariances(gm.covariances_, gm.covariance_type, k, 1)
    plot_mixture(tmp_path / "m.png", X, gm.predict(X), gm, ["a"], cov, (0, 0))
    assert (tmp_path / "m.png").stat().st_size > 0
