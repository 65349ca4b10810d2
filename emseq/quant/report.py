"""One-page PNG report of a quantification: fragment lengths, convergence, library types."""

from __future__ import annotations

import os

import numpy as np


def write_report(result, path: str | os.PathLike[str]) -> None:
    """Draw ``report.png``: FLD, objective trace, fragments per orientation, TPM histogram."""
    from matplotlib.figure import Figure

    from ..io.atomic import atomic_write

    fig = Figure(figsize=(10, 7.5))
    axes = fig.subplots(2, 2)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.07, top=0.95, wspace=0.25, hspace=0.35)
    pmf = result.fragment_length.pmf
    ax = axes[0, 0]
    ax.plot(np.arange(pmf.size), pmf)
    ax.set(title=f"Fragment lengths (mean {result.fragment_length.mean:.0f}, "
                 f"sd {result.fragment_length.sd:.0f})", xlabel="length", ylabel="probability")
    ax = axes[0, 1]
    conv = result.convergence
    if len(conv):
        gap = conv["log_likelihood"].max() - conv["log_likelihood"]
        ax.plot(conv["iteration"], np.log10(1.0 + gap.to_numpy()))
    ax.set(title="Convergence", xlabel="iteration", ylabel="log10(1 + final - objective)")
    ax = axes[1, 0]
    counts = result.library.get("counts", {})
    ax.bar(list(counts), list(counts.values()))
    ax.set(title=f"Fragments per orientation (library {result.library.get('expected_format')})",
           ylabel="fragments")
    ax = axes[1, 1]
    tpm = result.abundances["TPM"].to_numpy()
    ax.hist(np.log10(tpm[tpm > 0]), bins=40)
    ax.set(title=f"{(tpm > 0).sum()} expressed transcripts, "
                 f"{100 * result.mapping_rate:.1f}% mapped", xlabel="log10 TPM")
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=80)
