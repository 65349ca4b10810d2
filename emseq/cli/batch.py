"""``emseq batch SHEET -o OUT``: many samples at once on a LocalCluster or a real cluster."""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import UsageError
from . import _types

#: -o continues an earlier batch's folder (--resume) unless --force (emseq.io.atomic)
OUTPUT_KIND = "batch"

HELP = "run emseq quant (or motif) on every sample of a sample sheet through Dask"

logger = logging.getLogger("emseq.batch")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sheet", help="sample sheet, CSV or TSV with a header: sample,bam[,libtype] "
                        "(quant) or sample,fasta (motif)")
    parser.add_argument("--engine", choices=["quant", "motif"], default="quant")
    parser.add_argument("-t", "--transcripts", help="transcript FASTA shared by every sample (quant)")
    parser.add_argument("--tx2gene", help="transcript-to-gene map: adds gene-level matrices (quant)")
    parser.add_argument("-l", "--libtype", default="A",
                        choices=["A", "IU", "ISF", "ISR", "U", "SF", "SR"],
                        help="library type for samples without one")
    method = parser.add_mutually_exclusive_group()
    method.add_argument("--vb", dest="vb", action="store_true", default=True,
                        help="variational Bayes EM (default, as Salmon)")
    method.add_argument("--em", dest="vb", action="store_false", help="plain EM")
    parser.add_argument("--mod", default="zoops", help="motif model (motif engine)")
    parser.add_argument("--nmotifs", type=_types.int_range(1, 1000), default=1, help="motifs per sample (motif engine)")
    where = parser.add_argument_group("where it runs")
    where.add_argument("--scheduler", help="join a running Dask scheduler (tcp://host:8786)")
    where.add_argument("--cluster", choices=["slurm", "pbs", "sge", "lsf"],
                       help="start workers through dask-jobqueue")
    where.add_argument("--queue", help="cluster queue/partition")
    where.add_argument("--cores", type=_types.int_range(1, 4096), default=1, help="cores per cluster job")
    where.add_argument("--memory", default="4GB", help="memory per cluster job")
    where.add_argument("--walltime", default="01:00:00", help="walltime per cluster job")
    where.add_argument("--jobs", type=_types.int_range(1, 100000), default=1, help="cluster jobs to start (or at most, with --adapt)")
    where.add_argument("--adapt", action="store_true", help="scale the cluster jobs with the load")
    where.add_argument("--workers", type=_types.int_range(0, 4096), default=None,
                       help="worker processes of the local cluster (default: one per core)")
    parser.add_argument("--retries", type=_types.int_range(0, 100), default=2, help="retries of a sample whose worker died")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", dest="resume", action="store_true", default=True,
                        help="skip samples already complete with unchanged inputs (default)")
    resume.add_argument("--no-resume", dest="resume", action="store_false",
                        help="redo every sample")


def run(args: argparse.Namespace) -> int:
    from ..batch import read_sample_sheet, run as run_batch

    if args.scheduler and args.cluster:
        raise UsageError("--scheduler and --cluster exclude each other")
    if args.jobs < 1 or args.cores < 1:
        raise UsageError(f"--jobs and --cores must be at least 1, got {args.jobs} and "
                         f"{args.cores}")
    sheet = read_sample_sheet(args.sheet, args.engine)
    if args.engine == "quant":
        options = {"transcripts": args.transcripts, "vb": args.vb}
        if args.tx2gene:
            options["tx2gene"] = args.tx2gene
        if args.libtype != "A":
            options["library_type"] = args.libtype
    else:
        options = {"mod": args.mod, "nmotifs": args.nmotifs}
    cluster_options = None
    if args.cluster:
        cluster_options = {"queue": args.queue, "cores": args.cores, "memory": args.memory,
                           "walltime": args.walltime, "jobs": args.jobs, "adapt": args.adapt}
    claim = args._claim  # in place, or a stage replacing the folder with --force
    result = run_batch(sheet, claim.work_dir, engine=args.engine, options=options,
                       scheduler=args.scheduler, cluster=args.cluster,
                       cluster_options=cluster_options, n_workers=args.workers,
                       threads_per_worker=max(1, args.threads or 1), retries=args.retries,
                       resume=args.resume and claim.stage is None)
    claim.commit()
    ok = int((result.report["status"] == "ok").sum())
    logger.info("%d of %d samples done; outputs in %s", ok, len(result.report), args.output)
    if result.failed:
        print(f"emseq batch: {len(result.failed)} of {len(result.report)} samples failed: "
              f"{', '.join(result.failed)} (see {args.output}/batch_report.tsv)", file=sys.stderr)
        return 1
    return 0
