"""Read a BAM/SAM/CRAM into rich equivalence classes (the Python side of ``_reader.pyx``)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import pysam  # noqa: F401  (must be imported before _reader: it provides libchtslib)

from ..errors import InputError, UsageError
from . import _reader
from .transcripts import TranscriptIndex

__all__ = ["EqClasses", "AlignmentSample", "read_alignments", "LIBRARY_TYPES"]

logger = logging.getLogger(__name__)

LIBRARY_TYPES = ("A", "IU", "ISF", "ISR", "U", "SF", "SR")

#: Memory allowed for grouping a coordinate-sorted BAM by read name in memory.
DEFAULT_SORT_MEMORY = 2 << 30


@dataclass
class EqClasses:
    """Rich equivalence classes and everything learnt while reading the alignments.

    Attributes
    ----------
    offsets : ndarray of shape (n_classes + 1,)
        Class ``c`` holds entries ``offsets[c]:offsets[c + 1]``.
    tids : ndarray of shape (nnz,)
        Transcript of each entry (index in transcript FASTA order).
    weights : ndarray of shape (nnz,)
        Mean normalised conditional weight of each entry over the class's fragments.
    counts : ndarray of shape (n_classes,)
        Fragments in each class.
    fld_histogram : ndarray of shape (max_fraglen + 1,)
        Uniquely aligned concordant pairs per fragment length.
    library : dict
        ``expected_format`` (the library type used) and fragments per observed orientation.
    stats : dict
        Record and fragment counters, and the alignment model (``score_exp`` used,
        ``error_rate``, ``as_penalty_per_edit``).
    sample : AlignmentSample or None
        The sampled fragments' alignments for the bias models (``bias_sample > 0``).
    """

    offsets: np.ndarray
    tids: np.ndarray
    weights: np.ndarray
    counts: np.ndarray
    fld_histogram: np.ndarray
    library: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)
    sample: "AlignmentSample | None" = None

    @property
    def n_classes(self) -> int:
        return int(self.counts.shape[0])

    def to_frame(self, names: list[str]):
        """One row per class: ``transcripts`` (names, comma-separated), ``weights``, ``count``."""
        import pandas as pd

        rows = []
        for c in range(self.n_classes):
            lo, hi = self.offsets[c], self.offsets[c + 1]
            rows.append((",".join(names[t] for t in self.tids[lo:hi]),
                         ",".join(f"{w:.6g}" for w in self.weights[lo:hi]), self.counts[c]))
        return pd.DataFrame(rows, columns=["transcripts", "weights", "count"])


@dataclass
class AlignmentSample:
    """Alignments of a uniform sample of the assigned fragments (for the bias models).

    Fragment ``f`` holds alignments ``offsets[f]:offsets[f + 1]``. ``kind`` 0 is a pair
    (``lo`` and ``span`` give the fragment), 1 a forward and 2 a reverse single-end read or
    orphan (``lo`` and ``span`` give the read); ``log_weight`` is the alignment's conditional
    log-likelihood (fragment length and alignment score terms) before the abundance term.
    """

    offsets: np.ndarray
    tids: np.ndarray
    lo: np.ndarray
    span: np.ndarray
    kind: np.ndarray
    log_weight: np.ndarray

    @property
    def n_fragments(self) -> int:
        return int(self.offsets.size - 1)


#: The 28-byte end-of-file block that closes every complete BGZF file (SAM spec 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _is_bgzf(head: bytes) -> bool:
    """Whether a file starting with ``head`` (at least 18 bytes) is BGZF: gzip with the
    FEXTRA flag and a ``BC`` extra subfield."""
    return (len(head) >= 18 and head[:4] == b"\x1f\x8b\x08\x04"
            and head[12:14] == b"BC")


def ends_with_bgzf_eof(path: str) -> bool:
    """Whether the file ends with BGZF's end-of-file block."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < len(BGZF_EOF):
            return False
        handle.seek(-len(BGZF_EOF), os.SEEK_END)
        return handle.read() == BGZF_EOF


