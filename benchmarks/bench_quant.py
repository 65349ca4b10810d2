#!/usr/bin/env python3
"""Benchmark ``emseq quant`` against Salmon (alignment mode), RSEM and the samtools decode floor.

On one simulated BAM with known truth (made by ``benchmarks/simulate_reads.py``), in one run:

* ``samtools view -c -@P`` - the cost of decoding every record, a floor for any BAM reader;
* ``salmon quant -t FA -l A -a BAM -p P`` with its default VB optimizer and with ``--useEM``;
* ``rsem-calculate-expression --alignments --paired-end --no-bam-output -p P`` (after
  ``rsem-prepare-reference``, timed separately and not counted);
* ``python -m emseq quant -a BAM -t FA -o OUT -p P`` (default, VB) and with ``--em``, with
  ``PYTHONPATH`` set to ``--emseq-src`` (default: this repository).

Each tool is a child process; wall time is measured around it, CPU time (user + system) and peak
memory (largest resident set of the process or any of its descendants) come from ``wait4``'s
resource usage. Accuracy is scored against the truth table of the simulation:

* ``spearman_all`` / ``spearman_expr``: Spearman correlation of estimated and true TPM over all
  transcripts / over transcripts that received at least one simulated fragment;
* ``pearson_log``: Pearson correlation of log(1 + TPM) over all transcripts;
* ``mard``: mean over all transcripts of |est - true| / (est + true) on TPM (0 when both are 0);
* ``misassigned``: fraction of fragments on the wrong transcript, counted as the total variation
  distance between the estimated and the true read-count proportions, 0.5 * sum |e/E - t/T|
  (a lower bound of the per-fragment misassignment, and exact when errors do not cancel);
* ``gene_spearman``: Spearman correlation of gene TPMs (sums over ``tx2gene``) over all genes;
  ``gene_spearman_counts`` the same on gene read counts. Gene TPMs depend on each tool's
  effective-length convention for transcripts shorter than a fragment (the truth uses the
  simulation's, E[L - min(l, L) + 1], i.e. 1 for them; Salmon and emseq use ~10): gene counts
  do not.

Ratios: ``wall_vs_salmon``, ``cpu_vs_salmon`` and ``mem_vs_salmon`` divide the tool's figure by
Salmon's in the same mode (VB for default runs, ``--useEM`` for EM runs; Salmon VB for the
others); ``wall_vs_floor`` divides the wall time by that of ``samtools view -c``.

The same tools are then run on two re-orderings of the BAM (``--orders``): coordinate-sorted
(``samtools sort``) and ``samtools collate`` output (a read's records together, but all read-1
records before all read-2 records), where Salmon and RSEM are known to go wrong.

A missing tool gives a row ``not installed``; a failing one ``failed: <last line of its
stderr>``. Results go to ``<out>.tsv`` and ``<out>.md``; every tool's stderr to
``<work>/logs/``.

``emseq`` with a FASTA corrects sequence and GC bias by default; ``emseq-nobias`` and
``emseq-em-nobias`` run it with ``--no-bias-correction``. With ``--tools bias`` (on a simulation
with library biases) the rows are Salmon with no bias flag, ``--gcBias``, ``--seqBias``,
``--posBias`` and all three, against emseq without correction, with its default correction and
with all three models; the targets then compare each emseq correction with every Salmon
configuration and with emseq's own CPU time without correction.

Usage::

    python benchmarks/simulate_reads.py -o benchmarks/work/sim1M --n-pairs 1000000 --seed 1
    python benchmarks/bench_quant.py --sim benchmarks/work/sim1M --emseq-src /work/wt/quant
    python benchmarks/simulate_reads.py -o benchmarks/work/bias1M --n-pairs 1000000 --seed 11 \
        --gc-bias 0.1 --seq-bias 1.5 --pos-bias 1.0
    python benchmarks/bench_quant.py --sim benchmarks/work/bias1M --tools bias --orders unsorted \
        --out benchmarks/results/quant_bias
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr

log = logging.getLogger("bench_quant")

REPO = Path(__file__).resolve().parent.parent
METRICS = ["spearman_all", "spearman_expr", "pearson_log", "mard", "misassigned",
           "gene_spearman", "gene_spearman_counts"]


# --------------------------------------------------------------------------------------------
# running a child process and measuring it


@dataclass
class Run:
    """The outcome of one child process."""

    status: str = "ok"
    wall_s: float = float("nan")
    cpu_s: float = float("nan")
    peak_mb: float = float("nan")
    stdout: str = ""
    extra: dict = field(default_factory=dict)


def last_line(path: Path) -> str:
    """The last non-empty line of a log file, shortened to one readable line."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        return "no log"
    line = lines[-1] if lines else "no message"
    return line[:200]


