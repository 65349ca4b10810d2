"""``emseq motif INPUT.fa -o OUT/``: MEME-style de novo motif discovery.

MEME's own spellings are accepted too (``emseq motif seqs.fa -dna -revcomp -mod zoops
-nmotifs 2 -minw 8 -maxw 50 -oc DIR``): before parsing, each single-dash MEME option is
rewritten to its emseq spelling (:data:`MEME_OPTIONS`), so ``-oc DIR`` is the output folder,
never ``-o c``. Differences from MEME: sites are searched on both strands unless
``--single-strand`` (MEME: the given strand unless ``-revcomp``); ``-o`` and ``-oc`` both
replace an existing output folder; the alphabet is DNA only; ``-neg``/``-objfun``/``-shuf``
work as in MEME but the de/se p-value is computed on a held-out half after the search on all
sequences (MEME's ``-hsfrac``/``-test`` are refused: see :mod:`emseq.motif.discriminative`).
With ``--db DB.meme`` every motif found gets its best match in a motif database
(:mod:`emseq.motif.compare`), in ``motifs.tsv`` (``db_match, db_match_name, db_match_q``).

Two subcommands work on motif files instead (a first argument ``compare`` or ``scan`` picks
them; a FASTA file of that name needs a path, ``./scan``):

- ``emseq motif compare motifs.meme --db DB.meme [-o tomtom_out]``: Tomtom's comparison with a
  motif database, ``tomtom.tsv`` (:mod:`emseq.motif.compare`);
- ``emseq motif scan motifs.meme seqs.fa [-o fimo_out]``: FIMO's motif scan, ``fimo.tsv``
  (:mod:`emseq.motif.scan`).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, Sequence

from . import _types

HELP = ("find DNA sequence motifs de novo with MEME's mixture models (OOPS/ZOOPS/TCM) fitted by EM; "
        "emseq motif compare / scan: Tomtom's and FIMO's methods")

logger = logging.getLogger("emseq.motif")

#: MEME's single-dash options and their emseq spellings (None: accepted and ignored)
MEME_OPTIONS = {
    "-dna": None, "-rna": None, "-revcomp": "--revcomp", "-pal": "--pal", "-mod": "--mod",
    "-nmotifs": "--nmotifs", "-minw": "--minw", "-maxw": "--maxw", "-nsites": "--nsites",
    "-minsites": "--minsites", "-maxsites": "--maxsites", "-evt": "--evt",
    "-markov_order": "--markov-order", "-bfile": "--bfile", "-oc": "--output",
    "-searchsize": "--searchsize", "-seed": "--seed", "-nostatus": "--quiet",
    "-maxiter": "--maxiter", "-neg": "--neg", "-objfun": "--objfun", "-shuf": "--shuf",
}
#: MEME options whose feature emseq does not have: a clear usage error, not a silent no-op
MEME_UNSUPPORTED = {"-protein": "emseq motif finds DNA motifs only",
                    "-alph": "emseq motif finds DNA motifs only (alphabet ACGT)",
                    "-hsfrac": "emseq searches all sequences and tests de/se motifs on a "
                               "random held-out half (not settable)",
                    "-test": "emseq picks MEME's test by model: hypergeometric (ZOOPS), "
                             "binomial (TCM), rank-sum (OOPS)"}


def translate_meme_options(argv: Sequence[str]) -> list[str]:
    """``argv`` with MEME's single-dash options rewritten to emseq's (see module doc)."""
    from ..errors import UsageError

    out: list[str] = []
    for token in argv:
        if token in MEME_UNSUPPORTED:
            raise UsageError(f"{token}: {MEME_UNSUPPORTED[token]}")
        if token == "-oc":  # MEME's -oc replaces the folder: emseq's --force
            out.extend(["--force", "--output"])
            continue
        if token in MEME_OPTIONS:
            if MEME_OPTIONS[token] is not None:
                out.append(MEME_OPTIONS[token])
            continue
        out.append(token)
    return out


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _control(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a FASTA file of control sequences or 'shuffle'")
    return text


#: ``emseq motif SUBCOMMAND``: its default output folder (Tomtom's and FIMO's)
SUBCOMMANDS = {"compare": "tomtom_out", "scan": "fimo_out"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="FASTA file of DNA sequences (plain or gzipped); or "
                                      "'compare' / 'scan' (see emseq motif compare -h)")
    add_engine_arguments(parser)
    _parse_meme_spellings(parser)


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    from ..motif.compare import DISTANCES, QVALUE_METHODS

    parser.add_argument("motifs", help="MEME motif file of the query motifs")
    parser.add_argument("--db", required=True, metavar="DB.meme",
                        help="MEME motif file of the database (e.g. "
                             "data/motif/JASPAR_CORE_vertebrates_nonredundant.meme)")
    parser.add_argument("--thresh", type=_types.float_range(0, 1, low_open=True), default=0.5,
                        help="report matches with q-value <= this (Tomtom's -thresh)")
    parser.add_argument("--dist", choices=DISTANCES, default="pearson",
                        help="column similarity: Pearson correlation or Euclidean distance")
    parser.add_argument("--qvalue", choices=QVALUE_METHODS, default="bh",
                        help="q-values by Benjamini-Hochberg or Storey (Tomtom's)")
    parser.add_argument("--norc", action="store_true",
                        help="do not compare with the targets' reverse complements")


def _scan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("motifs", help="MEME motif file")
    parser.add_argument("sequences", help="FASTA file of DNA sequences (plain or gzipped)")
    parser.add_argument("--thresh", type=_types.float_range(0, 1, low_open=True), default=1e-4,
                        help="report windows with p-value < this (FIMO's --thresh)")
    parser.add_argument("--bfile", metavar="FILE|motif|uniform|sequence", default="motif",
                        help="background: a MEME background file, the motif file's "
                             "frequencies, uniform, or the sequences' own")
    parser.add_argument("--motif-pseudo", type=_types.float_range(0), default=0.1,
                        metavar="X", help="pseudocount added to the motifs (FIMO's)")
    parser.add_argument("--motif", action="append", default=None, metavar="ID",
                        help="scan only this motif (repeatable)")
    parser.add_argument("--norc", action="store_true", help="scan the given strand only")


def _subcommand_parser(parent: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of ``emseq motif compare`` or ``emseq motif scan``: its own options and the
    common ones, ``-o`` defaulting to Tomtom's or FIMO's folder name."""
    from . import _add_common_arguments

    sub = type(parent)(prog=f"{parent.prog} {name}", formatter_class=parent.formatter_class,
                       description=RUNS[name][1])
    RUNS[name][0](sub)
    _add_common_arguments(sub)
    for action in sub._actions:
        if action.dest == "output":
            action.required = False
            action.default = SUBCOMMANDS[name]
            action.help = f"output directory (default: {SUBCOMMANDS[name]})"
    sub.set_defaults(_run=RUNS[name][2], _prog=f"emseq motif {name}", _output_kind="dir")
    return sub