def bgzf_damage(path: str, max_blocks: int = 64) -> str | None:
    """What is wrong with the first ``max_blocks`` BGZF blocks of ``path`` (a block header
    that is not BGZF's, deflate data that do not inflate, a CRC32 or length mismatch, a
    short block), or None if they are sound."""
    import struct
    import zlib

    with open(path, "rb") as handle:
        data = handle.read(max_blocks * 65536)
    at = 0
    for _ in range(max_blocks):
        if at >= len(data):
            return None
        head = data[at:at + 18]
        if len(head) < 18:
            return f"a short block header at byte {at}"
        if not _is_bgzf(head):
            return f"a damaged block header at byte {at}"
        size = struct.unpack_from("<H", head, 16)[0] + 1
        block = data[at:at + size]
        if len(block) < size:
            return None if len(data) == max_blocks * 65536 else f"a short block at byte {at}"
        try:
            payload = zlib.decompress(block[18:-8], -15)
        except zlib.error:
            return f"deflate data that do not inflate in the block at byte {at}"
        crc, isize = struct.unpack_from("<II", block, size - 8)
        if zlib.crc32(payload) != crc or len(payload) != isize:
            return f"the block at byte {at} fails its CRC32 checksum"
        at += size
    return None


def _cram_references(path: str) -> str:
    """What a CRAM's header says of its reference (``UR``/``M5`` of the first @SQ line)."""
    try:
        save = pysam.set_verbosity(0)
        try:
            text = pysam.view("-H", "--no-PG", path)
        finally:
            pysam.set_verbosity(save)
    except Exception:  # noqa: BLE001  (the header itself may be unreadable)
        return "the reference it was written against"
    for line in str(text).splitlines():
        if line.startswith("@SQ"):
            fields = dict(f.split(":", 1) for f in line.split("\t")[1:] if ":" in f)
            if "UR" in fields:
                return f"the reference it was written against ({fields['UR']})"
            if "M5" in fields:
                return f"the reference it was written against (@SQ {fields.get('SN')} M5 " \
                       f"{fields['M5']})"
    return "the reference it was written against"


@contextlib.contextmanager
def _quiet_htslib():
    """No htslib messages, and no 'Exception ignored in AlignmentFile.__dealloc__' traceback
    when pysam frees a file it failed to open (the open error itself is reported)."""
    import gc
    import sys

    saved, hooks = pysam.set_verbosity(0), (sys.unraisablehook, sys.excepthook)
    # Cython prints an exception in __dealloc__ through both hooks
    sys.unraisablehook = lambda unraisable: None
    sys.excepthook = lambda *exc_info: None
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook, sys.excepthook = hooks
        pysam.set_verbosity(saved)


def _try_open(path: str, kwargs: dict[str, Any]) -> tuple[pysam.AlignmentFile | None, str]:
    """Open with pysam, or say why not; the half-made file object is freed while htslib and
    the unraisable-exception hook are silenced."""
    with _quiet_htslib():
        try:
            return pysam.AlignmentFile(path, "r", **kwargs), ""
        except (ValueError, OSError) as exc:
            text = str(exc) or type(exc).__name__
    return None, text


def _open(path: str, reference: str | None, n_threads: int) -> pysam.AlignmentFile:
    if not Path(path).is_file():
        if Path(path).exists() and not Path(path).is_dir():
            raise InputError(f"{path}: not a regular file (a pipe or stdin?); emseq quant may "
                             "read the alignments twice: write the alignments to a file first")
        raise InputError(f"{path}: no such alignment file")
    with open(path, "rb") as probe:
        head = probe.read(18)
    magic = head[:4]
    if not magic:
        raise InputError(f"{path}: empty alignment file")
    if head[:2] == b"\x1f\x8b" and not _is_bgzf(head):
        raise InputError(f"{path}: compressed with plain gzip, not BGZF, which BAM needs "
                         "(unsupported); recompress it: `gunzip -c FILE | samtools view -b -o "
                         "FILE.bam`, or `bgzip` for a SAM file")
    kwargs: dict[str, Any] = {}
    is_cram = path.endswith(".cram") or magic == b"CRAM"
    if is_cram:
        if reference is None:
            raise InputError(f"{path}: a CRAM file needs its reference; pass the transcript "
                             "FASTA with -t (with its .fai index)")
        kwargs["reference_filename"] = reference
    handle, text = _try_open(path, kwargs)
    if handle is None:
        if is_cram:
            raise InputError(_cram_failure(path, reference)) from None
        if _is_bgzf(head) and not ends_with_bgzf_eof(path):
            raise InputError(f"{path}: truncated: no BGZF end-of-file block; it was cut short "
                             "while being written or copied") from None
        damage = bgzf_damage(path) if _is_bgzf(head) else None
        if damage is not None:
            raise InputError(f"{path}: corrupt: {damage} (in the header's blocks)") from None
        if "header" in text or "sequences" in text or "format" in text:
            raise InputError(f"{path}: not a BAM/SAM/CRAM file with a header listing the "
                             f"transcripts (@SQ lines): {text}") from None
        raise InputError(f"{path}: cannot read alignments: {text}") from None
    return handle


