"""``summary.html`` of a motif run: one self-contained page (inline CSS and SVG, no script).

The page lists the significant motifs first, then the others, marked and greyed: a motif is
significant when its E-value is at most ``--evt`` when one was given, else
:data:`SIGNIFICANT_E`. Each motif has its E-value, its logos on both strands
(:mod:`emseq.motif.logo`), its database match when a comparison set one (``motif.match``:
``target_id, target_name, q_value, offset, orientation``), and a table of its sites (sequence,
position, strand, p-value, the site with :data:`FLANK` letters either side). The page links
the other files of the output folder.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from .logo import glyph_defs, logo_svg, reverse_complement

if TYPE_CHECKING:  # pragma: no cover
    from .alphabet import EncodedSequences
    from .result import Motif, MotifResult

__all__ = ["SIGNIFICANT_E", "FLANK", "MAX_SITE_ROWS", "significance_threshold",
           "is_significant", "summary_html"]

#: the E-value at or below which a motif counts as significant when no --evt was given
SIGNIFICANT_E = 0.05
#: letters of context shown either side of a site
FLANK = 10
#: at most this many sites (lowest p-values first) are listed per motif; all are in sites.tsv
MAX_SITE_ROWS = 1000

#: the data files of every run, with what reads them
DATA_FILES = (("motifs.meme", "MEME minimal format: FIMO, Tomtom, SEA, CentriMo"),
              ("motifs.jaspar", "JASPAR counts"),
              ("motifs.tsv", "one row per motif"),
              ("sites.tsv", "every site"),
              ("convergence.tsv", "every EM run"))

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:80em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin:1.6em 0 .4em}
table{border-collapse:collapse;margin:.4em 0}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.site{font-family:ui-monospace,Menlo,Consolas,monospace}
.site .flank{color:#888;text-transform:lowercase}.site .core{font-weight:bold}
.evalue{font-weight:bold}.insignificant{opacity:.55}
.flag{display:inline-block;font-size:.8em;padding:1px 6px;border-radius:3px;white-space:nowrap;
background:#eee;color:#555;font-weight:normal}.significant .flag{background:#dff0d8;color:#2b542c}
.logos{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0}
figcaption{font-size:.85em;color:#555}section.motif{border-top:2px solid #ccc;margin-top:1.5em}
nav ul{margin:.3em 0;padding-left:1.2em}nav a{margin-right:.6em}
.note{color:#666;font-size:.9em}
"""


def significance_threshold(params: dict) -> float:
    """The E-value threshold of a run: its ``evt`` when finite, else :data:`SIGNIFICANT_E`."""
    evt = float(params.get("evt", math.inf) or math.inf)
    return evt if math.isfinite(evt) else SIGNIFICANT_E


def is_significant(motif: "Motif", threshold: float) -> bool:
    """Whether ``motif``'s E-value is at most ``threshold`` (compared in log10: E-values far
    below the float range are still ordered)."""
    return motif.log10_e_value <= math.log10(threshold)


def _sequence_index(sequences: "EncodedSequences | None") -> dict[str, int]:
    """Sequence name -> index, for the names that occur once (flanks of a duplicated name
    would be ambiguous and are left out)."""
    if sequences is None:
        return {}
    index: dict[str, int] = {}
    seen: set[str] = set()
    for i, name in enumerate(sequences.names):
        if name in seen:
            index.pop(name, None)
        else:
            index[name] = i
            seen.add(name)
    return index


_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def _text(codes: np.ndarray, reverse: bool) -> str:
    codes = np.minimum(codes, 4)
    if reverse:
        codes = _COMPLEMENT[codes[::-1]]
    return _LETTERS[codes].tobytes().decode("ascii")


def site_flanks(sequences: "EncodedSequences", index: int, start: int, end: int,
                strand: str, flank: int = FLANK) -> tuple[str, str]:
    """The ``flank`` letters before and after a site, in the site's (motif) orientation.

    Parameters
    ----------
    sequences : EncodedSequences
        The searched sequences.
    index : int
        The site's sequence.
    start, end : int
        1-based inclusive coordinates of the site on the given strand.
    strand : {"+", "-"}
        The strand the site is on.
    flank : int, default=FLANK
        Letters wanted either side (fewer at a sequence end).

    Returns
    -------
    (str, str)
        Left and right flank as read along the motif; unknown letters are ``N``.
    """
    seq = sequences.codes[sequences.offsets[index]:sequences.offsets[index + 1]]
    before = seq[max(0, start - 1 - flank):start - 1]
    after = seq[end:end + flank]
    if strand == "-":
        return _text(after, reverse=True), _text(before, reverse=True)
    return _text(before, reverse=False), _text(after, reverse=False)