def run_measured(cmd: list[str], log_path: Path, env: dict | None = None,
                 cwd: Path | None = None) -> Run:
    """Run ``cmd``, return its wall and CPU time and peak RSS; stderr goes to ``log_path``.

    The command runs under GNU ``/usr/bin/time`` when present: Linux keeps the resident-set
    high-water mark of a process across ``exec``, so a child forked straight from this Python
    process would report at least this process's own size; ``time`` is a small C program.
    """
    if shutil.which(str(cmd[0])) is None:
        return Run(status="not installed")
    log.info("$ %s", " ".join(map(str, cmd)))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    timing = log_path.with_suffix(".time")
    timing.unlink(missing_ok=True)
    gnu_time = Path("/usr/bin/time")
    full = [str(c) for c in cmd]
    if gnu_time.is_file():
        full = [str(gnu_time), "-f", "%e %U %S %M", "-o", str(timing)] + full
    with open(log_path, "wb") as err, open(log_path.with_suffix(".out"), "wb") as out:
        err.write(("$ " + " ".join(map(str, cmd)) + "\n").encode())
        err.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime, peak_mb=usage.ru_maxrss / 1024,
              stdout=log_path.with_suffix(".out").read_text(errors="replace"))
    if timing.is_file():
        fields = timing.read_text().split()
        try:  # the last line holds the figures (a failing command adds a status line first)
            _, user, system, maxrss = fields[-4:]
            run.cpu_s = float(user) + float(system)
            run.peak_mb = float(maxrss) / 1024
        except ValueError:
            pass
    if proc.returncode != 0:
        run.status = f"failed (exit {proc.returncode}): {last_line(log_path)}"
    return run


# --------------------------------------------------------------------------------------------
# accuracy


def read_estimates(path: Path, kind: str) -> pd.DataFrame:
    """TPM and NumReads per transcript from a Salmon/emseq ``quant.sf`` or RSEM results file."""
    table = pd.read_csv(path, sep="\t")
    if kind == "rsem":
        table = table.rename(columns={"transcript_id": "Name", "expected_count": "NumReads"})
    return table.set_index("Name")[["TPM", "NumReads"]]


def accuracy(est: pd.DataFrame, truth: pd.DataFrame, tx2gene: pd.Series) -> dict:
    """The accuracy figures of one estimate against the truth (see the module docstring)."""
    est = est.reindex(truth.index).fillna(0.0)
    t, e = truth["TPM"].to_numpy(float), est["TPM"].to_numpy(float)
    tc, ec = truth["NumReads"].to_numpy(float), est["NumReads"].to_numpy(float)
    expressed = tc > 0
    denom = e + t
    ard = np.divide(np.abs(e - t), denom, out=np.zeros_like(t), where=denom > 0)
    misassigned = 0.5 * np.abs(ec / max(ec.sum(), 1e-300) - tc / tc.sum()).sum()
    genes = tx2gene.reindex(truth.index).fillna(pd.Series(truth.index, index=truth.index))
    gt = pd.Series(t, index=truth.index).groupby(genes.to_numpy()).sum()
    ge = pd.Series(e, index=truth.index).groupby(genes.to_numpy()).sum()
    gtc = pd.Series(tc, index=truth.index).groupby(genes.to_numpy()).sum()
    gec = pd.Series(ec, index=truth.index).groupby(genes.to_numpy()).sum()
    return {
        "spearman_all": spearmanr(t, e)[0],
        "spearman_expr": spearmanr(t[expressed], e[expressed])[0],
        "pearson_log": pearsonr(np.log1p(t), np.log1p(e))[0],
        "mard": float(ard.mean()),
        "misassigned": float(misassigned),
        "gene_spearman": spearmanr(gt.to_numpy(), ge.reindex(gt.index).to_numpy())[0],
        "gene_spearman_counts": spearmanr(gtc.to_numpy(), gec.reindex(gtc.index).to_numpy())[0],
        "assigned_reads": float(ec.sum()),
    }


