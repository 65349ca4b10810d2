"""``emseq motif compare`` and ``emseq motif scan`` beside their peers, in one run.

Peers (each run in its own subprocess, one thread, so its CPU time is its own):

- Tomtom: ``memelite`` 0.5.0 (numba; Euclidean column distance only, no q-values) on JASPAR
  2026 CORE vertebrates against itself (1019 x 1019 motifs, both strands). emseq runs with
  the same distance (``--dist ed``) and with its default, Pearson (which memelite lacks).
  memelite's first call compiles its kernels (numba): its CPU is given cold (first call, in a
  fresh process, with the numba on-disk cache cleared) and warm (second call).
- FIMO: ``pymemesuite`` (MEME's own FIMO C code) and ``memelite.fimo`` on ~1 Mbp (1000
  sequences of 1000 bp, i.i.d. uniform letters, with sites of the 10 test motifs planted at
  ~5 % of the sequences each), scanning 50 JASPAR motifs (the 10 test motifs and 40 more, the
  same for every tool), uniform background, both strands, p < 1e-4.

Agreement:

- Tomtom: per query, Spearman's correlation of the p-values of all 1019 targets (median over
  queries), and the fraction of queries whose best match other than itself is the same target;
  offsets/orientations of those top matches.
- FIMO: hits in common at p < 1e-4 (same motif, sequence, start, strand) as a fraction of the
  reference's (pymemesuite, MEME's code) and of the tool's own, and Spearman's correlation of
  the p-values of the hits in common.

Usage: ``python benchmarks/bench_motif_tools.py [--quick]``; results in
``benchmarks/results/motif_tools.tsv`` and ``motif_tools.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
JASPAR = ROOT / "data" / "motif" / "JASPAR_CORE_vertebrates_nonredundant.meme"
TEN = ROOT / "data" / "motif" / "jaspar2026_core_vert10.meme"
RESULTS = ROOT / "benchmarks" / "results"
THRESH = 1e-4


# ----------------------------------------------------------------------------- workers
def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker_tomtom(tool: str, out: Path) -> dict:
    from emseq.motif.meme import read_meme_file

    db = read_meme_file(JASPAR)
    if tool.startswith("emseq"):
        from emseq.motif.compare import compare_motifs

        dist = tool.split("-")[1]
        start = _cpu()
        table = compare_motifs(db, db, dist=dist, thresh=None, n_threads=1)
        cpu = _cpu() - start
        table[["Query_ID", "Target_ID", "p-value", "Optimal_offset", "Orientation"]].to_pickle(out)
        return {"cpu": cpu}
    from memelite import tomtom

    pwms = [m.pwm.T.copy() for m in db.motifs]
    start = _cpu()
    tomtom(pwms, pwms, n_jobs=1)
    cold = _cpu() - start
    start = _cpu()
    p, _, offsets, _, strands = tomtom(pwms, pwms, n_jobs=1)
    warm = _cpu() - start
    ids = [m.id for m in db.motifs]
    n = len(ids)
    pd.DataFrame({"Query_ID": np.repeat(ids, n), "Target_ID": np.tile(ids, n),
                  "p-value": p.ravel(), "Optimal_offset": offsets.ravel().astype(int),
                  "Orientation": np.where(strands.ravel() > 0, "-", "+")}).to_pickle(out)
    return {"cpu": warm, "cpu_cold": cold}


def _scan_motifs():
    from emseq.motif.meme import MemeFile, read_meme_file

    ten = read_meme_file(TEN).motifs
    db = read_meme_file(JASPAR).motifs
    rng = np.random.default_rng(50)
    chosen = {m.id for m in ten}
    others = [m for m in db if m.id not in chosen]
    extra = [others[i] for i in sorted(rng.choice(len(others), 40, replace=False))]
    return MemeFile(TEN, list(ten) + extra, np.full(4, 0.25))


def _scan_sequences(quick: bool) -> list[str]:
    from emseq.motif.meme import read_meme_file

    n_seq = 200 if quick else 1000
    rng = np.random.default_rng(51)
    codes = rng.integers(0, 4, size=(n_seq, 1000))
    for motif in read_meme_file(TEN).motifs:
        w = motif.width
        for i in np.flatnonzero(rng.random(n_seq) < 0.05):
            site = np.array([rng.choice(4, p=row) for row in motif.pwm])
            if rng.random() < 0.5:
                site = 3 - site[::-1]
            start = int(rng.integers(0, 1000 - w))
            codes[i, start:start + w] = site
    return ["".join("ACGT"[c] for c in row) for row in codes]


def _worker_fimo(tool: str, out: Path, quick: bool) -> dict:
    motifs = _scan_motifs()
    seqs = _scan_sequences(quick)
    names = [f"s{i + 1}" for i in range(len(seqs))]
    if tool == "emseq":
        from emseq.motif.alphabet import encode
        from emseq.motif.scan import scan_sequences

        start = _cpu()
        hits = scan_sequences(motifs, encode(seqs, names), thresh=THRESH, bfile="uniform",
                              n_threads=1)
        cpu = _cpu() - start
        frame = hits[["motif_id", "sequence_name", "start", "strand", "p-value"]]
    elif tool == "pymemesuite":
        import pymemesuite
        from pymemesuite.common import Alphabet, Background, MotifFile, Sequence
        from pymemesuite.fimo import FIMO

        with tempfile.NamedTemporaryFile("w", suffix=".meme", delete=False) as handle:
            from emseq.motif.output import meme_text

            class _M:  # meme_text's shape
                def __init__(self, m):
                    self.id, self.pwm, self.nsites = m.id, m.pwm, int(m.nsites)
                    self.consensus, self.width, self.e_value_text = m.alt_id or "x", m.width, "0"
            handle.write(meme_text([_M(m) for m in motifs.motifs], np.full(4, 0.25)))
            path = handle.name
        with MotifFile(path) as motif_file:
            meme_motifs = list(motif_file)
        os.unlink(path)
        start = _cpu()
        sequences = [Sequence(s, name=n.encode()) for s, n in zip(seqs, names)]
        background = Background.from_uniform(Alphabet.dna())
        fimo = FIMO(both_strands=True, threshold=THRESH)
        rows = []
        for motif in meme_motifs:
            for e in fimo.score_motif(motif, sequences, background).matched_elements:
                rows.append((motif.accession.decode(), e.source.accession.decode(),
                             min(e.start, e.stop), e.strand, e.pvalue))
        cpu = _cpu() - start
        frame = pd.DataFrame(rows, columns=["motif_id", "sequence_name", "start", "strand",
                                            "p-value"])
        frame.attrs["version"] = pymemesuite.__version__
    else:
        from memelite.fimo import fimo

        onehot = np.zeros((len(seqs), 4, len(seqs[0])), dtype=np.float32)
        for i, s in enumerate(seqs):
            onehot[i, ["ACGT".index(c) for c in s], np.arange(len(s))] = 1
        pwms = {m.id: m.pwm.T.copy() for m in motifs.motifs}
        start = _cpu()
        fimo(pwms, onehot[:2], threshold=THRESH)  # compile
        cold = _cpu() - start
        start = _cpu()
        frames = fimo(pwms, onehot, threshold=THRESH)
        cpu = _cpu() - start
        frame = pd.concat(frames, ignore_index=True)
        frame = pd.DataFrame({"motif_id": frame["motif_name"],
                              "sequence_name": [names[i] for i in frame["sequence_name"]],
                              "start": frame["start"] + 1, "strand": frame["strand"],
                              "p-value": frame["p-value"]})
        frame.to_pickle(out)
        return {"cpu": cpu, "cpu_cold_compile": cold}
    frame.to_pickle(out)
    return {"cpu": cpu}


# ----------------------------------------------------------------------------- driver
def _run(task: str, tool: str, quick: bool, env: dict | None = None) -> tuple[dict, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.pkl"
        cmd = [sys.executable, __file__, "--worker", task, tool, str(out)] + (
            ["--quick"] if quick else [])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        one_thread = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
                      "OPENBLAS_NUM_THREADS": "1"}
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT), **one_thread,
                                   **(env or {})})
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"{task} {tool} failed:\n{proc.stderr[-3000:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        info["process_cpu"] = ((after.ru_utime - before.ru_utime)
                               + (after.ru_stime - before.ru_stime))
        info["wall"] = wall
        return info, pd.read_pickle(out)


def _clear_numba_cache() -> None:
    import memelite

    cache = Path(memelite.__file__).parent / "__pycache__"
    for path in cache.glob("*.nb[ci]"):
        path.unlink()


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def tomtom_agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> dict:
    """Median per-query Spearman of p-values; share of queries with the same best non-self
    match; among those, the share with the same offset and orientation."""
    key = ["Query_ID", "Target_ID"]
    merged = ours.merge(ref, on=key, suffixes=("", "_ref"))
    rhos, same, same_place, self_top = [], 0, 0, 0
    for query, rows in merged.groupby("Query_ID", sort=False):
        rhos.append(_spearman(rows["p-value"], rows["p-value_ref"]))
        others = rows[rows["Target_ID"] != query]
        a = others.loc[others["p-value"].idxmin()]
        b = others.loc[others["p-value_ref"].idxmin()]
        self_row = rows[rows["Target_ID"] == query].iloc[0]
        self_top += self_row["p-value"] <= rows["p-value"].min()
        if a["Target_ID"] == b["Target_ID"]:
            same += 1
            same_place += (a["Optimal_offset"] == a["Optimal_offset_ref"]
                           and a["Orientation"] == a["Orientation_ref"])
    n = merged["Query_ID"].nunique()
    return {"spearman_median": float(np.median(rhos)), "top_match_agree": same / n,
            "top_offset_strand_agree": same_place / max(same, 1), "self_is_top": self_top / n}


def fimo_agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> dict:
    key = ["motif_id", "sequence_name", "start", "strand"]
    merged = ours.merge(ref, on=key, suffixes=("", "_ref"))
    return {"hits": len(ours), "hits_ref": len(ref), "common": len(merged),
            "common_of_ref": len(merged) / max(len(ref), 1),
            "common_of_own": len(merged) / max(len(ours), 1),
            "spearman_common": _spearman(merged["p-value"], merged["p-value_ref"])
            if len(merged) > 2 else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 kbp for the scan")
    parser.add_argument("--worker", nargs=3, metavar=("TASK", "TOOL", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, tool, out = args.worker
        info = (_worker_tomtom(tool, Path(out)) if task == "tomtom"
                else _worker_fimo(tool, Path(out), args.quick))
        print(json.dumps(info))
        return
    rows = []
    # ---- Tomtom: JASPAR vs JASPAR
    _clear_numba_cache()
    info_ml, ref = _run("tomtom", "memelite", args.quick)
    rows.append({"task": "tomtom JASPAR x JASPAR", "tool": "memelite 0.5.0 (ed)",
                 "cpu_s": info_ml["cpu"], "cpu_s_cold": info_ml["cpu_cold"],
                 "process_cpu_s": info_ml["process_cpu"]})
    for tool in ("emseq-ed", "emseq-pearson"):
        info, table = _run("tomtom", tool, args.quick)
        agreement = tomtom_agreement(table, ref)
        rows.append({"task": "tomtom JASPAR x JASPAR", "tool": f"emseq ({tool.split('-')[1]})",
                     "cpu_s": info["cpu"], "process_cpu_s": info["process_cpu"],
                     "ratio_to_peer": info["cpu"] / info_ml["cpu"], **agreement})
    # ---- FIMO on ~1 Mbp
    info_pm, ref = _run("fimo", "pymemesuite", args.quick)
    mbp = (200 if args.quick else 1000) * 1000 / 1e6
    task = f"fimo 50 motifs x {mbp:g} Mbp"
    rows.append({"task": task, "tool": "pymemesuite 0.1.0a4 (MEME FIMO)",
                 "cpu_s": info_pm["cpu"], "process_cpu_s": info_pm["process_cpu"],
                 "hits": len(ref)})
    for tool in ("emseq", "memelite"):
        info, hits = _run("fimo", tool, args.quick)
        name = "emseq" if tool == "emseq" else "memelite 0.5.0"
        rows.append({"task": task, "tool": name, "cpu_s": info["cpu"],
                     "cpu_s_cold": info.get("cpu_cold_compile"),
                     "process_cpu_s": info["process_cpu"],
                     "ratio_to_peer": info["cpu"] / info_pm["cpu"],
                     **fimo_agreement(hits, ref)})
    table = pd.DataFrame(rows)
    for column in ("hits", "hits_ref", "common"):  # counts stay exact beside the NaN cells
        table[column] = table[column].astype("Int64")
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    table.to_csv(RESULTS / f"motif_tools{suffix}.tsv", sep="\t", index=False,
                 float_format="%.4g")
    write_markdown(table, RESULTS / f"motif_tools{suffix}.md")
    print(table.to_string())


def _markdown_table(table: pd.DataFrame) -> str:
    def cell(value) -> str:
        if value is pd.NA:
            return ""
        if isinstance(value, float):
            if np.isnan(value):
                return ""
            return str(int(value)) if value.is_integer() and value >= 10 else f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def write_markdown(table: pd.DataFrame, path: Path) -> None:
    """The results as a Markdown table with the legend."""
    path.write_text(
        "# emseq motif compare / scan beside memelite and pymemesuite\n\n"
        "One thread each; cpu_s: the computation (memelite warm, cpu_s_cold: its first call "
        "with numba compiling); process_cpu_s: the whole subprocess (imports, reading, "
        "compiling). ratio_to_peer: emseq cpu_s / peer cpu_s (memelite for Tomtom, "
        "pymemesuite for FIMO).\n\n" + _markdown_table(table) + "\n")


if __name__ == "__main__":
    main()