def _match_html(match: Any) -> str:
    """A database match (``target_id, target_name, q_value, offset, orientation``)."""
    target_id = escape(str(getattr(match, "target_id", "")))
    name = getattr(match, "target_name", None)
    label = f"<b>{target_id}</b>" + (f" {escape(str(name))}" if name else "")
    details = []
    q = getattr(match, "q_value", None)
    if q is not None:
        details.append(f"q = {float(q):.2g}")
    offset = getattr(match, "offset", None)
    if offset is not None:
        details.append(f"offset {escape(str(offset))}")
    orientation = getattr(match, "orientation", None)
    if orientation is not None:
        details.append(f"strand {escape(str(orientation))}")
    return (f"<span class='match' data-target='{target_id}'>{label}"
            + (f" ({', '.join(details)})" if details else "") + "</span>")


def _flag(significant: bool, threshold: float) -> str:
    if significant:
        return f'<span class="flag">significant (E &le; {threshold:g})</span>'
    return f'<span class="flag">not significant (E &gt; {threshold:g})</span>'


def _sites_table(motif: "Motif", significant: bool, sequences: "EncodedSequences | None",
                 index: dict[str, int]) -> str:
    sites = motif.sites
    n = len(sites)
    if n == 0:
        return '<p class="note">no sites</p>'
    order = np.argsort(sites["p_value"].to_numpy(), kind="stable")[:MAX_SITE_ROWS]
    names = sites["sequence"].to_numpy()
    starts = sites["start"].to_numpy()
    ends = sites["end"].to_numpy()
    strands = sites["strand"].to_numpy()
    pvalues = sites["p_value"].to_numpy()
    letters = sites["site"].to_numpy()
    rows = []
    for i in order:
        name = str(names[i])
        left = right = ""
        if sequences is not None and name in index:
            left, right = site_flanks(sequences, index[name], int(starts[i]), int(ends[i]),
                                      str(strands[i]))
        rows.append(f"<tr><td>{escape(name)}</td><td class='num'>{int(starts[i])}</td>"
                    f"<td>{strands[i]}</td><td class='num'>{float(pvalues[i]):.2e}</td>"
                    f"<td class='site'><span class='flank'>{left}</span>"
                    f"<span class='core'>{escape(str(letters[i]))}</span>"
                    f"<span class='flank'>{right}</span></td></tr>")
    shown = ("" if n <= MAX_SITE_ROWS else
             f"; the {MAX_SITE_ROWS} with the lowest p-values are listed, all in sites.tsv")
    # open for a significant motif with a short list
    opened = " open" if significant and n <= 100 else ""
    return (f"<details{opened}><summary>{n} sites, lowest p-value first"
            f"{shown}</summary>"
            f"<table class='sites' data-motif='{escape(motif.id)}'><thead><tr><th>sequence</th>"
            "<th>start</th><th>strand</th><th>p-value</th>"
            f"<th>site (&plusmn;{FLANK} letters)</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></details>")


def _motif_section(motif: "Motif", significant: bool, threshold: float,
                   sequences: "EncodedSequences | None", index: dict[str, int],
                   files: dict[str, str]) -> str:
    mid = escape(motif.id)
    cls = "significant" if significant else "insignificant"
    match = getattr(motif, "match", None)
    title = f"motif {motif.id} {motif.consensus} E = {motif.e_value_text}"
    forward = logo_svg(motif.pwm, title=title, strand="+")
    reverse = logo_svg(reverse_complement(motif.pwm), title=f"{title}, reverse complement",
                       strand="-")
    links = " ".join(f"<a href='{escape(path)}'>{escape(path)}</a>"
                     for key, path in files.items() if key == motif.id)
    facts = (f"width {motif.width}, {motif.nsites} sites, llr {motif.llr:.1f} bits, "
             f"model {escape(str(motif.model))}")
    return (f"<section class='motif {cls}' id='motif-{mid}' data-motif='{mid}' "
            f"data-e-value='{motif.e_value_text}' data-sites='{motif.nsites}' "
            f"data-significant='{str(significant).lower()}'>"
            f"<h2>Motif {mid} <code>{escape(motif.consensus)}</code> "
            f"<span class='evalue'>E = {motif.e_value_text}</span> "
            f"{_flag(significant, threshold)}</h2>"
            f"<p>{facts}"
            + (f"; best match {_match_html(match)}" if match is not None else "")
            + (f"; logo file {links}" if links else "") + "</p>"
            f"<div class='logos'><figure>{forward}<figcaption>given strand</figcaption></figure>"
            f"<figure>{reverse}<figcaption>reverse complement</figcaption></figure></div>"
            + _sites_table(motif, significant, sequences, index) + "</section>")