# --------------------------------------------------------------------------------------------
# the tools


@dataclass
class Setup:
    bam: Path
    fasta: Path
    work: Path
    threads: int
    emseq_src: Path
    rsem_ref: Path | None = None


def tool_samtools(s: Setup, bam: Path, tag: str) -> tuple[Run, pd.DataFrame | None]:
    run = run_measured(["samtools", "view", "-c", f"-@{s.threads}", bam],
                       s.work / "logs" / f"samtools_{tag}.log")
    if run.status == "ok":
        run.extra["records"] = int(run.stdout.strip() or 0)
    return run, None


def salmon_layout_result(run: Run, out: Path, tool: str) -> tuple[Run, pd.DataFrame | None]:
    """Estimates and run facts from a Salmon-layout directory (Salmon's or emseq's)."""
    if run.status != "ok":
        return run, None
    if not (out / "quant.sf").is_file():
        run.status = "failed: no quant.sf"
        return run, None
    try:
        meta = json.loads((out / "aux_info" / "meta_info.json").read_text())
        run.extra.update(num_eq_classes=meta.get("num_eq_classes"),
                         percent_mapped=meta.get("percent_mapped"),
                         library_types=",".join(map(str, meta.get("library_types", []))),
                         frag_length_mean=meta.get("frag_length_mean"))
    except (OSError, ValueError, TypeError):
        pass
    return run, read_estimates(out / "quant.sf", tool)


def tool_salmon(s: Setup, bam: Path, tag: str, em: bool,
                flags: tuple[str, ...] = ()) -> tuple[Run, pd.DataFrame | None]:
    suffix = "".join("_" + f.lstrip("-").replace("Bias", "") for f in flags)
    name = f"salmon_{'em' if em else 'vb'}{suffix}_{tag}"
    out = s.work / name
    shutil.rmtree(out, ignore_errors=True)
    cmd = ["salmon", "quant", "-t", s.fasta, "-l", "A", "-a", bam, "-p", str(s.threads),
           "-o", out] + (["--useEM"] if em else []) + list(flags)
    run = run_measured(cmd, s.work / "logs" / f"{name}.log")
    return salmon_layout_result(run, out, "salmon")


def prepare_rsem(s: Setup) -> Run:
    ref = s.work / "rsem_ref" / "ref"
    ref.parent.mkdir(parents=True, exist_ok=True)
    if Path(str(ref) + ".ti").is_file():
        s.rsem_ref = ref
        return Run(status="ok (cached)")
    run = run_measured(["rsem-prepare-reference", s.fasta, ref],
                       s.work / "logs" / "rsem_prepare_reference.log")
    if run.status == "ok":
        s.rsem_ref = ref
    return run


def tool_rsem(s: Setup, bam: Path, tag: str) -> tuple[Run, pd.DataFrame | None]:
    if shutil.which("rsem-calculate-expression") is None:
        return Run(status="not installed"), None
    if s.rsem_ref is None:
        return Run(status="failed: rsem-prepare-reference failed"), None
    prefix = s.work / f"rsem_{tag}" / "rsem"
    shutil.rmtree(prefix.parent, ignore_errors=True)
    prefix.parent.mkdir(parents=True)
    run = run_measured(["rsem-calculate-expression", "--alignments", "--paired-end",
                        "--no-bam-output", "-p", str(s.threads), bam, s.rsem_ref, prefix],
                       s.work / "logs" / f"rsem_{tag}.log")
    if run.status != "ok":
        # RSEM ends with a generic "... failed!" line: show the line that says why
        text = (s.work / "logs" / f"rsem_{tag}.log").read_text(errors="replace").splitlines()
        why = [ln for ln in text if ln.strip() and not ln.startswith(("$", "rsem-", '"rsem'))]
        if why:
            run.status = run.status.split(":")[0] + ": " + why[-1].strip()[:160]
        return run, None
    results = Path(str(prefix) + ".isoforms.results")
    if not results.is_file():
        run.status = "failed: no isoforms.results"
        return run, None
    return run, read_estimates(results, "rsem")


