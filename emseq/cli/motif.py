"""``emseq motif INPUT.fa -o OUT/``: MEME-style de novo motif discovery."""

from __future__ import annotations

import argparse
import logging

HELP = "find DNA sequence motifs de novo with MEME's mixture models (OOPS/ZOOPS/TCM) fitted by EM"

logger = logging.getLogger("emseq.motif")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="FASTA file of DNA sequences (plain or gzipped)")
    parser.add_argument("--mod", choices=["zoops", "oops", "tcm", "anr"], default="zoops",
                        help="sites per sequence: zero or one, exactly one, any number "
                        "(anr = tcm)")
    parser.add_argument("--nmotifs", type=int, default=1, help="motifs to find")
    parser.add_argument("--minw", type=int, default=6, help="smallest motif width")
    parser.add_argument("--maxw", type=int, default=20, help="largest motif width")
    strands = parser.add_mutually_exclusive_group()
    strands.add_argument("--revcomp", dest="revcomp", action="store_true", default=True,
                         help="sites on both strands")
    strands.add_argument("--single-strand", dest="revcomp", action="store_false",
                         default=argparse.SUPPRESS, help="sites on the given strand only")
    parser.add_argument("--pal", action="store_true", help="look for palindromic motifs only")
    parser.add_argument("--bfile", metavar="FILE", help="MEME background file (instead of a "
                        "background estimated from the input)")
    parser.add_argument("--markov-order", type=int, default=2, metavar="N",
                        help="order of the background Markov model estimated from the input (0-5)")
    parser.add_argument("--mask-lowercase", action="store_true",
                        help="treat lowercase (soft-masked) letters as unknown")
    parser.add_argument("--starts", type=int, default=None, metavar="N",
                        help="EM runs per width, from the best starting points "
                             "(default: 4 with --mod oops, 2 otherwise)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the substring sampling")


def run(args: argparse.Namespace) -> int:
    from ..motif import discover

    result = discover(args.input, n_threads=args.threads, mod=args.mod, nmotifs=args.nmotifs,
                      minw=args.minw, maxw=args.maxw, revcomp=args.revcomp, pal=args.pal,
                      bfile=args.bfile, markov_order=args.markov_order,
                      mask_lowercase=args.mask_lowercase, n_starts=args.starts,
                      random_state=args.seed)
    result.write(args.output)
    logger.info("%d motif(s) written to %s", len(result.motifs), args.output)
    return 0
