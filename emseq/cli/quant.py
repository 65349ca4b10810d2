"""``emseq quant``: transcript abundances from a BAM aligned to the transcriptome."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import _types

HELP = "quantify transcript abundances from alignments to a transcriptome (Salmon-style output)"

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--alignments", required=True, metavar="BAM",
                        help="BAM/SAM/CRAM aligned to the transcripts (aligner order, collated or "
                             "coordinate-sorted)%(default).0s")
    add_engine_arguments(parser)  # --force is a common option (emseq.cli)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of one sample's quantification: ``emseq quant``'s and ``emseq batch``'s
    (one definition; :func:`quantify_options` turns them into :func:`~emseq.quant.quantify`
    keyword arguments)."""
    parser.add_argument("-t", "--transcripts", metavar="FASTA",
                        help="transcript FASTA (plain or gzipped); names and lengths must match "
                             "the BAM header (default: lengths from the BAM header)%(default).0s")
    parser.add_argument("-l", "--libType", "--lib-type", dest="lib_type", default="A",
                        choices=["A", "IU", "ISF", "ISR", "U", "SF", "SR"],
                        help="library type; A detects it from the first fragments")
    method = parser.add_mutually_exclusive_group()
    method.add_argument("--vb", dest="vb", action="store_true", default=True,
                        help="variational Bayes EM (default, as Salmon)%(default).0s")
    method.add_argument("--em", "--useEM", dest="vb", action="store_false",
                        help="maximum-likelihood EM instead of VBEM%(default).0s")
    parser.add_argument("--vb-prior", "--vbPrior", type=_types.float_range(0.0), default=0.01,
                        help="Dirichlet prior of the VBEM, per transcript (Salmon's default)")
    parser.add_argument("--per-nucleotide-prior", "--perNucleotidePrior", action="store_true",
                        help="interpret --vb-prior per nucleotide of effective length%(default).0s")
    parser.add_argument("--no-squarem", dest="squarem", action="store_false",
                        help="plain EM iterations (SQUAREM acceleration is on by default)%(default).0s")
    parser.add_argument("--num-bootstraps", "--numBootstraps", type=_types.int_range(0, 10**5), default=0, metavar="N",
                        help="bootstrap replicates (Salmon layout in aux_info/bootstrap)")
    parser.add_argument("--num-gibbs-samples", "--numGibbsSamples", type=_types.int_range(0, 10**5), default=0,
                        metavar="N", help="posterior samples by collapsed Gibbs sampling "
                                          "(same layout as bootstraps)")
    parser.add_argument("--thinning-factor", "--thinningFactor", type=_types.int_range(1, 10**4),
                        help="Gibbs sweeps per kept sample (default 64; Salmon's is 16, whose "
                             "intervals are too narrow where transcripts share fragments)")
    parser.add_argument("--seed", type=_types.int_range(0, 2**32 - 1), default=0, help="seed of the bootstraps")
    parser.add_argument("--tx2gene", metavar="MAP",
                        help="two-column transcript-to-gene map (TSV); writes quant.genes.sf%(default).0s")
    parser.add_argument("--gtf", metavar="GTF",
                        help="take the transcript-to-gene map from a GTF (transcript_id -> "
                             "gene_id); writes quant.genes.sf%(default).0s")
    parser.add_argument("-g", "--geneMap", "--gene-map", dest="gene_map", metavar="FILE",
                        help="Salmon's gene map: a GTF/GFF (by its .gtf/.gff extension, "
                             "optionally .gz) or a two-column transcript-to-gene map; writes "
                             "quant.genes.sf%(default).0s")
    parser.add_argument("--fld-mean", "--fldMean", type=_types.float_range(0.0, 10**5, low_open=True), default=250.0,
                        help="prior mean fragment length (the whole model for single-end reads)")
    parser.add_argument("--fld-sd", "--fldSD", type=_types.float_range(0.0, 10**5, low_open=True), default=25.0,
                        help="prior standard deviation of the fragment length")
    parser.add_argument("--score-exp", type=_types.float_range(0.0), default=None,
                        help="alignment-score term exp(-x * (best AS - AS)); default: x learnt "
                             "from the sample's error rate; 0 turns the term off")
    parser.add_argument("--seq-bias", "--seqBias", action="store_true", default=None,
                        help="learn and correct read-start sequence bias (needs -t; on by "
                             "default with -t)%(default).0s")
    parser.add_argument("--gc-bias", "--gcBias", action="store_true", default=None,
                        help="learn and correct fragment GC bias (needs -t; on by default "
                             "with -t)%(default).0s")
    parser.add_argument("--no-bias-correction", dest="bias_correction", action="store_false",
                        help="no sequence or GC bias correction (the default with -t corrects "
                             "both)%(default).0s")
    parser.add_argument("--pos-bias", "--posBias", action="store_true",
                        help="learn and correct positional bias along transcripts%(default).0s")
    parser.add_argument("--incompat-prior", type=_types.float_range(0.0, 1.0), default=0.0,
                        help="weight of alignments contradicting the library type (0: dropped)")
    parser.add_argument("--discard-orphans", action="store_true",
                        help="drop orphan mates (default: used when a fragment has no pair)%(default).0s")
    parser.add_argument("--group-by-name", action="store_true", default=None,
                        help="group records by read name in memory (automatic for "
                             "coordinate-sorted input)%(default).0s")
    parser.add_argument("--sort-memory", type=_types.float_range(0.0, 2**20, low_open=True), default=2.0, metavar="GiB",
                        help="memory allowed for grouping a coordinate-sorted BAM by name")
    parser.add_argument("--dump-eq", "--dumpEq", action="store_true",
                        help="write aux_info/eq_classes.txt%(default).0s")
    parser.add_argument("--no-report", dest="report", action="store_false",
                        help="do not draw report.png%(default).0s")


