"""``emseq quantmerge --quants DIR... -o merged.tsv``: Salmon's ``quantmerge``."""

from __future__ import annotations

import argparse
import logging

#: -o is one file (the output-folder policy of emseq.io.atomic, for a file)
OUTPUT_KIND = "file"

HELP = "merge one column of several quantification directories into one table (salmon quantmerge)"

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quants", nargs="+", required=True, metavar="DIR",
                        help="quantification directories (emseq's or Salmon's), same "
                             "transcripts in the same order%(default).0s")
    parser.add_argument("--names", nargs="+", metavar="NAME",
                        help="sample names, one per directory (default: the directories' "
                             "base names)%(default).0s")
    parser.add_argument("--column", default="TPM",
                        help="column to merge: len, elen, tpm or numreads (Salmon's "
                             "spellings; the quant.sf headers work too)")
    parser.add_argument("--genes", action="store_true",
                        help="merge quant.genes.sf instead of quant.sf%(default).0s")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..io.atomic import write_tsv
    from ..quant.merge import merge_quants

    output = Path(args.output)  # claimed (checked, locked) by emseq.cli.main
    merged = merge_quants(args.quants, args.names, args.column, genes=args.genes)
    write_tsv(merged, output, float_format="%.9g")
    logger.info("wrote %s (%d rows, %d samples)", args.output, len(merged), merged.shape[1] - 1)
    return 0
