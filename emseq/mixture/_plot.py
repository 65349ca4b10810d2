"""``mixture.png``: the convergence trace, the components over the data, and the selection
curve (BIC/AIC against the number of components) when several models were fitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_mixture"]


def _ellipse(ax, mean, cov, color, n_std=2.0):
    from matplotlib.patches import Ellipse

    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, 0.0, None)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    width, height = 2.0 * n_std * np.sqrt(values[::-1])
    # a dark outline under the component's colour: visible over its own dense points too
    for edge, lw in (("black", 3.0), (color, 1.5)):
        ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, edgecolor=edge,
                             lw=lw, zorder=3))


def plot_mixture(path: Path, X: np.ndarray, labels: np.ndarray, gm, names: list[str],
                 covariances: np.ndarray, coords: tuple[int, int] = (0, 1),
                 selection=None, criterion: str = "bic") -> None:
    """Write the figure to ``path``.

    Parameters
    ----------
    covariances : ndarray of shape (K, D, D)
        Every component's covariance (expanded from the covariance type).
    coords : (int, int)
        The two features on the axes of the scatter (ellipses are the 2-sigma contours of
        each component's marginal on them).
    selection : pandas.DataFrame, optional
        The table of :func:`emseq.mixture.select`; adds a third panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = 3 if selection is not None and len(selection) > 1 else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.6))
    trace = gm.convergence_
    ax = axes[0]
    ax.plot(trace["iteration"], trace["log_likelihood"], marker=".")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean log-likelihood")
    ax.set_title("EM convergence")
    K = gm.n_components
    cmap = plt.get_cmap("tab10" if K <= 10 else "tab20")
    colors = [cmap(k % cmap.N) for k in range(K)]
    ax = axes[1]
    weights = np.asarray(gm.weights_, dtype=float)
    if X.shape[1] >= 2:
        a, b = coords
        keep = ~np.isnan(X[:, [a, b]]).any(axis=1)
        for k in range(K):
            rows = keep & (labels == k)
            ax.scatter(X[rows, a], X[rows, b], s=4, color=colors[k], alpha=0.5,
                       label=f"{k}: weight {weights[k]:.3f}")
            mean = np.asarray(gm.means_[k], dtype=float)[[a, b]]
            _ellipse(ax, mean, covariances[k][np.ix_([a, b], [a, b])], colors[k])
        ax.scatter(gm.means_[:, a], gm.means_[:, b], c="black", marker="x", s=50)
        ax.set_xlabel(names[a])
        ax.set_ylabel(names[b])
        ax.autoscale_view()
    else:
        keep = ~np.isnan(X[:, 0])
        for k in range(K):
            ax.hist(X[keep & (labels == k), 0], bins=50, alpha=0.6, color=colors[k],
                    label=f"{k}: weight {weights[k]:.3f}")
        ax.set_xlabel(names[0])
    ax.legend(title="component", fontsize="small", markerscale=3,
              ncol=1 if K <= 8 else 2, loc="best")
    ax.set_title(f"{K} components ({gm.covariance_type}); ellipses: 2 sd")
    if panels == 3:
        ax = axes[2]
        for cov_type, part in selection.groupby("covariance_type", sort=False):
            line = ax.plot(part["n_components"], part[criterion], marker="o",
                           label=f"{cov_type} ({criterion.upper()})")[0]
            other = "aic" if criterion == "bic" else "bic"
            ax.plot(part["n_components"], part[other], ls="--", color=line.get_color(),
                    alpha=0.6, label=f"{cov_type} ({other.upper()})")
        best = selection[selection["best"]].iloc[0]
        ax.scatter([best["n_components"]], [best[criterion]], s=150, facecolors="none",
                   edgecolors="red", zorder=3, label="chosen")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("number of components")
        ax.set_ylabel("criterion (lower is better)")
        ax.set_title("model selection")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