@contextlib.contextmanager
def _opened(path: str, reference: str | None, n_threads: int):
    """Open ``path`` (as :func:`_open`) and close it at the end, with htslib silent from the
    open to the close: its decoding threads read ahead of the record loop and report a failed
    block (or a CRAM reference they cannot load) whenever they meet it, before the loop or
    after it; our one line says what went wrong. A close error after a read error must not
    hide the latter."""
    saved = pysam.set_verbosity(0)
    try:
        handle = _open(path, reference, n_threads)
        try:
            yield handle
        finally:
            with contextlib.suppress(OSError, ValueError):
                handle.close()
    finally:
        pysam.set_verbosity(saved)


def _tid_map(handle: pysam.AlignmentFile, path: str,
             index: TranscriptIndex | None) -> tuple[TranscriptIndex, np.ndarray]:
    names = list(handle.references)
    lengths = np.asarray(handle.lengths, dtype=np.int64)
    if not names:
        raise InputError(f"{path}: the header lists no reference sequences (@SQ lines)")
    if index is None:
        return TranscriptIndex(names, lengths, None, source="BAM header"), \
            np.arange(len(names), dtype=np.int32)
    tid_map = np.fromiter((index.position(n) for n in names), dtype=np.int32, count=len(names))
    missing = [n for n, t in zip(names, tid_map) if t < 0]
    if missing:
        raise InputError(
            f"{path}: {len(missing)} of {len(names)} references in the BAM header are not "
            f"transcripts of {index.source} (first: {', '.join(missing[:3])}); was the BAM "
            "aligned to a genome or to another transcriptome?")
    bad = [(n, int(l), int(index.lengths[t])) for n, l, t in zip(names, lengths, tid_map)
           if index.lengths[t] != l]
    if bad:
        shown = ", ".join(f"{n} ({a} in the BAM, {b} in the FASTA)" for n, a, b in bad[:3])
        raise InputError(f"{path}: {len(bad)} transcript lengths differ between the BAM header "
                         f"and {index.source} (first: {shown}); was it aligned to another "
                         "version of the transcriptome?")
    if len(names) < len(index):
        logger.warning("%d transcripts of %s are not in the BAM header; they get no reads",
                       len(index) - len(names), index.source)
    return index, tid_map


#: Below this share of fragments compatible with a library type given by the user, warn.
MIN_COMPATIBLE_RATIO = 0.9


