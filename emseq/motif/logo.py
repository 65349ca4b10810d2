"""Sequence logos of a PWM as SVG text: information-content heights, letters as paths.

A column's height is its information content ``2 + sum_a p_a log2 p_a`` bits (order-0
uniform background, as MEME's logos); each letter's share of it is its probability, the most
likely letter on top. Letters are outlines drawn in a 100 x 100 box and scaled per column, so
the logo needs no font, no matplotlib and no browser-specific text metrics, and renders the
same inline in ``summary.html`` or alone as ``logo_<id>.svg``.
"""

from __future__ import annotations

import html

import numpy as np

from .alphabet import LETTERS

__all__ = ["COLORS", "information_content", "reverse_complement", "logo_size", "glyph_defs",
           "logo_svg", "two_strand_logo_svg"]

#: letter colours (the usual A green, C blue, G orange, T red)
COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}

#: letter outlines in a 100 x 100 box (y down), filled with the even-odd rule (A's counter
#: is a hole); drawn once in :func:`glyph_defs` and placed per column with ``<use>``
GLYPHS = {
    "A": "M0 100L38 0H62L100 100H77L69 78H31L23 100ZM37 60H63L50 24Z",
    "C": "M88.30 17.86A50 50 0 1 0 88.30 82.14L71.45 69.28A28 30 0 1 1 71.45 30.72Z",
    "G": "M88.30 17.86A50 50 0 1 0 99.81 54.36L100 48H54V64H74.77A28 30 0 1 1 71.45 30.72Z",
    "T": "M0 0H100V20H61V100H39V20H0Z",
}
#: element id of a letter's outline (``#emseq-logo-A`` ...)
GLYPH_ID = "emseq-logo-{}"

#: a letter this many bits high or less is not drawn (invisible at any size)
MIN_LETTER_BITS = 1e-3
#: margins of a logo in pixels: left of the plot (the bits axis), above and below it (the
#: position numbers)
LEFT, TOP, BOTTOM, RIGHT = 34.0, 8.0, 18.0, 6.0
#: narrowest column (pixels) whose position number is written below it
NUMBERED_WIDTH = 14.0


def information_content(pwm: np.ndarray) -> np.ndarray:
    """Bits per column of a PWM against the uniform background.

    Parameters
    ----------
    pwm : array-like of shape (width, 4)
        Letter probabilities (A, C, G, T) per column; rows are normalised here.

    Returns
    -------
    ndarray of shape (width,)
        ``2 + sum_a p_a log2 p_a``, between 0 and 2.
    """
    p = np.asarray(pwm, dtype=np.float64)
    p = np.clip(p / p.sum(axis=1, keepdims=True), 1e-12, 1.0)
    return np.clip(2.0 + (p * np.log2(p)).sum(axis=1), 0.0, 2.0)


def reverse_complement(pwm: np.ndarray) -> np.ndarray:
    """The PWM of the other strand: columns reversed, A<->T and C<->G swapped."""
    return np.asarray(pwm)[::-1, ::-1]


def logo_size(width: int, column_width: float = 22.0,
              bit_height: float = 50.0) -> tuple[float, float]:
    """Width and height in pixels of the logo of a motif ``width`` columns wide."""
    return LEFT + width * column_width + RIGHT, TOP + 2.0 * bit_height + BOTTOM


def glyph_defs() -> str:
    """The ``<defs>`` of the letter outlines that logos refer to (once per document)."""
    return ("<defs>" + "".join(f'<path id="{GLYPH_ID.format(letter)}" d="{d}" '
                               f'fill="{COLORS[letter]}" fill-rule="evenodd"/>'
                               for letter, d in GLYPHS.items()) + "</defs>")