def _add_control_arguments(parser: argparse.ArgumentParser) -> None:
    """Discriminative discovery (MEME's ``-neg``, ``-objfun``, ``-shuf``); in a batch the
    same control (or ``shuffle``: each sample's own shuffle) for every sample."""
    from ..motif.options import OBJECTIVES, SHUFFLE_K_RANGE

    parser.add_argument("--neg", type=_control, metavar="FASTA|shuffle", default=None,
                        help="control sequences (MEME's -neg): motifs are scored by their "
                             "enrichment over them; 'shuffle': the input shuffled keeping its "
                             "k-mer counts")
    parser.add_argument("--objfun", choices=OBJECTIVES, default=None,
                        help="MEME's objective function: classic (default without --neg), de "
                             "(differential enrichment, default with --neg), se (selective)")
    parser.add_argument("--shuf", type=_types.int_range(*SHUFFLE_K_RANGE), default=None,
                        metavar="K", help="k of the k-mer preserving shuffle of --neg shuffle "
                                          "(MEME's -shuf; default 2)")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of one motif search: ``emseq motif``'s and ``emseq batch``'s (one
    definition; :func:`discover_options` turns them into :func:`~emseq.motif.discover`
    keyword arguments)."""
    parser.add_argument("--db", metavar="DB.meme", default=None,
                        help="MEME motif database: give each motif found its best match "
                             "(db_match, db_match_name, db_match_q in motifs.tsv)")
    parser.add_argument("--png", action="store_true",
                        help="also draw logo_<id>.png and summary.png with matplotlib (the "
                             "SVG logos and summary.html are always written)")
    parser.add_argument("--mod", choices=["zoops", "oops", "tcm", "anr"], default="zoops",
                        help="sites per sequence: zero or one, exactly one, any number "
                        "(anr = tcm)")
    parser.add_argument("--nmotifs", type=_types.int_range(1, 1000), default=1, help="motifs to find")
    parser.add_argument("--evt", type=_positive_float, default=float("inf"), metavar="E",
                        help="stop once a motif's E-value exceeds E (MEME's -evt; default: "
                             "no limit, as MEME)")
    parser.add_argument("--minw", type=_types.int_range(2, 300), default=6, help="smallest motif width")
    parser.add_argument("--maxw", type=_types.int_range(2, 300), default=20, help="largest motif width")
    parser.add_argument("--nsites", type=_types.int_range(1), default=None, metavar="N",
                        help="exactly N sites (ZOOPS/TCM; sets --minsites and --maxsites)")
    parser.add_argument("--minsites", type=_types.int_range(1), default=None, metavar="N",
                        help="at least N sites (default: 2)")
    parser.add_argument("--maxsites", type=_types.int_range(1), default=None, metavar="N",
                        help="at most N sites (default: the number of sequences for ZOOPS, "
                             "max(5 x sequences, 100) for TCM)")
    strands = parser.add_mutually_exclusive_group()
    strands.add_argument("--revcomp", dest="revcomp", action="store_true", default=True,
                         help="sites on both strands")
    strands.add_argument("--single-strand", dest="revcomp", action="store_false",
                         default=argparse.SUPPRESS, help="sites on the given strand only")
    parser.add_argument("--pal", action="store_true", help="look for palindromic motifs only")
    parser.add_argument("--bfile", metavar="FILE", help="MEME background file (instead of a "
                        "background estimated from the input)")
    parser.add_argument("--markov-order", type=_types.int_range(0, 5), default=2, metavar="N",
                        help="order of the background Markov model estimated from the input (0-5)")
    parser.add_argument("--mask-lowercase", action="store_true",
                        help="treat lowercase (soft-masked) letters as unknown")
    parser.add_argument("--starts", type=_types.int_range(1, 10**4), default=None, metavar="N",
                        help="EM runs per width, from the best starting points "
                             "(default: 4 with --mod oops, 2 otherwise)")
    parser.add_argument("--searchsize", type=_types.int_range(0), default=None, metavar="N",
                        help="letters the starting points are searched on (a random subset of "
                             "sequences beyond; default 200000, 0: all)")
    parser.add_argument("--maxiter", type=_types.int_range(1, 10**6), default=50, metavar="N",
                        help="EM iterations at most per run")
    parser.add_argument("--seed", type=_types.int_range(0, 2**32 - 1), default=0,
                        help="random seed of the substring sampling")
    _add_control_arguments(parser)


def _parse_meme_spellings(parser: argparse.ArgumentParser) -> None:
    """Let the sub-parser read MEME's spellings, and report unknown options under its own
    usage (not under emseq's top-level usage)."""
    parse_known = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        from ..errors import UsageError

        if args and args[0] in SUBCOMMANDS:
            import shlex

            namespace, extras = _subcommand_parser(parser, args[0]).parse_known_args(
                args[1:], namespace)
            # the command line, for the closing comments of tomtom.tsv / fimo.tsv
            namespace._command = shlex.join(["emseq", "motif", *args])
            return namespace, extras
        try:
            argv = translate_meme_options(list(args) if args is not None else [])
        except UsageError as exc:
            parser.error(str(exc))
        namespace, extras = parse_known(argv, namespace)
        if extras:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def discover_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~emseq.motif.discover` keyword arguments of the options added by
    :func:`add_engine_arguments`, checked (:class:`~emseq.errors.UsageError` when they do
    not go together)."""
    from ..motif.options import SearchOptions

    options = dict(mod=args.mod, nmotifs=args.nmotifs, minw=args.minw, maxw=args.maxw,
                   revcomp=args.revcomp, pal=args.pal, bfile=args.bfile,
                   markov_order=args.markov_order, mask_lowercase=args.mask_lowercase,
                   n_starts=args.starts, random_state=args.seed, evt=args.evt,
                   nsites=args.nsites, minsites=args.minsites, maxsites=args.maxsites,
                   searchsize=args.searchsize, max_iter=args.maxiter, neg=args.neg,
                   objfun=args.objfun, shuffle_k=args.shuf)
    SearchOptions.validate(args.mod, args.nmotifs, args.minw, args.maxw, args.markov_order,
                           SearchOptions.prior_strength, args.starts, args.nsites,
                           args.minsites, args.maxsites, args.evt, args.searchsize)
    SearchOptions.validate_objective(args.objfun, args.neg, args.shuf)
    return options


def discover_annotated(sequences, db: str | None, n_threads: int, **options):
    """:func:`~emseq.motif.discover`, then each motif's best match in the motif database
    ``db`` (read first: a bad database fails before the search); ``emseq motif`` and
    ``emseq batch --engine motif`` alike."""
    from ..motif import discover

    database = None
    if db is not None:
        from ..motif.meme import read_meme_file

        database = read_meme_file(db)
    result = discover(sequences, n_threads=n_threads, **options)
    if database is not None:
        from ..motif.compare import annotate

        annotate(result.motifs, database, n_threads=n_threads)
    return result


def run(args: argparse.Namespace) -> int:
    result = discover_annotated(args.input, args.db, args.threads, **discover_options(args))
    result.write(args.output, png=args.png)
    logger.info("%d motif(s) written to %s", len(result.motifs), args.output)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """``emseq motif compare``: write ``tomtom.tsv``."""
    from ..io.atomic import atomic_output_dir
    from ..motif.compare import compare_motifs, write_tomtom

    table = compare_motifs(args.motifs, args.db, dist=args.dist, thresh=args.thresh,
                           qvalue=args.qvalue, both_strands=not args.norc,
                           n_threads=args.threads)
    with atomic_output_dir(args.output, force=args.force) as stage:
        write_tomtom(table, stage, command=args._command)
    logger.info("%d match(es) with q-value <= %g written to %s/tomtom.tsv", len(table),
                args.thresh, args.output)
    return 0


def run_scan(args: argparse.Namespace) -> int:
    """``emseq motif scan``: write ``fimo.tsv``."""
    from ..io.atomic import atomic_output_dir
    from ..motif.scan import scan_sequences, write_fimo

    hits = scan_sequences(args.motifs, args.sequences, thresh=args.thresh, bfile=args.bfile,
                          both_strands=not args.norc, pseudocount=args.motif_pseudo,
                          motif_ids=args.motif, n_threads=args.threads)
    with atomic_output_dir(args.output, force=args.force) as stage:
        write_fimo(hits, stage, command=args._command)
    logger.info("%d hit(s) with p-value < %g written to %s/fimo.tsv", len(hits), args.thresh,
                args.output)
    return 0


#: subcommand -> (its arguments, its description, its run function)
RUNS = {
    "compare": (_compare_arguments, "compare motifs with a motif database by Tomtom's method "
                                    "(Gupta et al. 2007): tomtom.tsv", run_compare),
    "scan": (_scan_arguments, "find motif occurrences in sequences by FIMO's method (Grant et "
                              "al. 2011): fimo.tsv", run_scan),
}
