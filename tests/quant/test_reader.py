"""The record loop on hand-made records: mate pairing, orphans, skipped records, classes."""

from __future__ import annotations

import numpy as np
import pysam
import pytest

from emseq.quant import TranscriptIndex, read_alignments

NAMES = ["tA", "tB", "tC"]
LENGTHS = [1000, 1200, 800]


def _write(path, records, sort_order="unsorted"):
    header = pysam.AlignmentHeader.from_dict({
        "HD": {"VN": "1.6", "SO": sort_order},
        "SQ": [{"SN": n, "LN": l} for n, l in zip(NAMES, LENGTHS)]})
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for name, flag, tid, pos, mtid, mpos, score in records:
            a = pysam.AlignedSegment(header)
            a.query_name, a.flag = name, flag
            a.reference_id, a.reference_start = tid, pos
            a.next_reference_id, a.next_reference_start = mtid, mpos
            a.query_sequence = "A" * 50
            if not flag & 4:
                a.cigarstring = "50M"
                a.set_tag("AS", score)
            out.write(a)


def _pair(name, tid, p1, p2, score=0, secondary=False):
    """An ISF pair: read 1 forward at p1, read 2 reverse at p2."""
    s = 256 if secondary else 0
    return [(name, 1 | 2 | 64 | 32 | s, tid, p1, tid, p2, score),
            (name, 1 | 2 | 128 | 16 | s, tid, p2, tid, p1, score)]


def test_collated_mates_pair_by_mate_fields(tmp_path):
    # read r1: two alignments on tA (a repeat) and one on tB; collate order puts every read-1
    # record first; the fragment lengths are 250 (tA at 100), 300 (tA at 500), 250 (tB)
    pairs = (_pair("r1", 0, 100, 300) + _pair("r1", 0, 500, 750, secondary=True)
             + _pair("r1", 1, 40, 240, secondary=True))
    collated = pairs[0::2] + pairs[1::2]
    records = collated + _pair("r2", 2, 10, 210)
    path = tmp_path / "c.bam"
    _write(path, records)
    index = TranscriptIndex(NAMES, LENGTHS)
    _, eq = read_alignments(path, index, library_type="ISF")
    assert eq.stats["num_processed"] == 2
    assert eq.stats["num_paired_fragments"] == 2
    assert eq.stats["num_missing_mate"] == 0
    assert eq.stats["num_unique_pairs"] == 1          # r2 only
    assert eq.fld_histogram[250] == 1
    classes = {tuple(eq.tids[eq.offsets[c]:eq.offsets[c + 1]]): c for c in range(eq.n_classes)}
    assert set(classes) == {(0, 1), (2,)}
    c = classes[(0, 1)]
    w = eq.weights[eq.offsets[c]:eq.offsets[c + 1]]
    assert w.sum() == pytest.approx(1.0)
    assert w[0] > w[1]                                  # two placements on tA, one on tB


def test_orphans_supplementary_unmapped(tmp_path):
    records = [
        # o1: read 1 aligned, mate unmapped -> orphan used as single-end
        ("o1", 1 | 64 | 8, 0, 100, 0, 100, 0),
        ("o1", 1 | 128 | 4, 0, 100, 0, 100, 0),
        # u1: both unmapped
        ("u1", 1 | 64 | 4 | 8, -1, -1, -1, -1, 0),
        ("u1", 1 | 128 | 4 | 8, -1, -1, -1, -1, 0),
    ]
    records += _pair("p1", 1, 10, 200)
    records.append(("p1", 1 | 64 | 2048, 2, 5, 1, 200, 0))     # supplementary
    records += _pair("p2", 0, 10, 200) + [("p2", 1 | 64 | 32 | 256, 2, 30, 1, 99, 0)]
    path = tmp_path / "o.bam"
    _write(path, records)
    _, eq = read_alignments(path, TranscriptIndex(NAMES, LENGTHS))
    st = eq.stats
    assert st["num_processed"] == 4
    assert st["num_orphan_fragments"] == 1
    assert st["num_supplementary"] == 1
    assert st["num_unmapped_records"] == 3
    assert st["num_orphan_records_dropped"] == 1        # p2's stray read 1 beside its pair
    assert st["num_mapped"] == 3
    _, dropped = read_alignments(path, TranscriptIndex(NAMES, LENGTHS), discard_orphans=True)
    assert dropped.stats["num_mapped"] == 2


def test_header_sort_order_triggers_grouping(tmp_path):
    records = _pair("x", 0, 10, 200) + _pair("y", 0, 20, 220)
    path = tmp_path / "s.bam"
    # coordinate order: x, y, x, y
    _write(path, sorted(records, key=lambda r: (r[2], r[3])), sort_order="coordinate")
    _, eq = read_alignments(path, TranscriptIndex(NAMES, LENGTHS))
    assert eq.stats["grouped_by_name_in_memory"]
    assert eq.stats["num_paired_fragments"] == 2
    assert eq.stats["num_missing_mate"] == 0
    np.testing.assert_array_equal(eq.counts, [2.0])
    assert eq.fld_histogram[240] == 1 and eq.fld_histogram[250] == 1


def test_reader_memory_follows_classes_not_reads(sim, tmp_path):
    """Eight times the fragments over the same transcripts: the read step's buffers stay the
    size the classes need (memory bounded at 50M pairs), while a per-read buffer would grow
    eightfold. The burn-in (fragments held until the fragment length model is learnt, 50,000
    by default) is a fixed cost: shortened here so both samples go past it."""
    from .simulate import simulate, write_bam

    rng = np.random.default_rng(5)
    abundance = rng.lognormal(0.0, 1.5, len(sim.tx.names))
    index = TranscriptIndex(sim.tx.names, np.array([len(s) for s in sim.tx.seqs]))
    measured = {}
    for n in (2_000, 16_000):
        fragments, _ = simulate(sim.tx, abundance, n, seed=30 + n)
        path = tmp_path / f"f{n}.bam"
        write_bam(path, sim.tx, fragments)
        _, eq = read_alignments(path, index, burnin=500, bias_sample=0)
        assert eq.stats["num_processed"] == n
        measured[n] = (eq.stats["reader_bytes"], eq.n_classes)
    (shallow, shallow_classes), (deep, deep_classes) = measured[2_000], measured[16_000]
    assert deep_classes >= shallow_classes  # the same classes, and a few rare ones more
    assert deep <= 1.3 * shallow, (shallow, deep, shallow_classes, deep_classes)
    _, burning = read_alignments(tmp_path / "f16000.bam", index, bias_sample=0)
    assert burning.stats["reader_bytes"] > 2 * deep  # so the measure sees held fragments