def _overview(ordered: list[tuple["Motif", bool]], threshold: float) -> str:
    with_match = any(getattr(m, "match", None) is not None for m, _ in ordered)
    head = ("<tr><th>motif</th><th>logo</th><th>consensus</th><th>E-value</th><th>sites</th>"
            "<th>width</th><th>llr (bits)</th>" + ("<th>best match</th>" if with_match else "")
            + "</tr>")
    rows = []
    for m, significant in ordered:
        mid = escape(m.id)
        small = logo_svg(m.pwm, column_width=10.0, bit_height=16.0,
                         title=f"motif {m.id} {m.consensus}")
        match = getattr(m, "match", None)
        match_cell = ""
        if with_match:
            match_cell = f"<td>{_match_html(match) if match is not None else ''}</td>"
        rows.append(f"<tr class='{'significant' if significant else 'insignificant'}' "
                    f"data-motif='{mid}'><td><a href='#motif-{mid}'>{mid}</a></td>"
                    f"<td>{small}</td><td><code>{escape(m.consensus)}</code></td>"
                    f"<td class='num evalue'>{m.e_value_text} {_flag(significant, threshold)}"
                    f"</td><td class='num'>{m.nsites}</td><td class='num'>{m.width}</td>"
                    f"<td class='num'>{m.llr:.1f}</td>{match_cell}</tr>")
    return ("<table class='overview'><thead>" + head + "</thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _file_links(extra: Iterable[str]) -> str:
    links = [f"<li><a href='{name}'>{name}</a> <span class='note'>{escape(what)}</span></li>"
             for name, what in DATA_FILES]
    extra = list(extra)
    if extra:
        links.append("<li>" + " ".join(f"<a href='{escape(name)}'>{escape(name)}</a>"
                                       for name in extra) + "</li>")
    return "<nav class='files'><ul>" + "".join(links) + "</ul></nav>"


def summary_html(result: "MotifResult", logo_files: dict[str, str] | None = None,
                 extra_files: Iterable[str] = ()) -> str:
    """The text of ``summary.html`` for a motif run.

    Parameters
    ----------
    result : MotifResult
        The run; its ``sequences`` (when kept) give the sites' flanks.
    logo_files : dict of str to str, optional
        Motif id -> the logo file written for it (linked from its section).
    extra_files : iterable of str, default=()
        Further files of the output folder to link (e.g. the PNG logos).

    Returns
    -------
    str
        A complete HTML document with no external resource.
    """
    threshold = significance_threshold(result.params)
    marked = [(m, is_significant(m, threshold)) for m in result.motifs]
    # significant motifs first, each group in the order found
    ordered = [x for x in marked if x[1]] + [x for x in marked if not x[1]]
    n_significant = sum(s for _, s in marked)
    sequences = getattr(result, "sequences", None)
    index = _sequence_index(sequences)
    files = dict(logo_files or {})
    params = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                     for k, v in result.params.items())
    if ordered:
        body = (_overview(ordered, threshold)
                + "".join(_motif_section(m, s, threshold, sequences, index, files)
                          for m, s in ordered))
    else:
        body = "<p class='note'>No motif was found.</p>"
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>emseq motif: {len(ordered)} motif(s)</title><style>{STYLE}</style>"
            "</head><body><svg width='0' height='0' style='position:absolute' "
            f"aria-hidden='true'>{glyph_defs()}</svg><h1>emseq motif</h1>"
            f"<p class='run'>{result.n_sequences} sequences; {len(ordered)} motif(s), "
            f"{n_significant} significant (E &le; {threshold:g}); significant motifs are "
            "listed first.</p>"
            + _file_links(list(files.values()) + list(extra_files)) + body
            + "<h2>Parameters</h2><table class='params'>" + params + "</table>"
            "</body></html>\n")
