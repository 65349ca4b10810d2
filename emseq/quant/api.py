"""``quantify``: alignments + transcripts -> abundances, and the Salmon-compatible writer."""

from __future__ import annotations

import datetime as _dt
import gzip
import importlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import __version__
from .._progress import progress as _progress_bar
from .._threads import resolve_threads
from ..errors import InputError, UsageError
from ..io.atomic import atomic_output_dir, atomic_write, write_gzip, write_tsv
from .bam import DEFAULT_SORT_MEMORY, EqClasses, read_alignments
from .bias import BIAS_FILES, GC_HINT_SAMPLE, GC_HINT_SPREAD, BiasOptions, resolve_bias
from .gene_map import SNIFF_ROWS, gene_table, read_gtf_tx2gene, sniff_tx2gene
from .salmon_format import index_hashes, lib_format_counts
from .transcripts import TranscriptIndex, load_transcripts

__all__ = ["QuantResult", "quantify", "read_tx2gene", "read_gtf_tx2gene", "gene_table"]

logger = logging.getLogger(__name__)

#: Files and folders a run writes only with some options (genes, bootstraps, --dump-eq, report).
_OPTIONAL_OUTPUTS = ("quant.genes.sf", "aux_info/bootstrap", "aux_info/eq_classes.txt",
                     "report.png", *(f"aux_info/{name}" for name in BIAS_FILES))

#: The Salmon version written to ``salmon_version`` so tximport reads replicates (>= 0.8.0).
SALMON_COMPAT_VERSION = "1.10.0"