def tool_emseq(s: Setup, bam: Path, tag: str, em: bool,
               flags: tuple[str, ...] = ()) -> tuple[Run, pd.DataFrame | None]:
    suffix = "".join("_" + f.lstrip("-").replace("-bias", "").replace("-correction", "")
                     for f in flags)
    name = f"emseq_{'em' if em else 'vb'}{suffix}_{tag}"
    out = s.work / name
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(s.emseq_src) + os.pathsep + env.get("PYTHONPATH", "")
    if not (s.emseq_src / "emseq" / "quant").is_dir():
        return Run(status=f"not installed (no emseq/quant in {s.emseq_src})"), None
    cmd = [sys.executable, "-m", "emseq", "quant", "-a", bam, "-t", s.fasta, "-o", out,
           "-p", str(s.threads), "-q"] + (["--em"] if em else []) + list(flags)
    # run outside any source tree: `python -m` puts the working directory first on sys.path,
    # which would shadow --emseq-src with the emseq of the current directory
    run = run_measured(cmd, s.work / "logs" / f"{name}.log", env=env, cwd=s.work)
    return salmon_layout_result(run, out, "emseq")


SALMON_BIAS = ("--seqBias", "--gcBias", "--posBias")
EMSEQ_BIAS = ("--seq-bias", "--gc-bias", "--pos-bias")

TOOLS = {
    "samtools": ("samtools view -c", "floor", lambda s, b, t: tool_samtools(s, b, t)),
    "salmon": ("salmon", "vb", lambda s, b, t: tool_salmon(s, b, t, em=False)),
    "salmon-em": ("salmon --useEM", "em", lambda s, b, t: tool_salmon(s, b, t, em=True)),
    "rsem": ("rsem", "em", lambda s, b, t: tool_rsem(s, b, t)),
    "emseq": ("emseq", "vb", lambda s, b, t: tool_emseq(s, b, t, em=False)),
    "emseq-em": ("emseq --em", "em", lambda s, b, t: tool_emseq(s, b, t, em=True)),
    # bias correction (run these on a biased simulation: simulate_reads.py --gc-bias ...)
    "salmon-gc": ("salmon --gcBias", "vb",
                  lambda s, b, t: tool_salmon(s, b, t, em=False, flags=("--gcBias",))),
    "salmon-seq": ("salmon --seqBias", "vb",
                   lambda s, b, t: tool_salmon(s, b, t, em=False, flags=("--seqBias",))),
    "salmon-pos": ("salmon --posBias", "vb",
                   lambda s, b, t: tool_salmon(s, b, t, em=False, flags=("--posBias",))),
    "salmon-bias": ("salmon --seqBias --gcBias --posBias", "vb",
                    lambda s, b, t: tool_salmon(s, b, t, em=False, flags=SALMON_BIAS)),
    "emseq-nobias": ("emseq --no-bias-correction", "vb",
                     lambda s, b, t: tool_emseq(s, b, t, em=False,
                                                flags=("--no-bias-correction",))),
    "emseq-em-nobias": ("emseq --em --no-bias-correction", "em",
                        lambda s, b, t: tool_emseq(s, b, t, em=True,
                                                   flags=("--no-bias-correction",))),
    "emseq-bias": ("emseq --seq-bias --gc-bias --pos-bias", "vb",
                   lambda s, b, t: tool_emseq(s, b, t, em=False, flags=EMSEQ_BIAS)),
}
#: The tools of the bias benchmark (``--tools bias``).
BIAS_TOOLS = ["samtools", "salmon", "salmon-gc", "salmon-seq", "salmon-pos", "salmon-bias",
              "emseq-nobias", "emseq", "emseq-bias"]


# --------------------------------------------------------------------------------------------
# orders