def _letters(pwm: np.ndarray, column_width: float, bit_height: float, left: float,
             baseline: float) -> list[str]:
    """One ``<use>`` per visible letter: column ``k``'s letters stacked from the least
    likely at the bottom, each ``p * bits`` high."""
    p = np.asarray(pwm, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    bits = information_content(p)
    sx = 0.9 * column_width / 100.0
    out = []
    for k, row in enumerate(p):
        y = baseline
        x = left + (k + 0.05) * column_width
        for a in np.argsort(row, kind="stable"):
            height = row[a] * bits[k]
            if height <= MIN_LETTER_BITS:
                continue
            y -= height * bit_height
            out.append(f'<use href="#{GLYPH_ID.format(LETTERS[a])}" '
                       f'transform="translate({x:.2f} {y:.2f}) '
                       f'scale({sx:.4f} {height * bit_height / 100.0:.4f})"/>')
    return out


def logo_svg(pwm: np.ndarray, *, title: str | None = None, strand: str = "+",
             column_width: float = 22.0, bit_height: float = 50.0,
             standalone: bool = False) -> str:
    """An information-content logo of one strand of a PWM.

    Parameters
    ----------
    pwm : array-like of shape (width, 4)
        Letter probabilities (A, C, G, T) per column.
    title : str, optional
        Tooltip and accessible name of the picture (an SVG ``<title>``).
    strand : {"+", "-"}, default="+"
        Which strand the PWM is drawn for (recorded as ``data-strand``; pass the reverse
        complement PWM yourself, see :func:`reverse_complement`).
    column_width : float, default=22.0
        Pixels per motif column.
    bit_height : float, default=50.0
        Pixels per bit (the y axis runs from 0 to 2 bits).
    standalone : bool, default=False
        A complete ``.svg`` file: the XML namespace and the letter outlines
        (:func:`glyph_defs`) included. Otherwise the letters refer to outlines that the
        enclosing document holds once.

    Returns
    -------
    str
        An ``<svg class="logo">`` element. Columns are numbered from 1 below the axis when
        ``column_width`` leaves room (at least :data:`NUMBERED_WIDTH` pixels).
    """
    width = len(pwm)
    left, top = LEFT, TOP
    plot_h = 2.0 * bit_height
    baseline = top + plot_h
    total_w, total_h = logo_size(width, column_width, bit_height)
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    parts = [f'<svg{ns} class="logo" data-strand="{html.escape(strand)}" '
             f'data-width="{width}" width="{total_w:.0f}" height="{total_h:.0f}" '
             f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" role="img">']
    if title:
        parts.append(f"<title>{html.escape(title)}</title>")
    if standalone:
        parts.append(glyph_defs())
    # y axis: 0, 1, 2 bits
    axis = [f'<line x1="{left - 2:.1f}" y1="{top:.1f}" x2="{left - 2:.1f}" y2="{baseline:.1f}" '
            'stroke="#444" stroke-width="1"/>']
    for bits in (0, 1, 2):
        y = baseline - bits * bit_height
        axis.append(f'<line x1="{left - 6:.1f}" y1="{y:.1f}" x2="{left - 2:.1f}" y2="{y:.1f}" '
                    'stroke="#444" stroke-width="1"/>')
        axis.append(f'<text x="{left - 8:.1f}" y="{y + 3.5:.1f}" text-anchor="end" '
                    f'font-size="10">{bits}</text>')
    axis.append(f'<text transform="translate(9 {top + plot_h / 2:.1f}) rotate(-90)" '
                'text-anchor="middle" font-size="10">bits</text>')
    axis.append(f'<line x1="{left - 2:.1f}" y1="{baseline:.1f}" '
                f'x2="{left + width * column_width:.1f}" y2="{baseline:.1f}" stroke="#444" '
                'stroke-width="1"/>')
    for k in range(width if column_width >= NUMBERED_WIDTH else 0):
        x = left + (k + 0.5) * column_width
        axis.append(f'<text x="{x:.1f}" y="{baseline + 12:.1f}" text-anchor="middle" '
                    f'font-size="9">{k + 1}</text>')
    parts.append('<g class="axes" font-family="sans-serif" fill="#444">' + "".join(axis)
                 + "</g>")
    parts.append('<g class="letters">' + "".join(_letters(pwm, column_width, bit_height,
                                                           left, baseline)) + "</g>")
    parts.append("</svg>")
    return "".join(parts)


def two_strand_logo_svg(pwm: np.ndarray, *, title: str = "") -> str:
    """A standalone SVG file: the logo of ``pwm`` above that of its reverse complement.

    Parameters
    ----------
    pwm : array-like of shape (width, 4)
        Letter probabilities (A, C, G, T) per column.
    title : str, default=""
        Heading written above the forward logo (e.g. the motif id, consensus and E-value).

    Returns
    -------
    str
        The text of ``logo_<id>.svg``.
    """
    forward = logo_svg(pwm, strand="+")
    reverse = logo_svg(reverse_complement(pwm), strand="-")
    width, logo_h = logo_size(len(pwm))
    head = 18.0
    total_h = 2 * (head + logo_h)
    label = html.escape(title)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(width, 240.0):.0f}" '
            f'height="{total_h:.0f}" font-family="sans-serif">'
            f'<title>{label}</title>{glyph_defs()}'
            f'<text x="4" y="13" font-size="12">{label}</text>'
            f'<g transform="translate(0 {head:.0f})">{forward}</g>'
            f'<text x="4" y="{head + logo_h + 13:.0f}" font-size="12">reverse complement'
            '</text>'
            f'<g transform="translate(0 {2 * head + logo_h:.0f})">{reverse}</g>'
            "</svg>\n")