@dataclass
class QuantResult:
    """The result of :func:`quantify`.

    Attributes
    ----------
    abundances : DataFrame
        ``Name, Length, EffectiveLength, TPM, NumReads``, one row per transcript (FASTA order).
    convergence : DataFrame
        The EM's objective per iteration (``iteration, log_likelihood, delta,
        relative_delta, seconds``); the evidence lower bound for VBEM.
    fragment_length : FragmentLengthModel
        The fragment length distribution (``.pmf``, ``.mean``, ``.sd``).
    eq_classes : EqClasses
        The rich equivalence classes the EM ran on.
    library : dict
        Library type used and fragments per orientation (``lib_format_counts.json``).
    num_processed, num_mapped : int
        Fragments read, and fragments assigned to a class.
    mapping_rate : float
        ``num_mapped / num_processed``.
    bootstraps : ndarray of shape (n_samples, n_transcripts) or None
        Expected counts of each bootstrap replicate, or the Gibbs samples.
    gene_abundances : DataFrame or None
        Gene-level table (``quant.genes.sf``) when a transcript-to-gene map was given.
    bias : BiasModel or None
        The learnt bias models (``seq_bias``/``gc_bias``/``pos_bias``); ``EffectiveLength``
        is then bias-corrected.
    """

    abundances: pd.DataFrame
    convergence: pd.DataFrame
    fragment_length: FragmentLengthModel
    eq_classes: EqClasses
    library: dict[str, Any]
    num_processed: int
    num_mapped: int
    mapping_rate: float
    options: dict[str, Any] = field(default_factory=dict)
    bootstraps: np.ndarray | None = None
    gene_abundances: pd.DataFrame | None = None
    bias: Any = None
    names: list[str] = field(default_factory=list)
    start_time: str = ""
    end_time: str = ""
    seconds: float = 0.0
    #: wall seconds of each step: ``load`` (reference), ``read`` (alignments), ``em``, ``bias``
    #: (models and the EM after them), ``replicates``, ``genes``
    step_seconds: dict[str, float] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)
    #: ``index_seq_hash`` & co. of meta_info.json (see :mod:`emseq.quant.salmon_format`)
    index_hashes: dict[str, str] = field(default_factory=dict)

    def write(self, directory: str | os.PathLike[str], *, dump_eq: bool = False,
              report: bool = True, command: str | None = None, force: bool = False) -> Path:
        """Write the Salmon-compatible output directory, atomically, ``meta_info.json`` last.

        Files: ``quant.sf``, ``cmd_info.json``, ``lib_format_counts.json``,
        ``libParams/flenDist.txt``, ``convergence.tsv``, ``logs/emseq_quant.log``,
        ``quant.genes.sf`` (with a gene map), ``aux_info/bootstrap/{names.tsv.gz,
        bootstraps.gz}`` (with bootstraps), ``aux_info/eq_classes.txt`` (``dump_eq``; Salmon's
        ``--dumpEq`` format, ``k t_1 … t_k count``), ``report.png`` (``report``), then
        ``aux_info/meta_info.json``. ``directory`` must be absent or empty unless ``force``,
        which replaces it (see :mod:`emseq.io.atomic`).
        """
        directory = Path(directory)
        with atomic_output_dir(directory, force=force) as stage:
            (stage / "aux_info").mkdir()
            (stage / "libParams").mkdir()
            (stage / "logs").mkdir()
            write_tsv(self.abundances, stage / "quant.sf", float_format="%.9g")
            if self.gene_abundances is not None:
                write_tsv(self.gene_abundances, stage / "quant.genes.sf", float_format="%.9g")
            cmd = {"salmon_version": SALMON_COMPAT_VERSION, "emseq_version": __version__,
                   "command": command or "emseq.quant.quantify",
                   **{k: _jsonable(v) for k, v in self.options.items()}}
            _write_json(stage / "cmd_info.json", cmd)
            _write_json(stage / "lib_format_counts.json", lib_format_counts(self.library))
            with atomic_write(stage / "libParams" / "flenDist.txt") as handle:
                handle.write("\t".join(f"{p:.6g}" for p in self.fragment_length.pmf) + "\n")
            write_tsv(self.convergence, stage / "convergence.tsv")
            with atomic_write(stage / "logs" / "emseq_quant.log") as handle:
                handle.write("\n".join(self.log_lines) + "\n")
            n_boot = 0
            if self.bootstraps is not None and len(self.bootstraps):
                n_boot = int(self.bootstraps.shape[0])
                boot = stage / "aux_info" / "bootstrap"
                boot.mkdir()
                write_gzip(boot / "names.tsv.gz", ("\t".join(self.names) + "\n").encode())
                write_gzip(boot / "bootstraps.gz",
                           np.ascontiguousarray(self.bootstraps, dtype="<f8").tobytes())
            if dump_eq:
                self._write_eq(stage / "aux_info" / "eq_classes.txt")
            if self.bias is not None:
                self.bias.write(stage / "aux_info")
            if report:
                try:
                    from .report import write_report

                    write_report(self, stage / "report.png")
                except OSError:  # a full disk or a lost folder: the output is not whole
                    raise
                except Exception as exc:  # a drawing bug must never cost the user the numbers
                    logger.warning("could not draw report.png: %s", exc)
            pmf = self.fragment_length
            meta = {
                "salmon_version": SALMON_COMPAT_VERSION,
                "emseq_version": __version__,
                "samp_type": ("gibbs" if self.options.get("num_gibbs_samples") else "bootstrap")
                if n_boot else "none",
                "opt_type": "vb" if self.options.get("vb", True) else "em",
                "quant_errors": [],
                "num_libraries": 1,
                "library_types": [self.library.get("expected_format", "A")],
                "frag_dist_length": int(pmf.pmf.size),
                "frag_length_mean": pmf.mean,
                "frag_length_sd": pmf.sd,
                "seq_bias_correct": bool(self.bias is not None and self.bias.options.seq),
                "gc_bias_correct": bool(self.bias is not None and self.bias.options.gc),
                "pos_bias_correct": bool(self.bias is not None and self.bias.options.pos),
                "num_valid_targets": len(self.names),
                "num_eq_classes": int(self.eq_classes.n_classes),
                "mapping_type": "alignment",
                "num_decoy_targets": 0,
                **(self.index_hashes or index_hashes(None)),
                "num_bootstraps": n_boot,
                "num_gibbs_samples": n_boot if self.options.get("num_gibbs_samples") else 0,
                "num_processed": int(self.num_processed),
                "num_mapped": int(self.num_mapped),
                "percent_mapped": 100.0 * float(self.mapping_rate),
                "num_iterations": int(len(self.convergence)),
                "call": "quant",
                "start_time": self.start_time,
                "end_time": self.end_time,
                "seconds": self.seconds,
                "step_seconds": self.step_seconds,
                "stats": self.eq_classes.stats,
            }
            _write_json(stage / "aux_info" / "meta_info.json", meta)
            produced = {name for name in _OPTIONAL_OUTPUTS if (stage / name).exists()}
        # an existing directory is updated file by file: drop an earlier run's optional files
        for name in set(_OPTIONAL_OUTPUTS) - produced:
            stale = directory / name
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
        return directory

    def _write_eq(self, path: Path) -> None:
        """Salmon's ``eq_classes.txt`` (``--dumpEq``), its lines formatted in C."""
        from ..io._table import format_ragged_rows

        eq = self.eq_classes
        body = format_ragged_rows(
            np.ascontiguousarray(eq.offsets, dtype=np.int64),
            np.ascontiguousarray(eq.tids, dtype=np.int64),
            np.rint(eq.counts).astype(np.int64))  # half to even, as round()
        with atomic_write(path, "wb") as handle:
            handle.write(f"{len(self.names)}\n{eq.n_classes}\n".encode())
            handle.write("\n".join(self.names).encode() + b"\n")
            handle.write(body)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    with atomic_write(path) as handle:
        json.dump(payload, handle, indent=2, default=_jsonable)
        handle.write("\n")