def reorder(bam: Path, order: str, work: Path, threads: int) -> Path:
    """The BAM re-ordered (coordinate-sorted or collated), made once and cached in ``work``."""
    if order == "unsorted":
        return bam
    target = work / f"{bam.stem}.{order}.bam"
    if target.is_file():
        return target
    tmp = work / f"{bam.stem}.{order}.tmp.bam"
    if order == "coord":
        cmd = ["samtools", "sort", f"-@{threads}", "-m", "512M", "-o", tmp,
               "-T", work / "sorttmp", bam]
    elif order == "collate":
        cmd = ["samtools", "collate", f"-@{threads}", "-o", tmp, bam, work / "collatetmp"]
    else:
        raise ValueError(order)
    run = run_measured(cmd, work / "logs" / f"reorder_{order}.log")
    if run.status != "ok":
        raise RuntimeError(f"samtools could not make the {order} BAM: {run.status}")
    os.replace(tmp, target)
    return target


# --------------------------------------------------------------------------------------------
# tables


def add_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Time and memory ratios against Salmon in the same mode, wall time against samtools."""
    table = table.copy()
    for col in ("wall_vs_salmon", "cpu_vs_salmon", "mem_vs_salmon", "wall_vs_floor"):
        table[col] = np.nan
    ok = table["status"] == "ok"
    floor = table[ok & (table.tool == "samtools view -c") & (table.order == "unsorted")]
    for order, group in table[ok].groupby("order", sort=False):
        ref = {m: group[group.tool == t] for m, t in (("vb", "salmon"), ("em", "salmon --useEM"))}
        for idx, row in group.iterrows():
            peer = ref.get(row["mode"])
            if peer is None or peer.empty:
                peer = ref["vb"]
            if not peer.empty and row["tool"] != "samtools view -c":
                p = peer.iloc[0]
                table.loc[idx, "wall_vs_salmon"] = row["wall_s"] / p["wall_s"]
                table.loc[idx, "cpu_vs_salmon"] = row["cpu_s"] / p["cpu_s"]
                table.loc[idx, "mem_vs_salmon"] = row["peak_mb"] / p["peak_mb"]
            if not floor.empty:
                table.loc[idx, "wall_vs_floor"] = row["wall_s"] / floor.iloc[0]["wall_s"]
    return table


HIGHER_IS_BETTER = {"spearman_all": True, "spearman_expr": True, "pearson_log": True,
                    "mard": False, "misassigned": False, "gene_spearman": True,
                    "gene_spearman_counts": True}


def targets(table: pd.DataFrame) -> list[str]:
    """The issue's targets, each as a line saying met / missed with the measured figures."""
    def get(tool: str, order: str = "unsorted") -> pd.Series | None:
        sel = table[(table.tool == tool) & (table.order == order) & (table.status == "ok")]
        return None if sel.empty else sel.iloc[0]

    lines = []
    em_vb, em_em = get("emseq"), get("emseq --em")
    sal, sal_em, rsem, floor = get("salmon"), get("salmon --useEM"), get("rsem"), \
        get("samtools view -c")

    def compare(mine, peers, label):
        if mine is None or not any(p is not None for _, p in peers):
            lines.append(f"- {label}: not measured (a tool is missing or failed)")
            return
        worse = []
        for name, peer in peers:
            if peer is None:
                continue
            for m, up in HIGHER_IS_BETTER.items():
                a, b = float(mine[m]), float(peer[m])
                if (a < b - 1e-4) if up else (a > b + 1e-4):
                    worse.append(f"{m} {a:.4f} vs {name} {b:.4f}")
        verdict = "met" if not worse else "missed (" + "; ".join(worse) + ")"
        lines.append(f"- {label}: {verdict}")

    compare(em_vb, [("salmon", sal)], "accuracy, emseq default >= Salmon default (VB) on every figure")
    compare(em_em, [("salmon --useEM", sal_em), ("rsem", rsem)],
            "accuracy, emseq --em >= Salmon --useEM and RSEM on every figure")
    for mine, name, peer, pname in ((em_vb, "emseq", sal, "Salmon"),
                                    (em_em, "emseq --em", sal_em, "Salmon --useEM")):
        if mine is None:
            continue
        if peer is not None:
            sal = peer
            speed = sal["wall_s"] / mine["wall_s"]
            lines.append(f"- speed, {name} >= 5x less wall time than {pname}: "
                         f"{'met' if speed >= 5 else 'missed'} ({speed:.2f}x: "
                         f"{mine['wall_s']:.1f} s vs {sal['wall_s']:.1f} s)")
            mem = mine["peak_mb"] / sal["peak_mb"]
            lines.append(f"- memory, {name} <= 1/4 of {pname}'s peak: "
                         f"{'met' if mem <= 0.25 else 'missed'} ({mine['peak_mb']:.0f} MB vs "
                         f"{sal['peak_mb']:.0f} MB, {mem:.3f}x)")
        if floor is not None:
            f = mine["wall_s"] / floor["wall_s"]
            lines.append(f"- speed, {name} within 2x of `samtools view -c -@P` wall time: "
                         f"{'met' if f <= 2 else 'missed'} ({f:.2f}x: {mine['wall_s']:.1f} s vs "
                         f"{floor['wall_s']:.1f} s)")
    bias_peers = [(t, get(t)) for t in ("salmon", "salmon --gcBias", "salmon --seqBias",
                                        "salmon --posBias", "salmon --seqBias --gcBias --posBias")]
    plain = get("emseq --no-bias-correction")
    for label in ("emseq", "emseq --seq-bias --gc-bias --pos-bias"):
        mine = get(label)
        if mine is None or plain is None:
            continue
        compare(mine, bias_peers, f"bias, {label} (sequence and GC correction by default) >= "
                                  "every Salmon bias configuration")
        r = mine["cpu_s"] / plain["cpu_s"]
        lines.append(f"- bias cost, {label} <= 1.5x the CPU time of emseq without correction: "
                     f"{'met' if r <= 1.5 else 'missed'} ({r:.2f}x: {mine['cpu_s']:.1f} s vs "
                     f"{plain['cpu_s']:.1f} s; wall {mine['wall_s']:.1f} s vs "
                     f"{plain['wall_s']:.1f} s)")
        best = min((p for _, p in bias_peers if p is not None), key=lambda p: p["peak_mb"],
                   default=None)
        if best is not None:
            m = mine["peak_mb"] / best["peak_mb"]
            lines.append(f"- bias memory, {label} <= 1/4 of the smallest Salmon peak: "
                         f"{'met' if m <= 0.25 else 'missed'} ({mine['peak_mb']:.0f} MB vs "
                         f"{best['peak_mb']:.0f} MB)")
    for order in ("coord", "collate"):
        mine, base = get("emseq", order), em_vb
        if mine is None or base is None:
            continue
        d = max(abs(float(mine[m]) - float(base[m])) for m in HIGHER_IS_BETTER)
        lines.append(f"- order, emseq on the {order} BAM matches the unsorted BAM: "
                     f"{'met' if d <= 0.005 else 'missed'} (largest figure difference {d:.4f}; "
                     f"peak memory {mine['peak_mb']:.0f} MB vs {base['peak_mb']:.0f} MB unsorted, "
                     f"wall {mine['wall_s']:.1f} s vs {base['wall_s']:.1f} s)")
    return lines


