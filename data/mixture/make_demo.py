"""Regenerate data/mixture/demo.tsv: 1,500 rows from a known 3-component Gaussian mixture.

The truth (weights, means, covariances) is printed and kept in demo_truth.tsv so a fit can be
checked against it. Run: ``python data/mixture/make_demo.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[0.0, 0.0, 0.0], [5.0, 4.0, -2.0], [-4.0, 5.0, 3.0]])
COVARIANCES = np.array([
    [[1.0, 0.6, 0.0], [0.6, 1.5, 0.3], [0.0, 0.3, 0.8]],
    [[0.5, -0.2, 0.1], [-0.2, 0.8, 0.0], [0.1, 0.0, 1.2]],
    [[2.0, 0.0, 0.5], [0.0, 0.4, 0.0], [0.5, 0.0, 1.0]],
])


def main(n: int = 1500, seed: int = 20260101) -> None:
    rng = np.random.default_rng(seed)
    z = rng.choice(len(WEIGHTS), size=n, p=WEIGHTS)
    X = np.vstack([rng.multivariate_normal(MEANS[k], COVARIANCES[k]) for k in z])
    table = pd.DataFrame(X, columns=["x", "y", "z"])
    table.to_csv(HERE / "demo.tsv", sep="\t", index=False, float_format="%.5f")
    truth = pd.DataFrame({"component": range(3), "weight": WEIGHTS,
                          **{f"mean_{c}": MEANS[:, j] for j, c in enumerate("xyz")}})
    truth.to_csv(HERE / "demo_truth.tsv", sep="\t", index=False)
    print(truth.to_string(index=False))


if __name__ == "__main__":
    main()