def read_tx2gene(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a two-column transcript-to-gene map (TSV or CSV, optional header, plain or
    gzipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such transcript-to-gene map")
    mapping: dict[str, str] = {}
    first_rows: list[list[str]] = []  # sniffed: a .fai or a GTF is not a map
    with open(path, "rb") as probe:
        opener = gzip.open if probe.read(2) == b"\x1f\x8b" else open
    suffixes = path.suffixes[-2:] if path.suffix == ".gz" else path.suffixes[-1:]
    sep = "," if ".csv" in suffixes else "\t"
    try:
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            for lineno, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if not line or line.startswith("#"):
                    continue
                fields = line.split(sep)
                if len(first_rows) < SNIFF_ROWS:
                    first_rows.append(fields)
                    if fields[0].startswith(">") or len(first_rows) == SNIFF_ROWS:
                        sniff_tx2gene(str(path), first_rows)
                if len(fields) < 2:
                    raise InputError(f"{path}:{lineno}: expected two columns (transcript, gene)")
                mapping[fields[0]] = fields[1]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the transcript-to-gene map: {exc}") from None
    sniff_tx2gene(str(path), first_rows)
    if not mapping:
        raise InputError(f"{path}: empty transcript-to-gene map")
    return mapping


def _placeholder_sequences(index: TranscriptIndex) -> TranscriptIndex:
    """An index whose sequences are all N (positional bias needs lengths only)."""
    return TranscriptIndex(index.names, index.lengths,
                           np.full(int(index.lengths.sum()), ord("N"), dtype=np.uint8),
                           source=index.source)


def _hint_gc_bias(index, sample, num_reads, efflen, fld, threads: int) -> None:
    """Log a one-line hint when fragment GC departs strongly from the abundances' prediction."""
    from .bias import gc_departure

    span = gc_departure(index, sample, num_reads, efflen, fld, n_threads=threads)
    if span is None:
        return
    low, high = span
    if high > GC_HINT_SPREAD * low:
        logger.warning("fragment GC departs from what the abundances predict (observed / "
                       "expected %.2f to %.2f across GC bins): --gc-bias would correct it",
                       low, high)
    else:
        logger.info("fragment GC check: observed / expected %.2f to %.2f across GC bins",
                    low, high)


def _prefetch_imports(report: bool) -> threading.Thread:
    """Import the estimation modules (scipy, the EM core) and, for the report, matplotlib in
    a background thread while the record loop (which releases the GIL) reads the BAM."""

    def load() -> None:
        try:
            importlib.import_module("emseq.quant.model")
            if report:
                importlib.import_module("matplotlib.figure")
                importlib.import_module("matplotlib.backends.backend_agg")
        except Exception:  # pragma: no cover - the main thread imports again and reports
            pass

    thread = threading.Thread(target=load, name="emseq-prefetch", daemon=True)
    thread.start()
    return thread


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def check_options(*, has_sequences: bool, num_bootstraps: int = 0, num_gibbs_samples: int = 0,
                  thinning_factor: int | None = None, fld_mean: float = 250.0, fld_sd: float = 25.0,
                  vb_prior: float = 0.01, score_exp: float | None = None,
                  seq_bias: bool | None = None, gc_bias: bool | None = None,
                  pos_bias: bool = False, bias_options: BiasOptions | None = None,
                  incompat_prior: float = 0.0, max_fraglen: int = 1000,
                  tx2gene: Any = None, gtf: Any = None, **_: Any) -> BiasOptions:
    """Check :func:`quantify`'s options before anything is read (the one check of the API,
    ``emseq quant`` and ``emseq batch``, which runs it before a cluster starts).

    ``has_sequences`` says whether the transcript sequences will be given; other keywords of
    :func:`quantify` are accepted and ignored, so its keyword dictionary can be passed whole.

    Returns
    -------
    BiasOptions
        The bias models that will be learnt (:func:`~emseq.quant.bias.resolve_bias`).

    Raises
    ------
    UsageError
        The first option out of range or contradicting another, named.
    """
    if num_bootstraps < 0 or num_gibbs_samples < 0:
        raise UsageError("num_bootstraps and num_gibbs_samples must be >= 0")
    if num_bootstraps and num_gibbs_samples:
        raise UsageError("choose bootstraps or Gibbs samples, not both")
    if thinning_factor is not None and thinning_factor < 1:
        raise UsageError(f"thinning_factor must be at least 1, got {thinning_factor}")
    if not (np.isfinite(fld_mean) and np.isfinite(fld_sd)) or fld_mean <= 0 or fld_sd <= 0:
        raise UsageError(f"fld_mean and fld_sd must be positive finite numbers, got "
                         f"{fld_mean} and {fld_sd}")
    if not np.isfinite(vb_prior) or vb_prior < 0:
        raise UsageError(f"vb_prior must be a finite number >= 0, got {vb_prior}")
    if score_exp is not None and (not np.isfinite(score_exp) or score_exp < 0):
        raise UsageError(f"score_exp must be a finite number >= 0, got {score_exp}")
    bias = resolve_bias(bias_options, seq_bias, gc_bias, pos_bias, has_sequences)
    bias.validate()
    if (bias.seq or bias.gc) and not has_sequences:
        raise UsageError("sequence and GC bias correction need the transcript sequences: "
                         "pass the transcript FASTA (-t/--transcripts)")
    if not 0.0 <= incompat_prior <= 1.0:  # also rejects NaN
        raise UsageError(f"incompat_prior is a probability in [0, 1], got {incompat_prior}")
    if max_fraglen < 10:
        raise UsageError(f"max_fraglen must be at least 10, got {max_fraglen}")
    if tx2gene is not None and gtf is not None:
        raise UsageError("give a transcript-to-gene map or a GTF, not both")
    return bias


def quantify(alignments: str | os.PathLike[str],
             transcripts: str | os.PathLike[str] | TranscriptIndex | None = None, *,
             n_threads: int | None = None, library_type: str = "A", vb: bool = True,
             tx2gene: str | os.PathLike[str] | Mapping[str, str] | None = None,
             gtf: str | os.PathLike[str] | None = None,
             squarem: bool = True, num_bootstraps: int = 0, num_gibbs_samples: int = 0,
             thinning_factor: int | None = None, seed: int = 0,
             fld_mean: float = 250.0, fld_sd: float = 25.0, max_fraglen: int = 1000,
             seq_bias: bool | None = None, gc_bias: bool | None = None, pos_bias: bool = False,
             bias_options: BiasOptions | None = None,
             score_exp: float | None = None, use_scores: bool = True,
             incompat_prior: float = 0.0,
             weight_bins: int = 4, discard_orphans: bool = False, vb_prior: float = 0.01,
             per_nucleotide_prior: bool = False,
             max_iter: int = 10_000, min_iter: int = 50, rel_tol: float = 1e-2,
             truncate_below: float = 1e-2,
             group_by_name: bool | None = None, sort_memory: int = DEFAULT_SORT_MEMORY,
             burnin: int = 50_000, show_progress: bool | None = None,
             prefetch_report: bool = False) -> QuantResult:
    """Estimate transcript abundances from alignments to a transcriptome.

    Parameters
    ----------
    alignments : path-like
        BAM/SAM/CRAM with every alignment of a fragment (bowtie2 ``-k``, STAR
        ``--quantMode TranscriptomeSAM``, minimap2 ``-N``...). Aligner order, ``samtools
        collate`` order and coordinate order all work (the last is grouped by name in memory).
    transcripts : path-like, TranscriptIndex or None
        Transcript FASTA (plain or gzipped) or a loaded index; None takes names and lengths
        from the BAM header.
    n_threads : int, optional
        Threads for BGZF decompression, the EM kernel and bootstraps (None: all cores).
    library_type : {"A", "IU", "ISF", "ISR", "U", "SF", "SR"}, default="A"
        ``"A"`` detects the orientation from the first ``burnin`` fragments.
    vb : bool, default=True
        Variational Bayes EM (Salmon's default) with a Dirichlet prior of ``vb_prior`` per
        transcript (Salmon's default; per nucleotide of effective length with
        ``per_nucleotide_prior``); False runs the maximum-likelihood EM.
    tx2gene : path-like or mapping, optional
        Transcript-to-gene map; gives :attr:`QuantResult.gene_abundances`.
    gtf : path-like, optional
        A GTF to take the transcript-to-gene map from instead (``transcript_id`` →
        ``gene_id``).
    squarem : bool, default=True
        SQUAREM acceleration (safeguarded: the objective never decreases).
    num_bootstraps : int, default=0
        Bootstrap replicates (class counts resampled, EM re-run).
    num_gibbs_samples : int, default=0
        Posterior samples by collapsed Gibbs sampling, one kept every ``thinning_factor``
        sweeps (exclusive with ``num_bootstraps``). The default (None: 64,
        ``model.GIBBS_THINNING``) is 4x Salmon's 16: the
        chain mixes slowly between transcripts that share their fragments, and kept samples
        16 sweeps apart gave intervals too narrow there (``benchmarks/bench_replicates.py``).
    fld_mean, fld_sd : float
        Normal prior of the fragment length distribution (the whole model for single-end).
    seq_bias, gc_bias : bool or None, default=None
        Learn read-start sequence and fragment GC bias from the sample, correct the effective
        lengths for them and re-run the EM (:mod:`emseq.quant.bias`); they need the transcript
        sequences. None (the default): on when the sequences are given (``transcripts`` is a
        FASTA or an index with sequences) and the sample has enough fragments to learn from,
        off otherwise (measured: on unbiased data they change the accuracy by no more than
        noise, for ~1.2x the time; on biased data they are what puts emseq ahead of Salmon).
        True without sequences is a :class:`UsageError`; False turns them off.
    pos_bias : bool, default=False
        Learn and correct positional bias along transcripts (length classes); off by default:
        on the benchmarks it cost accuracy (as Salmon's ``--posBias`` did).
    bias_options : BiasOptions, optional
        The bias models' settings (sample size, bins, rounds...); its ``seq``/``gc``/``pos``
        are overridden by the three flags above when those are set.
    score_exp : float or None, default=None
        Scale of the alignment-quality term ``exp(-score_exp * (best AS - AS))`` within a
        fragment (used when every alignment of the fragment has an ``AS`` tag, or ``NM``,
        and ``use_scores``). None learns it from the sample: the nats an extra edit costs at
        the sample's error rate (``NM`` per aligned base of unique fragments) over the AS
        points it costs (score differences per extra edit between a fragment's alignments).
    incompat_prior : float, default=0.0
        Weight of alignments whose orientation contradicts the library type (0: dropped).
    prefetch_report : bool, default=False
        Import matplotlib in the background while reading (set by the CLI when it will draw
        ``report.png``).
    discard_orphans : bool, default=False
        Drop orphan mates. By default (as Salmon) orphans of a fragment with no concordant
        pair are used as single-end alignments without a fragment length term; orphans of a
        fragment that has a concordant pair are always ignored.

    Returns
    -------
    QuantResult

    Raises
    ------
    InputError
        Unreadable, truncated or mismatching inputs (see :func:`emseq.quant.bam.read_alignments`).
    UsageError
        Options out of range.
    """
    started = time.perf_counter()
    start_time = _dt.datetime.now().astimezone().strftime("%a %b %d %H:%M:%S %Y")
    threads = resolve_threads(n_threads)
    if thinning_factor is None:
        from .model import GIBBS_THINNING as thinning_factor
    has_sequences = transcripts is not None and not (
        isinstance(transcripts, TranscriptIndex) and not transcripts.has_sequences)
    requested = bool(seq_bias or gc_bias or pos_bias or (bias_options and bias_options.any))
    # None: on with sequences (a model that cannot be learnt is then skipped quietly)
    bias = check_options(
        has_sequences=has_sequences, num_bootstraps=num_bootstraps,
        num_gibbs_samples=num_gibbs_samples, thinning_factor=thinning_factor,
        fld_mean=fld_mean, fld_sd=fld_sd, vb_prior=vb_prior, score_exp=score_exp,
        seq_bias=seq_bias, gc_bias=gc_bias, pos_bias=pos_bias, bias_options=bias_options,
        incompat_prior=incompat_prior, max_fraglen=max_fraglen, tx2gene=tx2gene, gtf=gtf)
    _prefetch_imports(prefetch_report)
    collector = _LogCollector()
    package_logger = logging.getLogger("emseq")
    # logs/emseq_quant.log gets INFO messages even when the console shows warnings only
    saved_level = package_logger.level
    effective = package_logger.getEffectiveLevel()
    saved_handlers = [(h, h.level) for h in package_logger.handlers]
    if effective > logging.INFO:
        for handler, level in saved_handlers:
            handler.setLevel(max(level, effective))
        package_logger.setLevel(logging.INFO)
    package_logger.addHandler(collector)
    steps: dict[str, float] = {}
    lap_start = [started]

    def lap(step: str) -> None:
        now = time.perf_counter()
        steps[step] = steps.get(step, 0.0) + now - lap_start[0]
        lap_start[0] = now

    try:
        index = None
        if isinstance(transcripts, TranscriptIndex):
            index = transcripts
        elif transcripts is not None:
            # the sequences only for the models that read them (bias.needs_sequences)
            index = load_transcripts(transcripts, sequences=bias.seq or bias.gc,
                                     n_threads=threads)
        # without GC correction, a cheap check of fragment GC says when --gc-bias would help
        # (where the sequences are at hand: not with --no-bias-correction and a FASTA)
        hint_gc = index is not None and index.has_sequences and not bias.gc
        gene_map = None
        if gtf is not None:
            gene_map = read_gtf_tx2gene(gtf)
        elif tx2gene is not None:
            gene_map = dict(tx2gene) if isinstance(tx2gene, Mapping) else read_tx2gene(tx2gene)
        lap("load")
        bar = _progress_bar(total=None, desc="records", unit="rec", unit_scale=True,
                            enabled=show_progress)
        try:
            index, classes = read_alignments(
                alignments, index, n_threads=threads, library_type=library_type,
                group_by_name=group_by_name, sort_memory=sort_memory, burnin=burnin,
                max_fraglen=max_fraglen, fld_mean=fld_mean, fld_sd=fld_sd, score_exp=score_exp,
                use_scores=use_scores, incompat_prior=incompat_prior, weight_bins=weight_bins,
                discard_orphans=discard_orphans, progress=bar.update,
                bias_sample=(bias.sample_fragments if bias.any
                             else GC_HINT_SAMPLE if hint_gc else 0))
        finally:
            bar.close()
        lap("read")
        from .model import (EMOptions, FragmentLengthModel, bootstrap, effective_lengths,
                            estimate, gibbs)

        fld = FragmentLengthModel.from_histogram(classes.fld_histogram, fld_mean, fld_sd)
        efflen = effective_lengths(index.lengths, fld)
        options = EMOptions(vb=vb, vb_prior=vb_prior, per_nucleotide_prior=per_nucleotide_prior,
                            squarem=squarem, rel_tol=rel_tol,
                            min_iter=min_iter, max_iter=max_iter, n_threads=threads,
                            truncate_below=truncate_below)
        num_reads, monitor = estimate(classes, efflen, options)
        logger.info("%s: %d iterations, objective %.6f", monitor.name, monitor.n_iter,
                    monitor.history[-1] if monitor.history else float("nan"))
        lap("em")
        bias_model = None
        if hint_gc:
            _hint_gc_bias(index, classes.sample, num_reads, efflen, fld, threads)
        if bias.any:
            from .bias import learn_bias

            bias_index = index if index.has_sequences else _placeholder_sequences(index)
            bias_model, efflen = learn_bias(bias_index, classes.sample, num_reads, efflen, fld,
                                            bias, n_threads=threads, warn=requested)
            if bias_model is not None:
                num_reads, monitor = estimate(classes, efflen, options, start=num_reads)
                logger.info("%s with bias-corrected effective lengths: %d iterations, "
                            "objective %.6f", monitor.name, monitor.n_iter,
                            monitor.history[-1] if monitor.history else float("nan"))
        lap("bias")
        rate = num_reads / efflen
        tpm = 1e6 * rate / rate.sum() if rate.sum() > 0 else np.zeros_like(rate)
        abundances = pd.DataFrame({"Name": index.names, "Length": index.lengths,
                                   "EffectiveLength": efflen, "TPM": tpm,
                                   "NumReads": num_reads})
        boots = None
        if num_bootstraps:
            boots = bootstrap(classes, efflen, options, num_bootstraps, start=num_reads,
                              seed=seed, n_threads=threads)
            logger.info("%d bootstrap replicates", num_bootstraps)
        elif num_gibbs_samples:
            boots = gibbs(classes, efflen, num_reads, num_gibbs_samples,
                          thinning=thinning_factor, seed=seed)
            logger.info("%d Gibbs samples (thinning %d)", num_gibbs_samples, thinning_factor)
        lap("replicates")
        genes = gene_table(abundances, gene_map) if gene_map is not None else None
        lap("genes")
        logger.info("time: %s", ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()))
        stats = classes.stats
        processed = int(stats["num_processed"])
        mapped = int(stats["num_mapped"])
        params = {"alignments": os.fspath(alignments),
                  "transcripts": index.source, "library_type": library_type, "vb": vb,
                  "squarem": squarem, "num_bootstraps": num_bootstraps,
                  "num_gibbs_samples": num_gibbs_samples, "thinning_factor": thinning_factor,
                  "seed": seed,
                  "fld_mean": fld_mean, "fld_sd": fld_sd,
                  "score_exp": classes.stats["score_exp"],
                  "score_exp_learnt": classes.stats["score_exp_learnt"],
                  "seq_bias": bias.seq, "gc_bias": bias.gc, "pos_bias": bias.pos,
                  "incompat_prior": incompat_prior, "weight_bins": weight_bins,
                  "discard_orphans": discard_orphans, "vb_prior": vb_prior,
                  "per_nucleotide_prior": per_nucleotide_prior,
                  "threads": threads}
        return QuantResult(
            abundances=abundances, convergence=monitor.to_frame(), fragment_length=fld,
            eq_classes=classes, library=classes.library, num_processed=processed,
            num_mapped=mapped, mapping_rate=mapped / processed if processed else 0.0,
            options=params, bootstraps=boots, gene_abundances=genes, bias=bias_model,
            names=list(index.names),
            start_time=start_time,
            end_time=_dt.datetime.now().astimezone().strftime("%a %b %d %H:%M:%S %Y"),
            seconds=time.perf_counter() - started, step_seconds=steps, log_lines=collector.lines,
            index_hashes=index_hashes(index))
    finally:
        package_logger.removeHandler(collector)
        package_logger.setLevel(saved_level)
        for handler, level in saved_handlers:
            handler.setLevel(level)
