"""A small, seeded RNA-seq simulator for the quant tests (no aligner needed).

Transcripts are built from shared exons (isoforms of a gene skip different exons), fragments
are drawn from known abundances with Normal fragment lengths, and every alignment of a
fragment is found by exact search of its mates in every transcript, so multimapping between
isoforms comes from the sequences themselves. Reads carry a few sequencing errors, counted in
the ``AS`` tag as bowtie2 would (-6 per mismatch). The BAM is written with pysam in aligner
order (all records of a read adjacent, mates consecutive), ``samtools collate`` order or
coordinate order.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import numpy as np
import pysam

_COMP = str.maketrans("ACGT", "TGCA")


def revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


@dataclass
class Transcriptome:
    names: list[str]
    seqs: list[str]
    genes: list[str]

    def write_fasta(self, path, gz: bool = False) -> None:
        opener = gzip.open if gz else open
        with opener(path, "wt") as handle:
            for name, seq in zip(self.names, self.seqs):
                handle.write(f">{name} simulated\n")
                for i in range(0, len(seq), 60):
                    handle.write(seq[i:i + 60] + "\n")


def make_transcriptome(seed: int = 1, n_genes: int = 12) -> Transcriptome:
    """Genes of 5 exons; isoforms: all exons, skip exon 2, skip exons 2 and 4 (some genes have
    one or two isoforms only)."""
    rng = np.random.default_rng(seed)
    names, seqs, genes = [], [], []
    for g in range(n_genes):
        exons = ["".join(rng.choice(list("ACGT"), size=int(rng.integers(150, 450))))
                 for _ in range(5)]
        patterns = [(0, 1, 2, 3, 4), (0, 2, 3, 4), (0, 2, 4)]
        if g % 4 == 3:
            patterns = patterns[:1]
        elif g % 4 == 2:
            patterns = patterns[:2]
        for i, pattern in enumerate(patterns):
            names.append(f"G{g:02d}-T{i}")
            seqs.append("".join(exons[e] for e in pattern))
            genes.append(f"G{g:02d}")
    return Transcriptome(names, seqs, genes)


@dataclass
class Fragment:
    name: str
    origin: int
    # (tid, pos1, rev1, pos2, rev2) per alignment; pos2 None for single-end
    alignments: list[tuple]
    seq1: str
    seq2: str | None
    mismatches: int


def _fragment_shape(rng: np.random.Generator, length: int, read_len: int, frag_mean: float,
                    frag_sd: float) -> tuple[int, int]:
    """A fragment length ~ round(Normal) within [read_len, length] and a uniform start."""
    while True:
        flen = int(round(rng.normal(frag_mean, frag_sd)))
        if read_len <= flen <= length:
            break
    return flen, int(rng.integers(0, length - flen + 1))


def simulate(tx: Transcriptome, abundance: np.ndarray, n_fragments: int, *, seed: int = 2,
             paired: bool = True, read_len: int = 75, frag_mean: float = 250,
             frag_sd: float = 25, error_rate: float = 0.005, stranded: str = "IU",
             n_unmapped: int = 0, acceptance=None) -> tuple[list[Fragment], np.ndarray]:
    """Draw fragments (``abundance`` is proportional to molecules per nucleotide).

    ``acceptance(sequence, start, length)``, if given, is the probability that a drawn fragment
    is kept (a library bias): fragments are drawn and thinned until ``n_fragments`` are kept,
    so ``abundance`` stays the truth while the kept counts are biased.

    Returns the fragments and the kept fragment count per transcript.
    """
    rng = np.random.default_rng(seed)
    lengths = np.array([len(s) for s in tx.seqs])
    eff = np.maximum(lengths - frag_mean, 1)
    p = abundance * eff
    p = p / p.sum()
    drawn: list[tuple[int, int, int]] = []
    if acceptance is None:
        origins = rng.choice(len(tx.seqs), size=n_fragments, p=p)
    else:
        while len(drawn) < n_fragments:
            for t in rng.choice(len(tx.seqs), size=n_fragments, p=p):
                flen, start = _fragment_shape(rng, len(tx.seqs[t]), read_len, frag_mean,
                                              frag_sd)
                if rng.random() < acceptance(tx.seqs[t], start, flen):
                    drawn.append((int(t), start, flen))
        drawn = drawn[:n_fragments]
        origins = np.array([d[0] for d in drawn], dtype=np.int64)
    truth = np.bincount(origins, minlength=len(tx.seqs)).astype(float)
    fragments = []
    for i, t in enumerate(origins):
        seq = tx.seqs[t]
        if drawn:
            _, start, flen = drawn[i]
        else:
            flen, start = _fragment_shape(rng, len(seq), read_len, frag_mean, frag_sd)
        frag = seq[start:start + flen]
        if stranded == "ISF":
            forward = True
        elif stranded == "ISR":
            forward = False
        else:
            forward = bool(rng.integers(2))
        left, right = frag[:read_len], frag[-read_len:]
        alignments = []
        for u, other in enumerate(tx.seqs):
            if paired:
                p1 = other.find(left)
                while p1 >= 0:
                    p2 = other.find(right, p1)
                    while p2 >= 0:
                        if p2 + read_len - p1 <= 1000:
                            if forward:
                                alignments.append((u, p1, False, p2, True))
                            else:
                                alignments.append((u, p2, True, p1, False))
                        p2 = other.find(right, p2 + 1)
                    p1 = other.find(left, p1 + 1)
            else:
                query = left if forward else right
                p1 = other.find(query)
                while p1 >= 0:
                    alignments.append((u, p1, not forward, None, None))
                    p1 = other.find(query, p1 + 1)
        # the true alignment first (the aligner's primary)
        alignments.sort(key=lambda a: (a[0] != t, a))
        s1 = left if forward else revcomp(right)
        s2 = revcomp(right) if forward else left
        mism = int(rng.binomial(2 * read_len if paired else read_len, error_rate))
        fragments.append(Fragment(f"r{i:07d}", int(t), alignments, s1, s2 if paired else None,
                                  mism))
    for j in range(n_unmapped):
        fragments.append(Fragment(f"u{j:07d}", -1, [], "A" * read_len,
                                  "C" * read_len if paired else None, 0))
    order = rng.permutation(len(fragments))
    return [fragments[k] for k in order], truth


def _record(header, name, flag, tid, pos, seq, rev, mate, score, read_len):
    a = pysam.AlignedSegment(header)
    a.query_name = name
    a.flag = flag
    if tid is None:
        a.reference_id = -1
        a.reference_start = -1
        a.query_sequence = seq
        a.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
    else:
        a.reference_id = tid
        a.reference_start = pos
        a.cigarstring = f"{read_len}M"
        a.mapping_quality = 255
        a.query_sequence = revcomp(seq) if rev else seq
        a.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
        a.set_tag("AS", score)
        a.set_tag("NM", 0)
    if mate is not None:
        a.next_reference_id, a.next_reference_start, a.template_length = mate
    return a


def write_bam(path, tx: Transcriptome, fragments: list[Fragment], *, order: str = "name",
              read_len: int = 75, sort_order_header: bool = True) -> None:
    """Write the fragments' alignments; ``order`` is "name", "collate" or "coordinate"."""
    hd = {"VN": "1.6", "SO": "coordinate" if order == "coordinate" and sort_order_header
          else "unsorted"}
    header = pysam.AlignmentHeader.from_dict({
        "HD": hd, "SQ": [{"SN": n, "LN": len(s)} for n, s in zip(tx.names, tx.seqs)]})
    records = []
    for f in fragments:
        score = -6 * f.mismatches
        group1, group2 = [], []
        paired = f.seq2 is not None
        if not f.alignments:
            if paired:
                group1.append(_record(header, f.name, 1 | 4 | 8 | 64, None, 0, f.seq1, False,
                                      None, 0, read_len))
                group2.append(_record(header, f.name, 1 | 4 | 8 | 128, None, 0, f.seq2, False,
                                      None, 0, read_len))
            else:
                group1.append(_record(header, f.name, 4, None, 0, f.seq1, False, None, 0,
                                      read_len))
        for k, (t, p1, rev1, p2, rev2) in enumerate(f.alignments):
            secondary = 256 if k else 0
            if paired:
                tlen = max(p1, p2) + read_len - min(p1, p2)
                flag1 = 1 | 2 | 64 | secondary | (16 if rev1 else 0) | (32 if rev2 else 0)
                flag2 = 1 | 2 | 128 | secondary | (16 if rev2 else 0) | (32 if rev1 else 0)
                r1 = _record(header, f.name, flag1, t, p1, f.seq1, rev1,
                             (t, p2, tlen if p1 <= p2 else -tlen), score, read_len)
                r2 = _record(header, f.name, flag2, t, p2, f.seq2, rev2,
                             (t, p1, -tlen if p1 <= p2 else tlen), score, read_len)
                group1.append(r1)
                group2.append(r2)
            else:
                group1.append(_record(header, f.name, secondary | (16 if rev1 else 0), t, p1,
                                      f.seq1, rev1, None, score, read_len))
        if order == "collate":
            records.extend(group1 + group2)
        else:
            for k in range(len(group1)):
                records.append(group1[k])
                if group2:
                    records.append(group2[k])
    if order == "coordinate":
        records.sort(key=lambda r: (r.reference_id if r.reference_id >= 0 else 1 << 30,
                                    r.reference_start))
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for r in records:
            out.write(r)