def to_markdown(table: pd.DataFrame, header: str) -> str:
    cols = ["order", "tool", "status", "wall_s", "cpu_s", "peak_mb", "wall_vs_salmon",
            "cpu_vs_salmon", "mem_vs_salmon", "wall_vs_floor"] + METRICS
    fmt = {"wall_s": "{:.1f}", "cpu_s": "{:.1f}", "peak_mb": "{:.0f}",
           "wall_vs_salmon": "{:.2f}", "cpu_vs_salmon": "{:.2f}", "mem_vs_salmon": "{:.3f}",
           "wall_vs_floor": "{:.2f}", "mard": "{:.4f}", "misassigned": "{:.4f}"}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            v = row.get(c)
            if isinstance(v, float):
                cells.append("" if np.isnan(v) else fmt.get(c, "{:.4f}").format(v))
            else:
                cells.append(str(v).replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    return header + "\n" + "\n".join(lines) + "\n"


def git_rev(path: Path) -> str:
    """The short commit of a source tree, with ``+dirty`` if it has uncommitted changes."""
    try:
        rev = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine(),
           "cpus": os.cpu_count()}
    for tool, cmd in (("salmon", ["salmon", "--version"]),
                      ("rsem", ["rsem-calculate-expression", "--version"]),
                      ("samtools", ["samtools", "--version"]),
                      ("bowtie2", ["bowtie2", "--version"])):
        if shutil.which(cmd[0]):
            res = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
            text = (res.stdout or res.stderr).strip().splitlines()
            out[tool] = text[0] if text else "?"
        else:
            out[tool] = "not installed"
    return out


# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sim", type=Path, default=REPO / "benchmarks" / "work" / "sim1M",
                   help="output directory of simulate_reads.py (aligned.bam, transcripts.fa, "
                        "truth.tsv, tx2gene.tsv)")
    p.add_argument("--bam", type=Path, help="BAM (default <sim>/aligned.bam)")
    p.add_argument("--transcripts", type=Path, help="FASTA (default <sim>/transcripts.fa)")
    p.add_argument("--truth", type=Path, help="truth table (default <sim>/truth.tsv)")
    p.add_argument("--tx2gene", type=Path, help="transcript->gene (default <sim>/tx2gene.tsv)")
    p.add_argument("--emseq-src", type=Path, default=REPO,
                   help="source tree put on PYTHONPATH to run `python -m emseq quant`")
    p.add_argument("-p", "--threads", type=int, default=2)
    p.add_argument("--tools", default=",".join(TOOLS),
                   help="comma-separated subset of " + ",".join(TOOLS) + ", or 'bias' for "
                        + ",".join(BIAS_TOOLS) + " (with --orders unsorted)")
    p.add_argument("--orders", default="unsorted,coord,collate",
                   help="BAM orders to run: unsorted (the aligner's), coord, collate")
    p.add_argument("--order-tools", default="salmon,rsem,emseq",
                   help="tools run on the re-ordered BAMs")
    p.add_argument("--repeat", type=int, default=1,
                   help="rounds of timing on the unsorted BAM (median wall/CPU, max peak "
                        "reported; RSEM runs once)")
    p.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work" / "bench_quant")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quant",
                   help="results prefix: writes <out>.tsv and <out>.md")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    bam = (args.bam or args.sim / "aligned.bam").resolve()
    fasta = (args.transcripts or args.sim / "transcripts.fa").resolve()
    truth = pd.read_csv(args.truth or args.sim / "truth.tsv", sep="\t", index_col="Name")
    t2g = pd.read_csv(args.tx2gene or args.sim / "tx2gene.tsv", sep="\t", index_col=0).iloc[:, 0]
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    setup = Setup(bam=bam, fasta=fasta, work=work, threads=args.threads,
                  emseq_src=args.emseq_src.resolve())
    tools = BIAS_TOOLS if args.tools == "bias" else [t for t in args.tools.split(",") if t]
    order_tools = [t for t in args.order_tools.split(",") if t]
    unknown = [t for t in tools + order_tools if t not in TOOLS]
    if unknown:
        raise SystemExit(f"error: unknown tool(s) {unknown}; choose from {list(TOOLS)}")

    rows = []
    if "rsem" in tools or "rsem" in order_tools:
        prep = prepare_rsem(setup)
        log.info("rsem-prepare-reference: %s (%.1f s)", prep.status, prep.wall_s)
    for order in [o for o in args.orders.split(",") if o]:
        try:
            obam = reorder(bam, order, work, args.threads)
        except RuntimeError as exc:
            rows.append({"order": order, "tool": "samtools", "mode": "", "status": str(exc)})
            continue
        names = tools if order == "unsorted" else order_tools
        rounds = max(1, args.repeat) if order == "unsorted" else 1
        runs: dict[str, list[tuple[Run, pd.DataFrame | None]]] = {k: [] for k in names}
        for r in range(rounds):  # interleaved rounds: a change of machine load hits every tool
            for key in names:
                if r > 0 and (key == "rsem" or runs[key][-1][0].status != "ok"):
                    continue  # RSEM is slow and deterministic in accuracy: once is enough
                runs[key].append(TOOLS[key][2](setup, obam, f"{order}"))
                run = runs[key][-1][0]
                log.info("%s %s round %d: %s wall %.1f s cpu %.1f s peak %.0f MB", order,
                         TOOLS[key][0], r + 1, run.status, run.wall_s, run.cpu_s, run.peak_mb)
        for key in names:
            label, mode, _ = TOOLS[key]
            run, est = runs[key][-1]
            done = [x for x, _ in runs[key] if x.status == "ok"] or [run]
            row = {"order": order, "tool": label, "mode": mode, "status": run.status,
                   "wall_s": float(np.median([x.wall_s for x in done])),
                   "cpu_s": float(np.median([x.cpu_s for x in done])),
                   "peak_mb": float(np.max([x.peak_mb for x in done])),
                   "runs": len(runs[key]),
                   "walls": " ".join(f"{x.wall_s:.2f}" for x, _ in runs[key])}
            row.update(run.extra)
            scored = [accuracy(e, truth, t2g) for x, e in runs[key] if e is not None]
            if scored:  # Salmon is not deterministic with threads: median over the rounds
                row.update({m: float(np.median([a[m] for a in scored])) for m in scored[0]})
            rows.append(row)
            log.info("%s %s: %s wall %.1f s cpu %.1f s peak %.0f MB %s", order, label,
                     row["status"], row["wall_s"], row["cpu_s"], row["peak_mb"],
                     {k: round(float(row[k]), 4) for k in METRICS if k in row})
    table = add_ratios(pd.DataFrame(rows))
    first = ["order", "tool", "mode", "status", "wall_s", "cpu_s", "peak_mb", "wall_vs_salmon",
             "cpu_vs_salmon", "mem_vs_salmon", "wall_vs_floor"] + METRICS
    table = table[[c for c in first if c in table] + [c for c in table if c not in first]]

    info = versions()
    sim_info = {}
    if (args.sim / "sim_info.json").is_file():
        sim_info = json.loads((args.sim / "sim_info.json").read_text())
    records = table.loc[(table.tool == "samtools view -c") & (table.order == "unsorted"),
                        "records"] if "records" in table else pd.Series(dtype=float)
    n_pairs = sim_info.get("n_pairs")
    header = (
        f"# emseq quant benchmark\n\n"
        f"BAM: `{bam.name}`, {n_pairs or '?'} simulated read pairs over {len(truth)} "
        f"transcripts ({int((truth.NumReads > 0).sum())} expressed), "
        f"{int(records.iloc[0]) if len(records) else '?'} records; "
        f"{args.threads} threads; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"
        f"Versions: {json.dumps(info)}.\n"
        f"emseq source: `{setup.emseq_src}` (git {git_rev(setup.emseq_src)}).\n"
        f"Made by `bash benchmarks/run_bench_quant.sh` (`python benchmarks/simulate_reads.py -o "
        f"benchmarks/work/sim1M --n-pairs 1000000 --seed 1`, then `python "
        f"benchmarks/bench_quant.py {' '.join(sys.argv[1:]) if argv is None else ' '.join(argv)}`)."
        f"\n\n"
        f"Times in seconds (median of {args.repeat} interleaved round(s) on the unsorted BAM, "
        "RSEM and the re-ordered BAMs once; CPU = user + system of the process tree), "
        "peak = largest resident "
        "set (MB). Ratios divide the tool's figure by Salmon's in the same mode (VB or EM); "
        "wall_vs_floor by `samtools view -c`. Accuracy against the simulated truth (median over "
        "the rounds: Salmon's estimates vary between runs with 2 threads), see "
        "benchmarks/bench_quant.py.\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(str(args.out) + ".tsv", sep="\t", index=False, float_format="%.6g")
    goals = targets(table)
    Path(str(args.out) + ".md").write_text(to_markdown(table, header) + "\n## Targets of issue 3\n\n"
                                           + "\n".join(goals) + "\n")
    with pd.option_context("display.width", 250, "display.max_columns", 40,
                           "display.max_colwidth", 60):
        shown = table[[c for c in first if c in table]].copy()
        shown["status"] = shown["status"].str.slice(0, 60)
        print(shown.to_string(index=False, float_format="%.4g"))
    print("\n".join(goals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
