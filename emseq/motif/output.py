"""Writers of emseq motif results: MEME minimal format, JASPAR, tables, SVG logos and
``summary.html`` (:mod:`.logo`, :mod:`.summary`), and on request PNG logos and
``summary.png`` drawn with matplotlib."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..io.atomic import atomic_output_dir, atomic_write, write_tsv
from .alphabet import LETTERS
from .logo import COLORS, information_content, reverse_complement, two_strand_logo_svg
from .summary import summary_html

if TYPE_CHECKING:  # pragma: no cover
    from .result import Motif, MotifResult

__all__ = ["meme_text", "jaspar_text", "draw_logo", "write_result"]


def meme_text(motifs, bg_freqs: np.ndarray, revcomp: bool = True) -> str:
    """Motifs in MEME minimal motif format (readable by FIMO, Tomtom, SEA, CentriMo)."""
    lines = ["MEME version 5", "", "ALPHABET= ACGT", "",
             f"strands: {'+ -' if revcomp else '+'}", "", "Background letter frequencies",
             " ".join(f"{c} {f:.3f}" for c, f in zip(LETTERS, bg_freqs)), ""]
    for m in motifs:
        lines.append(f"MOTIF {m.id} {m.consensus}")
        lines.append(f"letter-probability matrix: alength= 4 w= {m.width} nsites= {m.nsites} "
                     f"E= {m.e_value_text}")
        for row in m.pwm:
            row = np.asarray(row) / row.sum()
            lines.append(" " + "  ".join(f"{v:.6f}" for v in row))
        lines.append("")
    return "\n".join(lines)


def jaspar_text(motifs) -> str:
    """Motifs in JASPAR format (counts = probability x number of sites)."""
    lines = []
    for m in motifs:
        counts = np.round(m.pwm * m.nsites).astype(int)
        lines.append(f">{m.id} {m.consensus}")
        for a, letter in enumerate(LETTERS):
            lines.append(f"{letter} [ " + " ".join(f"{c:4d}" for c in counts[:, a]) + " ]")
    return "\n".join(lines) + ("\n" if lines else "")


def _letter_patch(ax, letter: str, x: float, y: float, height: float) -> None:
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    if height <= 1e-3:
        return
    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans",
                                                                weight="bold"))
    ext = path.get_extents()
    transform = (Affine2D().translate(-ext.x0, -ext.y0)
                 .scale(0.9 / ext.width, height / ext.height).translate(x + 0.05, y))
    ax.add_patch(PathPatch(transform.transform_path(path), color=COLORS[letter], lw=0))


def _draw_pwm(ax, pwm: np.ndarray, title: str) -> None:
    p = np.clip(pwm, 1e-12, 1.0)
    ic = information_content(pwm)
    for k, row in enumerate(p):
        y = 0.0
        for a in np.argsort(row):
            h = row[a] * ic[k]
            _letter_patch(ax, LETTERS[a], k, y, h)
            y += h
    ax.set_xlim(0, len(pwm))
    ax.set_ylim(0, 2)
    ax.set_xticks(np.arange(len(pwm)) + 0.5)
    ax.set_xticklabels([str(i + 1) for i in range(len(pwm))], fontsize=7)
    ax.set_ylabel("bits")
    ax.set_title(title, fontsize=9, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def draw_logo(motif: "Motif", path: str | os.PathLike[str]) -> None:
    """Information-content logo of a motif, forward and reverse-complement strands, as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(max(4.0, 0.45 * motif.width + 1.2), 4.2))
    _draw_pwm(axes[0], motif.pwm, f"motif {motif.id} {motif.consensus}  E = {motif.e_value_text}")
    rc = reverse_complement(motif.pwm)
    from .result import consensus

    _draw_pwm(axes[1], rc, f"reverse complement {consensus(rc)}")
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def _summary_png(result: "MotifResult", path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    motifs = list(result.motifs)
    n = max(1, len(motifs))
    fig, axes = plt.subplots(n, 2, figsize=(11, 2.4 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 2]})
    for i, m in enumerate(motifs):
        _draw_pwm(axes[i, 0], m.pwm, f"motif {m.id} {m.consensus}  {m.nsites} sites  "
                                     f"E = {m.e_value_text}")
        sites = result.sites[result.sites["motif"] == m.id]
        ax = axes[i, 1]
        if len(sites):
            centre = (sites["start"] + sites["end"]) / 2.0
            ax.hist(centre, bins=30, color="#555555")
        ax.set_xlabel("site centre (position in sequence)")
        ax.set_ylabel("sites")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if not motifs:
        axes[0, 0].text(0.5, 0.5, "no motif found", ha="center")
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)


def write_result(result: "MotifResult", directory: str | os.PathLike[str], *,
                 force: bool = False, png: bool = False) -> None:
    """Write every output file of a motif run into ``directory``, atomically.

    Parameters
    ----------
    result : MotifResult
        The run to write.
    directory : path-like
        The output folder (absent or empty unless ``force``; see :mod:`emseq.io.atomic`).
    force : bool, default=False
        Replace a non-empty folder once the new one is complete.
    png : bool, default=False
        Also draw ``logo_<id>.png`` and ``summary.png`` with matplotlib (about 1 CPU s
        more on a small set); the SVG logos and ``summary.html`` are always written.
    """
    with atomic_output_dir(directory, force=force) as stage:
        revcomp = bool(result.params.get("revcomp", True))
        with atomic_write(stage / "motifs.meme") as handle:
            handle.write(meme_text(result.motifs, result.background.freqs, revcomp))
        with atomic_write(stage / "motifs.jaspar") as handle:
            handle.write(jaspar_text(result.motifs))
        write_tsv(result.motifs.table.drop(columns=["log10_e_value"]), stage / "motifs.tsv")
        write_tsv(result.sites, stage / "sites.tsv", float_format=None)
        write_tsv(result.convergence, stage / "convergence.tsv")
        logo_files = {}
        for m in result.motifs:
            logo_files[m.id] = f"logo_{m.id}.svg"
            with atomic_write(stage / logo_files[m.id]) as handle:
                handle.write(two_strand_logo_svg(
                    m.pwm, title=f"motif {m.id} {m.consensus}  E = {m.e_value_text}"))
        extra = []
        if png:
            for m in result.motifs:
                draw_logo(m, stage / f"logo_{m.id}.png")
                extra.append(f"logo_{m.id}.png")
            _summary_png(result, stage / "summary.png")
            extra.append("summary.png")
        with atomic_write(stage / "summary.html") as handle:
            handle.write(summary_html(result, logo_files, extra))
