"""summary.html and the SVG logos of `emseq motif`, checked against a fitted planted set.

The page is parsed with html.parser and compared with motifs.tsv, sites.tsv, motifs.meme and
the FASTA itself; headless chromium (when installed: Debian's ``chromium``) renders it.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from emseq.cli import main
from emseq.motif import discover, encode
from emseq.motif.logo import LEFT, MIN_LETTER_BITS, information_content, reverse_complement
from emseq.motif.simulate import plant, read_meme
from emseq.motif.summary import FLANK, SIGNIFICANT_E, site_flanks, summary_html

DATA = Path(__file__).resolve().parents[2] / "data" / "motif"
#: a sequence name that must be escaped in HTML
ODD_NAME = "seq<1>&x"
BIT_HEIGHT = 50.0  # logo_svg's default pixels per bit


class Page(HTMLParser):
    """What the tests read from summary.html: motif sections, their logos (letters with
    their transforms), sites tables, links, and the overview rows, in document order."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: list[dict] = []
        self.overview: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self._stack: list[tuple[str, dict]] = []
        self._cell: list[str] | None = None
        self._row: list[list[str]] | None = None
        self.feed(text)

    def _inside(self, tag: str, cls: str | None = None) -> bool:
        return any(name == tag and (cls is None or cls in (attrs.get("class") or "").split())
                   for name, attrs in self._stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag not in ("use", "path", "line", "meta", "br", "img", "link"):
            self._stack.append((tag, attrs))
        classes = (attrs.get("class") or "").split()
        if tag == "section" and "motif" in classes:
            self.sections.append({**attrs, "logos": [], "sites": [], "h2": ""})
        elif tag == "svg" and "logo" in classes and self.sections and self._inside("section"):
            self.sections[-1]["logos"].append({"strand": attrs["data-strand"],
                                               "width": int(attrs["data-width"]),
                                               "letters": []})
        elif tag == "use" and self.sections and self._inside("svg", "logo") \
                and self._inside("section"):
            self.sections[-1]["logos"][-1]["letters"].append((attrs["href"],
                                                              attrs["transform"]))
        elif tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        elif tag == "tr" and self._inside("table", "sites"):
            self._row = []
        elif tag == "tr" and self._inside("table", "overview") and "data-motif" in attrs:
            self.overview.append(attrs["data-motif"])
        elif tag == "td" and self._row is not None:
            self._cell = []
            self._row.append(self._cell)
        elif tag == "span" and self._cell is not None:
            self._cell.append(f"<{attrs.get('class')}>")

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            if self._row:
                self.sections[-1]["sites"].append(["".join(c) for c in self._row])
            self._row = None
        if tag == "td":
            self._cell = None
        if any(name == tag for name, _ in self._stack):  # not for <use/>, <path/> ...
            while self._stack[-1][0] != tag:
                self._stack.pop()
            self._stack.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._inside("h2") and self._inside("section"):
            self.sections[-1]["h2"] += data


def _column_bits(letters: list[tuple[str, str]]) -> dict[float, float]:
    """Bits per column of a logo: letter heights (scale y x 100 px / bit height) summed by
    the column's x position."""
    bits: dict[float, float] = defaultdict(float)
    for _, transform in letters:
        x, _y, _sx, sy = map(float, re.findall(r"[-\d.]+", transform))
        bits[round(x, 1)] += sy * 100.0 / BIT_HEIGHT
    return bits


def _revcomp(text: str) -> str:
    return text.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A seeded 20 x 200 bp set, CTCF (MA0139.2) in 70 % of the sequences, one name that
    needs escaping."""
    pwm = read_meme(DATA / "jaspar2026_core_vert10.meme")["MA0139.2"]
    planted = plant(np.random.default_rng(1), pwm, 20, 200, model="zoops", zoops_fraction=0.7)
    planted.names[0] = ODD_NAME
    planted.sites["sequence"] = planted.sites["sequence"].replace("seq1", ODD_NAME)
    fasta = tmp_path_factory.mktemp("planted") / "set.fa"
    planted.write_fasta(fasta)
    return planted, fasta


@pytest.fixture(scope="module")
def run(planted, tmp_path_factory):
    """`emseq motif` on the planted set, two motifs (the second is chance)."""
    _, fasta = planted
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(["motif", str(fasta), "-o", str(out), "--nmotifs", "2", "-p", "1", "-q"]) == 0
    return out, Page((out / "summary.html").read_text())


def test_every_motif_with_its_e_value_and_sites(run, planted):
    out, page = run
    motifs = pd.read_csv(out / "motifs.tsv", sep="\t", dtype={"motif": str, "e_value": str})
    sites = pd.read_csv(out / "sites.tsv", sep="\t", dtype={"motif": str})
    by_id = {s["data-motif"]: s for s in page.sections}
    assert sorted(by_id) == sorted(motifs["motif"]) and len(page.sections) == len(motifs)
    assert sorted(page.overview) == sorted(motifs["motif"])
    seqs = dict(zip(planted[0].names, planted[0].sequences))
    for row in motifs.itertuples(index=False):
        section = by_id[row.motif]
        assert section["data-e-value"] == row.e_value and f"E = {row.e_value}" in section["h2"]
        assert int(section["data-sites"]) == row.sites
        table = section["sites"]
        assert len(table) == row.sites == int((sites["motif"] == row.motif).sum())
        expected = sites[sites["motif"] == row.motif]
        listed = {(name, int(start), strand): cell for name, start, strand, _p, cell in table}
        assert len(listed) == row.sites
        for site in expected.itertuples(index=False):
            cell = listed[(site.sequence, site.start, site.strand)]
            left, core, right = re.fullmatch(r"<flank>(.*)<core>(.*)<flank>(.*)", cell).groups()
            assert core == site.site
            # flanks read from the FASTA, in the motif's orientation
            seq = seqs[site.sequence]
            before = seq[max(0, site.start - 1 - FLANK):site.start - 1]
            after = seq[site.end:site.end + FLANK]
            if site.strand == "-":
                before, after = _revcomp(after), _revcomp(before)
            assert (left, right) == (before, after)
            on_fasta = seq[site.start - 1:site.end]
            assert (_revcomp(on_fasta) if site.strand == "-" else on_fasta) == core
        # p-values listed lowest first
        pvalues = [float(p) for _n, _s, _st, p, _c in table]
        assert pvalues == sorted(pvalues)


def test_planted_motif_significant_and_chance_motif_marked_last(run):
    out, page = run
    motifs = pd.read_csv(out / "motifs.tsv", sep="\t", dtype={"motif": str, "e_value": str})
    flags = [s["data-significant"] == "true" for s in page.sections]
    expected = {m: float(e) <= SIGNIFICANT_E for m, e in zip(motifs["motif"], motifs["e_value"])}
    assert flags == [expected[s["data-motif"]] for s in page.sections]
    assert flags == sorted(flags, reverse=True)  # significant first
    assert page.sections[0]["data-motif"] == "1" and flags[0]  # the planted CTCF
    for section in page.sections:
        word = "not significant" if section["data-significant"] == "false" else "significant"
        assert word in section["h2"]
        assert ("insignificant" in section["class"]) == (section["data-significant"] == "false")


def test_logos_on_both_strands_have_the_information_content(run):
    out, page = run
    pwms = read_meme(out / "motifs.meme")
    for section in page.sections:
        pwm = pwms[section["data-motif"]]
        logos = section["logos"]
        assert [logo["strand"] for logo in logos] == ["+", "-"]
        for logo, strand_pwm in zip(logos, (pwm, reverse_complement(pwm))):
            assert logo["width"] == len(pwm)
            assert {href for href, _ in logo["letters"]} <= {
                f"#emseq-logo-{c}" for c in "ACGT"}
            bits = _column_bits(logo["letters"])
            columns = [round(LEFT + (k + 0.05) * 22.0, 1) for k in range(len(pwm))]
            assert set(bits) <= set(columns)
            # letters below MIN_LETTER_BITS are not drawn: at most 4 per column missing
            np.testing.assert_allclose([bits.get(x, 0.0) for x in columns],
                                       information_content(strand_pwm),
                                       atol=4 * MIN_LETTER_BITS + 1e-3)
    # the top letter of each column is its most likely one
    first = page.sections[0]["logos"][0]
    top = {}
    for href, transform in first["letters"]:
        x, y, _sx, _sy = map(float, re.findall(r"[-\d.]+", transform))
        if round(x, 1) not in top or y < top[round(x, 1)][0]:
            top[round(x, 1)] = (y, href[-1])
    pwm = pwms[page.sections[0]["data-motif"]]
    assert [top[x][1] for x in sorted(top)] == ["ACGT"[i] for i in pwm.argmax(axis=1)]


def test_logo_files_links_and_self_contained(run):
    out, page = run
    text = (out / "summary.html").read_text()
    for motif_id in (s["data-motif"] for s in page.sections):
        svg = (out / f"logo_{motif_id}.svg").read_text()
        assert svg.startswith("<?xml") and 'xmlns="http://www.w3.org/2000/svg"' in svg
        assert svg.count('class="logo"') == 2 and 'id="emseq-logo-A"' in svg
        assert f"logo_{motif_id}.svg" in page.links
    for name in ("motifs.meme", "motifs.jaspar", "motifs.tsv", "sites.tsv",
                 "convergence.tsv"):
        assert name in page.links
    for href in page.links:
        if not href.startswith("#"):
            assert (out / href).is_file(), href
    # no script, stylesheet, image or font fetched from anywhere
    assert not {"script", "link", "img", "iframe"} & set(page.tags)
    assert "http://" not in text and "https://" not in text
    # the odd name is escaped, and found again by the parser
    assert ODD_NAME not in text and "seq&lt;1&gt;&amp;x" in text
    assert not list(out.glob("*.png"))


def test_sorting_and_match_column_from_the_api(planted):
    """An insignificant motif found first is listed last; a database match (a stand-in of
    the comparison's object) is shown in the overview and in the motif's section."""
    _, fasta = planted
    result = discover(fasta, nmotifs=2, n_threads=1, progress_bar=False)
    first, second = result.motifs
    result.motifs[0] = dataclasses.replace(first, log10_e_value=5.2)   # E = 1.6e5
    result.motifs[1] = dataclasses.replace(second, log10_e_value=-40.0)
    result.motifs[1].match = SimpleNamespace(target_id="MA0139.2", target_name="CTCF",
                                             q_value=3.1e-6, offset=-2, orientation="-")
    page = Page(summary_html(result, {"1": "logo_1.svg", "2": "logo_2.svg"}))
    assert [s["data-motif"] for s in page.sections] == ["2", "1"]
    assert page.overview == ["2", "1"]
    assert [s["data-significant"] for s in page.sections] == ["true", "false"]
    text = summary_html(result)
    assert "<th>best match</th>" in text
    assert text.count("data-target='MA0139.2'") == 2  # overview and section
    assert "CTCF" in text and "q = 3.1e-06" in text and "offset -2" in text
    # with an --evt, it is the threshold
    result.params["evt"] = 1e6
    page = Page(summary_html(result))
    assert [s["data-significant"] for s in page.sections] == ["true", "true"]
    assert page.sections[0]["data-motif"] == "1"
    # without a match anywhere there is no match column
    result.motifs[1].match = None
    assert "best match" not in summary_html(result)


def test_no_motif_page(planted):
    _, fasta = planted
    result = discover(fasta, nmotifs=1, n_threads=1, progress_bar=False)
    del result.motifs[:]
    page = Page(summary_html(result))
    assert page.sections == [] and "No motif was found" in summary_html(result)


def test_site_flanks_at_sequence_ends():
    data = encode(["ACGTACGTAA", "CCCCGGGGTT"], ["a", "b"])
    # + strand, site 3..5 (GTA): 2 letters before, 5 after
    assert site_flanks(data, 0, 3, 5, "+", flank=4) == ("AC", "CGTA")
    # - strand, site 1..3 of b (CCC read as GGG): before = revcomp of what follows
    assert site_flanks(data, 1, 1, 3, "-", flank=3) == ("CCG", "")
    assert site_flanks(data, 1, 8, 10, "-", flank=10) == ("", "CCCGGGG")


def test_png_behind_an_option(planted, tmp_path):
    _, fasta = planted
    out = tmp_path / "png"
    assert main(["motif", str(fasta), "-o", str(out), "--nmotifs", "1", "--png", "-p", "1",
                 "-q"]) == 0
    assert (out / "logo_1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "summary.png").is_file()
    page = Page((out / "summary.html").read_text())
    assert {"logo_1.png", "summary.png", "logo_1.svg"} <= set(page.links)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None,
                    reason="headless rendering needs chromium (Debian: apt-get install chromium)")
def test_chromium_renders_the_page(run, tmp_path):
    from PIL import Image

    out, page = run
    url = (out / "summary.html").resolve().as_uri()
    common = [_chromium(), "--headless", "--disable-gpu", "--no-sandbox",
              f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars"]
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    n = len(page.sections)
    # the browser built every logo: overview + two strands per motif, letters as <use>
    assert dom.stdout.count('class="logo"') == 3 * n
    assert dom.stdout.count("<use ") == (out / "summary.html").read_text().count("<use ") > 0
    shot = tmp_path / "page.png"
    done = subprocess.run(common + [f"--screenshot={shot}", "--window-size=1100,1400", url],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (1400, 1100)
    assert (pixels.sum(axis=2) < 600).mean() > 0.01  # not blank
    # every letter colour of the logos is on screen
    for colour in ("#109648", "#255C99", "#F7B32B", "#D62839"):
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).sum(axis=2) < 30).sum() > 50, colour


def test_long_site_lists_are_cut_to_the_best(planted, monkeypatch):
    import emseq.motif.summary as summary

    _, fasta = planted
    result = discover(fasta, nmotifs=1, n_threads=1, progress_bar=False)
    monkeypatch.setattr(summary, "MAX_SITE_ROWS", 5)
    page = Page(summary_html(result))
    listed = page.sections[0]["sites"]
    best = result.motifs[0].sites.nsmallest(5, "p_value", keep="first")
    assert len(listed) == 5 < result.motifs[0].nsites
    assert [(n, int(s)) for n, s, *_ in listed] == list(zip(best["sequence"], best["start"]))
    assert "the 5 with the lowest p-values are listed, all in sites.tsv" in summary_html(result)