def read_alignments(path: str | os.PathLike[str], index: TranscriptIndex | None, *,
                    n_threads: int = 1, library_type: str = "A", group_by_name: bool | None = None,
                    sort_memory: int = DEFAULT_SORT_MEMORY, burnin: int = 50_000,
                    max_fraglen: int = 1000, fld_mean: float = 250.0, fld_sd: float = 25.0,
                    score_exp: float | None = None, use_scores: bool = True,
                    incompat_prior: float = 0.0, weight_bins: int = 4,
                    discard_orphans: bool = False, max_missing_mates: float = 0.05,
                    bias_sample: int = 0,
                    progress: Callable[[int], None] | None = None
                    ) -> tuple[TranscriptIndex, EqClasses]:
    """Read alignments into rich equivalence classes.

    Parameters
    ----------
    path : path-like
        BAM, SAM or CRAM aligned to the transcripts.
    index : TranscriptIndex or None
        The transcripts; None takes names and lengths from the BAM header.
    group_by_name : bool or None, default=None
        Group records by read name in memory first. None decides from the header
        (``SO:coordinate``) and, failing that, from read names recurring in a file whose
        records are in coordinate order (the file is then read a second time).
    sort_memory : int
        Bytes allowed for grouping in memory; past it the file is sorted by name on disk
        (``samtools sort -n`` through pysam, in a temporary directory) and read again.
    score_exp : float or None, default=None
        Scale of the alignment-score term ``exp(-score_exp * (best AS - AS))``; None learns
        it from the burn-in fragments (nats per edit at the sample's error rate over the AS
        points per edit, see :attr:`EqBuilder.learn_alignment_model`), 1 when they do not
        tell (fewer than 20 extra edits between alignments of a fragment).
    bias_sample : int, default=0
        Keep the alignments of up to this many fragments, a uniform sample of the file, for
        the bias models (:attr:`EqClasses.sample`).

    Returns
    -------
    index : TranscriptIndex
        ``index``, or the one made from the BAM header.
    classes : EqClasses

    Raises
    ------
    InputError
        Truncated or unreadable file, no header, header not matching the transcripts, no
        alignments, zero-length alignments, or paired reads whose mates never appear.
    """
    path = os.fspath(path)
    if library_type not in LIBRARY_TYPES:
        raise UsageError(f"library type {library_type!r} is not one of {', '.join(LIBRARY_TYPES)}")
    reference = index.source if index is not None and index.source.endswith(
        (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz")) else None
    with _opened(path, reference, n_threads) as handle:
        index, tid_map = _tid_map(handle, path, index)
        header = handle.header.to_dict()
        sort_order = header.get("HD", {}).get("SO", "unknown")
        grouped = (sort_order == "coordinate") if group_by_name is None else group_by_name
        builder, rc = _run(handle, index, tid_map, grouped, n_threads, library_type,
                           sort_memory=sort_memory, burnin=burnin, max_fraglen=max_fraglen,
                           fld_mean=fld_mean, fld_sd=fld_sd, score_exp=score_exp,
                           use_scores=use_scores, incompat_prior=incompat_prior,
                           weight_bins=weight_bins, discard_orphans=discard_orphans,
                           bias_sample=bias_sample,
                           track_order=group_by_name is None, progress=progress)
    if rc == _reader.RC["recurring"]:
        logger.warning("%s: read %s appears again after other reads and the records are in "
                       "coordinate order: grouping the records by read name in memory",
                       path, builder.problem_read)
        with _opened(path, reference, n_threads) as handle:
            builder, rc = _run(handle, index, tid_map, True, n_threads, library_type,
                               sort_memory=sort_memory, burnin=burnin, max_fraglen=max_fraglen,
                               fld_mean=fld_mean, fld_sd=fld_sd, score_exp=score_exp,
                               use_scores=use_scores, incompat_prior=incompat_prior,
                               weight_bins=weight_bins, discard_orphans=discard_orphans,
                               bias_sample=bias_sample,
                               track_order=False, progress=progress)
        grouped = True
    spilled = False
    if rc == _reader.RC["memory"] and grouped:
        spilled = True
        builder, rc = _spill_and_read(path, reference, index, tid_map, n_threads, library_type,
                                      sort_memory, progress, burnin=burnin,
                                      max_fraglen=max_fraglen, fld_mean=fld_mean, fld_sd=fld_sd,
                                      score_exp=score_exp, use_scores=use_scores,
                                      incompat_prior=incompat_prior, weight_bins=weight_bins,
                                      discard_orphans=discard_orphans, bias_sample=bias_sample)
    _check(rc, builder, path, sort_memory, index, reference)
    if builder.n_past_end:
        logger.warning("%s: %d alignments run past the end of their transcript and were "
                       "skipped (first: read %s)", path, builder.n_past_end,
                       builder.first_past_end)
    if builder.n_records == 0:
        raise InputError(f"{path}: no alignment records")
    if builder.n_assigned == 0:
        hint = ""
        paired = builder.n_paired_fragments + builder.n_orphan_fragments
        if library_type in ("U", "SF", "SR") and paired > builder.n_single_fragments:
            hint = "; the reads are paired-end: use IU, ISF or ISR (or A)"
        elif library_type in ("IU", "ISF", "ISR") and builder.n_single_fragments > paired:
            hint = "; the reads are single-end: use U, SF or SR (or A)"
        raise InputError(f"{path}: none of the {builder.n_fragments} fragments has an alignment "
                         f"usable for quantification (unmapped records: "
                         f"{builder.n_unmapped_records}, incompatible with library type "
                         f"{builder.library_name}: {builder.n_incompatible}){hint}")
    if builder.n_missing_mate:
        share = builder.n_missing_mate / max(1, builder.n_fragments)
        message = (f"{path}: {builder.n_missing_mate} paired reads ({100 * share:.1f}% of the "
                   f"fragments) say their mate is aligned but the mate never appears under the "
                   f"same read name (first: {builder.first_missing_mate})")
        if share > max_missing_mates:
            raise InputError(message + "; was the BAM filtered, or are read 1 and read 2 in "
                             "separate files?")
        logger.warning("%s; these reads %s", message, "were dropped (--discard-orphans)"
                       if discard_orphans else "were used as orphans")
    if library_type == "A":
        logger.info("library type detected from the first %d fragments: %s (%s)",
                    builder.n_burnin_fragments, builder.library_name, builder.format_counts())
    offsets, tids, weights, counts = builder.classes()
    stats = {
        "num_records": int(builder.n_records),
        "num_supplementary": int(builder.n_supplementary),
        "num_unmapped_records": int(builder.n_unmapped_records),
        "num_qcfail": int(builder.n_qcfail),
        "num_processed": int(builder.n_fragments),
        "num_mapped": int(builder.n_assigned),
        "num_paired_fragments": int(builder.n_paired_fragments),
        "num_single_fragments": int(builder.n_single_fragments),
        "num_orphan_fragments": int(builder.n_orphan_fragments),
        "num_orphan_records_dropped": int(builder.n_orphans_dropped),
        "num_missing_mate": int(builder.n_missing_mate),
        "num_incompatible_fragments": int(builder.n_incompatible),
        "num_unique_pairs": int(builder.n_unique_pairs),
        "num_alignments": int(builder.n_alignments_used),
        "num_alignments_past_end_skipped": int(builder.n_past_end),
        "num_burnin_fragments": int(builder.n_burnin_fragments),
        "sort_order": sort_order,
        "grouped_by_name_in_memory": bool(grouped),
        "grouping_bytes": int(builder.sort_bytes),
        "reader_bytes": int(builder.allocated_bytes),
        "grouped_on_disk": spilled,
        "score_exp": float(builder.score_scale),
        "score_exp_learnt": bool(score_exp is None and builder.score_scale != 1.0
                                 and builder.n_edit_comparisons >= 20),
        "error_rate": float(builder.error_rate),
        "as_penalty_per_edit": float(builder.penalty_per_edit),
    }
    counts_by_format = builder.format_counts()
    compatible = builder.n_assigned / max(1, builder.n_assigned + builder.n_incompatible)
    library = {"read_files": path, "expected_format": builder.library_name,
               "requested_format": library_type,
               "compatible_fragment_ratio": compatible,
               "num_compatible_fragments": int(builder.n_assigned),
               "num_assigned_fragments": int(builder.n_assigned),
               "num_frags_with_inconsistent_or_orphan_mappings":
                   int(builder.n_incompatible + builder.n_orphan_fragments),
               "counts": counts_by_format,
               "paired": bool(builder.n_paired_fragments + builder.n_orphan_fragments
                              >= builder.n_single_fragments)}
    if library_type != "A" and compatible < MIN_COMPATIBLE_RATIO:
        logger.warning("%s: only %.1f%% of the aligned fragments are compatible with library "
                       "type %s (observed orientations of the first alignments: %s); the others "
                       "were %s. Check -l, or pass -l A to detect the library type",
                       path, 100 * compatible, library_type,
                       ", ".join(f"{k} {v}" for k, v in counts_by_format.items() if v),
                       "down-weighted by --incompat-prior" if incompat_prior > 0 else "dropped")
    sample = AlignmentSample(*builder.bias_sample()) if bias_sample > 0 else None
    classes = EqClasses(offsets, tids, weights, counts, builder.fld_histogram(), library, stats,
                        sample)
    logger.info("%s: %d records, %d fragments (%d assigned), %d equivalence classes, library "
                "type %s", path, builder.n_records, builder.n_fragments, builder.n_assigned,
                classes.n_classes, builder.library_name)
    return index, classes


def _run(handle, index, tid_map, grouped, n_threads, library_type, *, sort_memory, burnin,
         max_fraglen, fld_mean, fld_sd, score_exp, use_scores, incompat_prior, weight_bins,
         discard_orphans, bias_sample, track_order, progress):
    builder = _reader.EqBuilder(
        len(index), tid_map, np.ascontiguousarray(index.lengths, dtype=np.int64),
        lib_type=_reader.LIB_CODES[library_type], burnin=burnin, max_fraglen=max_fraglen,
        fld_mean=fld_mean, fld_sd=fld_sd, score_exp=1.0 if score_exp is None else score_exp,
        use_scores=int(use_scores), incompat_prior=incompat_prior, n_bins=weight_bins,
        discard_orphans=int(discard_orphans), track_order=int(track_order),
        learn_scores=int(score_exp is None), bias_sample=int(bias_sample))
    threads = max(1, min(int(n_threads), 4))
    if grouped:  # htslib is silent here (_opened)
        rc = builder.read_grouped(handle, threads, progress, sort_memory)
    else:
        rc = builder.read_stream(handle, threads, progress)
    return builder, rc


def _spill_and_read(path, reference, index, tid_map, n_threads, library_type, sort_memory,
                    progress, **options):
    """Group a coordinate-sorted file by name on disk: ``samtools sort -n`` (bundled in pysam)
    with ``sort_memory`` in total, into a temporary directory, then stream the result."""
    import tempfile

    threads = max(1, int(n_threads))
    per_thread = max(1, sort_memory // threads // (1 << 20))
    logger.warning("%s: grouping by read name needs more than %.2f GiB of memory: sorting by "
                   "name on disk instead (samtools sort -n, %d MiB per thread)", path,
                   sort_memory / 2**30, per_thread)
    with tempfile.TemporaryDirectory(prefix="emseq-quant-") as tmp:
        sorted_bam = os.path.join(tmp, "by_name.bam")
        try:
            pysam.sort("-n", "-m", f"{per_thread}M", "-@", str(threads), "-T",
                       os.path.join(tmp, "part"), "-o", sorted_bam, path)
        except pysam.SamtoolsError as exc:
            raise InputError(f"{path}: sorting by read name failed: {exc}") from None
        with _opened(sorted_bam, reference, n_threads) as handle:
            return _run(handle, index, tid_map, False, n_threads, library_type,
                        sort_memory=sort_memory, track_order=False, progress=progress, **options)


#: BGZF error bits (htslib's bgzf.h)
_BGZF_ERR_ZLIB, _BGZF_ERR_HEADER, _BGZF_ERR_IO, _BGZF_ERR_CRC = 1, 2, 4, 32


def read_failure(path: str, records: int, status: int, errcode: int, errno_: int) -> str:
    """Say what stopped htslib after ``records`` good records: truncated (no end-of-file
    block, a short block), corrupt (a checksum or inflate error, a malformed record) or
    unsupported."""
    after = f"after record {records}"
    try:
        with open(path, "rb") as probe:
            bgzf = _is_bgzf(probe.read(18))
        complete = ends_with_bgzf_eof(path) if bgzf else True
    except OSError:
        bgzf, complete = False, True
    if errcode & _BGZF_ERR_CRC:
        return (f"{path}: corrupt: a compressed block {after} fails its CRC32 checksum; the "
                "file was damaged in storage or transfer")
    if errcode & _BGZF_ERR_ZLIB:
        return (f"{path}: corrupt: a compressed block {after} does not decompress (damaged "
                "deflate data)")
    if bgzf and not complete:
        return (f"{path}: truncated: no BGZF end-of-file block, and the data stop {after} "
                "(a short block); it was cut short while being written or copied")
    if errcode & (_BGZF_ERR_HEADER | _BGZF_ERR_IO):
        return (f"{path}: corrupt: a damaged or short compressed block {after}, although the "
                "file ends with its end-of-file block")
    if status == -3 and errno_ == errno.ERANGE:
        return (f"{path}: corrupt record {records + 1}: its reference id (or its mate's) is "
                "not one of the header's references")
    return (f"{path}: corrupt record {records + 1}: malformed fields (lengths, CIGAR, name or "
            "tags) that htslib cannot parse")


#: What an invalid record's fields mean, by the reader's code (``{where}``: file, record and
#: read; ``{value}``/``{limit}``: the field and its bound, ``{pos}``: ``value`` 1-based)
_INVALID_MESSAGES = {
    "tid": "{where}: reference id {value} is not one of the header's {limit} references",
    "pos_negative": "{where}: mapped at a negative position ({pos}) on {name}",
    "pos_past_end": "{where}: position {pos} is past the end of {name} ({limit} bp); was the "
                    "BAM aligned to another version of the transcriptome?",
    "mpos": "{where}: mate position {pos} is outside {name} ({limit} bp); the mate fields are "
            "damaged",
    "span": "{where}: the alignment spans {value} bp of {name}, which is {limit} bp long "
            "(CIGAR reference length); the record is damaged",
    "zero_span": "{where}: aligned with no aligned bases (empty CIGAR or zero-length "
                 "sequence); is the file damaged?",
}


def _describe_invalid(path: str, builder, index: TranscriptIndex | None) -> str:
    bad = builder.invalid_record()
    ref = bad["ref"]
    name = str(ref)
    if index is not None and bad["what"] != "tid":
        name = index.names[builder.transcript_of(ref)]
    template = _INVALID_MESSAGES.get(bad["what"], "{where}: invalid record")
    return template.format(where=f"{path}: record {bad['record']} (read {bad['read']})",
                           value=bad["value"], limit=bad["limit"], pos=bad["value"] + 1,
                           name=name)


def _cram_failure(path: str, reference: str | None) -> str:
    given = ("none was given" if reference is None else
             f"-t {reference} is gzip-compressed, which htslib cannot use as a CRAM reference: "
             "pass the uncompressed (or bgzip-compressed and indexed) FASTA"
             if reference.endswith(".gz") else f"-t {reference} does not hold it")
    return f"{path}: cannot decode the CRAM records: they need {_cram_references(path)}; {given}"


def _is_cram(path: str) -> bool:
    with open(path, "rb") as probe:
        return probe.read(4) == b"CRAM"


def _check(rc: int, builder, path: str, sort_memory: int,
           index: TranscriptIndex | None = None, reference: str | None = None) -> None:
    codes = _reader.RC
    if rc == codes["ok"]:
        return
    if rc == codes["truncated"] and _is_cram(path):
        raise InputError(_cram_failure(path, reference))
    if rc == codes["truncated"]:
        raise InputError(read_failure(path, builder.records_read, builder.read_status,
                                      builder.bgzf_errcode, builder.read_errno))
    if rc == codes["invalid"]:
        raise InputError(_describe_invalid(path, builder, index))
    if rc == codes["zero_span"]:
        raise InputError(f"{path}: read {builder.problem_read} is aligned with no aligned bases "
                         "(empty CIGAR or zero-length sequence); is the file damaged?")
    if rc == codes["name_too_long"]:
        raise InputError(f"{path}: a read name is longer than 1022 characters")
    if rc == codes["memory"]:
        raise InputError(f"{path}: out of memory while reading; run `samtools collate` "
                         "first")
    raise InputError(f"{path}: reading stopped with code {rc}")  # pragma: no cover