@dataclass
class SimulatedClasses:
    """Equivalence classes drawn from a known generative model (see :func:`simulate_classes`).

    ``expected`` is the mean fragment count of each transcript (``n_fragments * p_t``, the
    abundance a replicate's interval should cover); ``realized`` the fragments actually drawn
    from it; ``ambiguity`` the fraction of a transcript's fragments that fell in classes of
    more than one transcript.
    """

    classes: object
    efflen: np.ndarray
    expected: np.ndarray
    realized: np.ndarray
    ambiguity: np.ndarray


def simulate_classes(seed: int, n_genes: int = 60, n_fragments: int = 50_000,
                     sigma: float = 1.5) -> SimulatedClasses:
    """Equivalence classes with exact likelihoods, no reads: genes of 1-4 isoforms; a fragment
    of isoform ``t`` falls in one of the classes (subsets of its gene's isoforms containing
    ``t``) with probability ``q[t, c]``, and the class weight is ``q[t, c] * efflen_t`` so that
    the EM's likelihood ``alpha_t * w / efflen_t`` is the generating model."""
    from itertools import combinations

    from emseq.quant.bam import EqClasses

    rng = np.random.default_rng(seed)
    patterns: list[tuple[int, ...]] = []
    n_tx = 0
    for _ in range(n_genes):
        k = int(rng.choice([1, 1, 2, 3, 4]))
        iso = list(range(n_tx, n_tx + k))
        n_tx += k
        for size in range(1, k + 1):
            patterns.extend(combinations(iso, size))
    efflen = rng.uniform(300, 3000, n_tx)
    # q[t, c]: Dirichlet over the patterns containing t, the unique one favoured a little
    q = np.zeros((n_tx, len(patterns)))
    for t in range(n_tx):
        cols = [c for c, pat in enumerate(patterns) if t in pat]
        conc = np.array([2.0 if len(patterns[c]) == 1 else 1.0 for c in cols])
        q[t, cols] = rng.dirichlet(conc)
    abundance = rng.lognormal(0.0, sigma, n_tx)
    abundance[rng.random(n_tx) < 0.1] = 0.0
    p = abundance / abundance.sum()
    realized = rng.multinomial(n_fragments, p)
    class_counts = np.zeros(len(patterns), dtype=np.int64)
    shared = np.zeros(n_tx)
    for t in np.flatnonzero(realized):
        draw = rng.multinomial(realized[t], q[t])
        class_counts += draw
        shared[t] = draw[[len(pat) > 1 for pat in patterns]].sum()
    keep = np.flatnonzero(class_counts)
    offsets = np.concatenate([[0], np.cumsum([len(patterns[c]) for c in keep])]).astype(np.int64)
    tids = np.array([t for c in keep for t in patterns[c]], dtype=np.int32)
    weights = np.array([q[t, c] * efflen[t] for c in keep for t in patterns[c]])
    classes = EqClasses(offsets=offsets, tids=tids, weights=weights,
                        counts=class_counts[keep].astype(np.float64),
                        fld_histogram=np.zeros(1), library={}, stats={})
    ambiguity = np.divide(shared, realized, out=np.zeros(n_tx), where=realized > 0)
    return SimulatedClasses(classes, efflen, n_fragments * p, realized.astype(np.float64),
                            ambiguity)


def interval_coverage(replicates: np.ndarray, truth: np.ndarray, level: float = 0.95,
                      mask: np.ndarray | None = None) -> float:
    """Fraction of transcripts (``mask``) whose ``truth`` lies inside the central ``level``
    interval of the replicates (percentiles of the rows)."""
    lo, hi = np.percentile(replicates, [50 * (1 - level), 50 * (1 + level)], axis=0)
    inside = (truth >= lo) & (truth <= hi)
    return float(inside[mask].mean() if mask is not None else inside.mean())
