"""One-page PNG report of a quantification: fragment lengths, convergence, library types and,
with bias correction, the learnt GC curve and positional profiles."""

from __future__ import annotations

import os

import numpy as np


def write_report(result, path: str | os.PathLike[str]) -> None:
    """Draw ``report.png``: FLD, objective trace, fragments per orientation, TPM histogram and,
    when bias models were learnt, their GC ratio curve and positional profiles."""
    from matplotlib.figure import Figure

    from ..io.atomic import atomic_write

    bias = getattr(result, "bias", None)
    fig = Figure(figsize=(10, 7.5 if bias is None else 11))
    axes = fig.subplots(2 if bias is None else 3, 2)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.06, top=0.96, wspace=0.38, hspace=0.4)
    if bias is not None:
        _draw_bias(bias, axes[2, 0], axes[2, 1])
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


def _draw_bias(bias, ax_gc, ax_pos) -> None:
    """The observed / expected fragment GC curve and the positional weights per length class."""
    x, ratio = bias.gc_ratio_curve()
    share = bias.gc_obs / max(bias.gc_obs.sum(), 1e-300)
    busy = share > 1e-3
    ax_gc.axhline(1.0, color="0.6", lw=0.8)
    ax_gc.plot(x[busy], ratio[busy], marker=".", label="observed / expected")
    twin = ax_gc.twinx()
    twin.fill_between(x, share, color="C1", alpha=0.2, step="mid")
    twin.set_ylabel("share of fragments", color="C1")
    state = "corrected" if bias.options.gc else "not corrected"
    ax_gc.set(title=f"Fragment GC bias ({state}, {bias.n_fragments} fragments)",
              xlabel="fragment GC fraction", ylabel="observed / expected")
    upper = list(bias.options.length_classes)
    bounds = [0] + upper + [None]
    p = bias.pos.shape[1]
    centres = (np.arange(p) + 0.5) / p
    ax_pos.axhline(1.0, color="0.6", lw=0.8)
    frags = bias.pos_obs.sum(axis=1)
    for c in range(bias.pos.shape[0]):
        if frags[c] < 1:
            continue
        hi = f"{bounds[c + 1]}" if bounds[c + 1] is not None else "+"
        ax_pos.plot(centres, bias.pos[c], marker=".",
                    label=f"{bounds[c]}-{hi} nt ({frags[c]:.0f})")
    state = "corrected" if bias.options.pos else "not corrected"
    ax_pos.set(title=f"Positional bias ({state})", xlabel="relative position of fragment "
               "midpoint (5' to 3')", ylabel="weight")
    ax_pos.legend(fontsize=7, title="transcript length", title_fontsize=7)