def run(args: argparse.Namespace) -> int:
    from ..quant import quantify

    output = Path(args.output)
    result = quantify(args.alignments, args.transcripts, n_threads=args.threads,
                      **quantify_options(args))
    command = "emseq quant " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    # the output was claimed before computing (emseq.cli.main); --force replaces it here
    started = time.perf_counter()
    result.write(output, dump_eq=args.dump_eq, report=args.report, command=command)
    logger.info("wrote %s in %.2f s (%d fragments, %.1f%% mapped, %d classes)", output,
                time.perf_counter() - started, result.num_processed, 100 * result.mapping_rate,
                result.eq_classes.n_classes)
    return 0


def quantify_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~emseq.quant.quantify` keyword arguments of the options added by
    :func:`add_engine_arguments` (all but the transcripts), checked.

    Raises
    ------
    UsageError
        Options that do not go together or out of range: the CLI's own checks, then
        :func:`emseq.quant.api.check_options` (so ``emseq batch`` finds them before any
        sample starts).
    """
    if (args.seq_bias or args.gc_bias) and not args.bias_correction:
        raise UsageError("--no-bias-correction contradicts --seq-bias/--gc-bias")
    if (args.seq_bias or args.gc_bias) and not args.transcripts:
        raise UsageError("--seq-bias and --gc-bias need the transcript sequences: pass "
                         "-t/--transcripts FASTA")
    if args.sort_memory <= 0:
        raise UsageError("--sort-memory must be positive")
    if args.gene_map:  # Salmon's -g: a GTF by its extension, else a two-column map
        if args.tx2gene or args.gtf:
            raise UsageError("give one gene map: -g/--geneMap, --tx2gene or --gtf")
        is_gtf = Path(args.gene_map).name.lower().removesuffix(".gz").endswith(
            (".gtf", ".gff", ".gff3", ".gff2"))
        args.gtf, args.tx2gene = (args.gene_map, None) if is_gtf else (None, args.gene_map)
    options = dict(
        library_type=args.lib_type,
        vb=args.vb, vb_prior=args.vb_prior, per_nucleotide_prior=args.per_nucleotide_prior,
        tx2gene=args.tx2gene, gtf=args.gtf, squarem=args.squarem,
        num_bootstraps=args.num_bootstraps, num_gibbs_samples=args.num_gibbs_samples,
        thinning_factor=args.thinning_factor, seed=args.seed, fld_mean=args.fld_mean,
        fld_sd=args.fld_sd, score_exp=args.score_exp,
        use_scores=args.score_exp is None or args.score_exp > 0,
        seq_bias=args.seq_bias if args.bias_correction else False,
        gc_bias=args.gc_bias if args.bias_correction else False, pos_bias=args.pos_bias,
        incompat_prior=args.incompat_prior, discard_orphans=args.discard_orphans,
        group_by_name=args.group_by_name, sort_memory=int(args.sort_memory * 2**30),
        show_progress=None if not args.quiet else False, prefetch_report=args.report)
    from ..quant.api import check_options

    check_options(has_sequences=bool(args.transcripts), **options)
    return options

