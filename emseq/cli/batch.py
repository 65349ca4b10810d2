"""``emseq batch SHEET -o OUT``: many samples at once on a LocalCluster or a real cluster.

The per-sample options are those of ``emseq quant``, ``emseq motif`` and ``emseq mixture``,
added by the same functions (``add_engine_arguments`` of :mod:`emseq.cli.quant`,
:mod:`emseq.cli.motif` and :mod:`emseq.cli.mixture`); an option of the engine the batch does not run
is a usage error. Everything is checked before any worker or cluster job starts: the engine's
options, the job shape, the sample sheet, the shared files and the submit command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import _types
from . import mixture as mixture_cli
from . import motif as motif_cli
from . import quant as quant_cli

#: -o continues an earlier batch's folder (--resume) unless --force (emseq.io.atomic)
OUTPUT_KIND = "batch"

HELP = "run emseq quant (or motif, or mixture) on every sample of a sample sheet through Dask"

logger = logging.getLogger("emseq.batch")

def _fit_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``emseq mixture``'s fit, checked, as its ``run_fit`` reads them."""
    mixture_cli.check_fit_options(args)
    return {k: v for k, v in vars(args).items() if k not in _COMMON}


#: Per engine: the function adding its per-sample options and the one reading them back.
ENGINES = {"quant": (quant_cli.add_engine_arguments, quant_cli.quantify_options),
           "motif": (motif_cli.add_engine_arguments, motif_cli.discover_options),
           "mixture": (mixture_cli.add_engine_arguments, _fit_options)}
#: Options of every command, passed on to the engines' option readers.
_COMMON = ("threads", "quiet", "output")
#: Options that only steer the display or prefetching: not part of a sample's manifest.
_NOT_IN_MANIFEST = ("show_progress", "prefetch_report")


class _EngineOptions:
    """Adds one engine's options to an argument group of the batch parser and records which
    engine each option belongs to. An option several engines define (``--seed``) is added
    once and shared; a destination another engine's different option uses (quant's
    ``--no-squarem`` and mixture's ``--squarem``) gets the engine's name in front, and
    :func:`_engine_view` gives it back its own name."""

    def __init__(self, parser: argparse.ArgumentParser, container, engine: str,
                 owners: dict[str, dict[str, Any]]) -> None:
        self.parser = parser
        self.container = container
        self.engine = engine
        self.owners = owners

    def add_argument(self, *names: str, **kwargs: Any):
        existing = next((self.parser._option_string_actions[name] for name in names
                         if name in self.parser._option_string_actions), None)
        if existing is not None:  # the same option in both engines
            engines = self.owners[existing.dest]["engines"]
            engines.add(self.engine)
            first = self.owners[existing.dest].setdefault("help", existing.help)
            existing.help = f"{first} (one option of {', '.join(sorted(engines))})"
            aliases = [n for n in names if n not in self.parser._option_string_actions]
            if aliases:  # this engine's other spellings (mixture's --random-state)
                kwargs.update(dest=existing.dest, help=f"same as {existing.option_strings[0]}")
                self.container.add_argument(*aliases, **kwargs)
            return existing
        probe = argparse.ArgumentParser(add_help=False).add_argument(*names, **kwargs)
        dest = probe.dest
        if dest in self.owners:  # another engine's option writes there
            kwargs["dest"] = f"{self.engine}_{dest}"
        action = self.container.add_argument(*names, **kwargs)
        self.owners[action.dest] = {"engines": {self.engine}, "option": names[0],
                                    "default": action.default, "name": dest}
        return action

    def add_mutually_exclusive_group(self, **kwargs: Any) -> "_EngineOptions":
        return _EngineOptions(self.parser, self.container.add_mutually_exclusive_group(**kwargs),
                              self.engine, self.owners)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sheet", help="sample sheet, CSV or TSV with a header: sample,bam[,libtype] "
                        "(quant), sample,fasta (motif) or sample,table (mixture)")
    parser.add_argument("--engine", choices=sorted(ENGINES), default="quant")
    owners: dict[str, dict[str, Any]] = {}
    for engine, (add_engine_arguments, _) in ENGINES.items():
        group = parser.add_argument_group(f"{engine} options (--engine {engine}; as emseq "
                                          f"{engine})")
        add_engine_arguments(_EngineOptions(parser, group, engine, owners))
    parser.set_defaults(_engine_owners=owners)
    where = parser.add_argument_group("where it runs")
    where.add_argument("--scheduler", help="join a running Dask scheduler (tcp://host:8786)")
    where.add_argument("--cluster", choices=["slurm", "pbs", "sge", "lsf"],
                       help="submit worker jobs to this batch scheduler (dask-jobqueue); the "
                            "driver (this command) must run until the batch ends")
    where.add_argument("--workers", type=_types.int_range(0, 4096), default=None,
                       help="worker processes of the local cluster (default: cores / -p)")
    jobs = parser.add_argument_group(
        "cluster jobs (--cluster)",
        "Each job runs one Dask worker that runs --cores / -p samples at once, -p threads "
        "each. Unset values come from the dask-jobqueue configuration "
        "(~/.config/dask/jobqueue.yaml, key jobqueue.<cluster>.<name>); a flag overrides it.")
    jobs.add_argument("--queue", "--partition", dest="queue", help="queue/partition of the jobs")
    jobs.add_argument("--account", help="account to charge (SGE/LSF: project)")
    jobs.add_argument("--qos", help="SLURM quality of service")
    jobs.add_argument("--cores", type=_types.int_range(1, 4096), default=None,
                      help="cores per job (default: -p, one sample per job)")
    jobs.add_argument("--memory", default=None,
                      help="memory per job, e.g. 16GB (default: --sample-memory x samples "
                           "per job)")
    jobs.add_argument("--sample-memory", default=None, metavar="SIZE",
                      help="memory one sample needs (default: 4GB); checked against --memory")
    jobs.add_argument("--walltime", default=None,
                      help="walltime per job, e.g. 04:00:00 (default: the configuration's; "
                           "00:30:00 in dask-jobqueue's own)")
    jobs.add_argument("--jobs", type=_types.int_range(1, 100000), default=1,
                      help="jobs to start (at most, with --adapt)")
    jobs.add_argument("--adapt", action="store_true", help="scale the jobs with the samples left")
    jobs.add_argument("--job-extra", action="append", default=[], metavar="DIRECTIVE",
                      help="extra scheduler directive, e.g. '#SBATCH --gres=gpu:1' or "
                           "--job-extra=--exclusive (repeatable)")
    jobs.add_argument("--prologue", action="append", default=[], metavar="COMMAND",
                      help="shell command the job runs before the worker, e.g. 'module load "
                           "python' (repeatable)")
    jobs.add_argument("--start-timeout", type=_types.float_range(0, low_open=True),
                      default=300.0, metavar="SECONDS",
                      help="end the run when no worker job has started (or, later, none is "
                           "left) for this long")
    jobs.add_argument("--dry-run", action="store_true",
                      help="print the plan and the job script, then exit without running")
    parser.add_argument("--retries", type=_types.int_range(0, 100), default=2,
                        help="retries of a sample whose worker died")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", dest="resume", action="store_true", default=True,
                        help="skip samples already complete with unchanged inputs (default)")
    resume.add_argument("--no-resume", dest="resume", action="store_false",
                        help="redo every sample")


def _check_engine_of_options(args: argparse.Namespace) -> None:
    """An option of the engine the batch does not run is a usage error (not silently unused)."""
    for dest, owner in args._engine_owners.items():
        if args.engine in owner["engines"]:
            continue
        if hasattr(args, dest) and getattr(args, dest) != owner["default"]:
            other = ", ".join(sorted(owner["engines"]))
            raise UsageError(f"{owner['option']} is an option of --engine {other}; this batch "
                             f"runs --engine {args.engine}")


def _engine_view(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` as the engine's own command would have parsed them: its options under their
    own names, and the common ones."""
    view = {name: getattr(args, name) for name in _COMMON}
    for dest, owner in args._engine_owners.items():
        if args.engine in owner["engines"] and hasattr(args, dest):
            view[owner["name"]] = getattr(args, dest)
    return argparse.Namespace(**view)


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The per-sample options of ``args.engine``, checked, as the batch passes them on."""
    _check_engine_of_options(args)
    view = _engine_view(args)
    options = ENGINES[args.engine][1](view)
    for key in _NOT_IN_MANIFEST:
        options.pop(key, None)
    if args.engine == "quant":
        options["transcripts"] = view.transcripts
        options.update(dump_eq=view.dump_eq, report=view.report)
    if args.engine == "motif":
        options.update(png=view.png, db=view.db)
        if view.db is not None:  # a bad motif database fails before any cluster starts
            from ..motif.meme import read_meme_file

            read_meme_file(view.db)
    if args.engine == "mixture":  # run_fit reads every one of its options, None included
        return options
    return {k: v for k, v in options.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    from ..batch import read_sample_sheet, run as run_batch
    from ..batch.cluster import check_submit_command, job_script
    from ..batch.plan import plan_jobs
    from ..batch.sheet import JOB_LOGS

    threads = args.threads or 1
    options = engine_options(args)
    claim = args._claim  # in place, or a stage replacing the folder with --force
    if args.scheduler and args.cluster:
        raise UsageError("--scheduler and --cluster exclude each other")
    shape = None
    if args.cluster:
        # the jobs' stdout/stderr go to the folder the batch writes (a stage with --force);
        # a dry run shows where they will be once the batch is in place
        logs = (Path(args.output) if args.dry_run else claim.work_dir).resolve() / JOB_LOGS
        shape = plan_jobs(args.cluster, threads=threads, cores=args.cores, memory=args.memory,
                          sample_memory=args.sample_memory, jobs=args.jobs, adapt=args.adapt,
                          queue=args.queue, account=args.account, qos=args.qos,
                          walltime=args.walltime, job_extra=args.job_extra,
                          prologue=args.prologue, start_timeout=args.start_timeout,
                          log_directory=str(logs))
    elif args.dry_run:
        raise UsageError("--dry-run shows the cluster jobs of --cluster: give --cluster")
    sheet = read_sample_sheet(args.sheet, args.engine)
    if args.dry_run:
        for line in shape.describe(len(sheet)):
            print(line)
        print(f"plan: engine {args.engine}, output {args.output}; the job script:")
        print(job_script(shape))
        return 0
    if shape is not None:
        check_submit_command(shape.scheduler)
    result = run_batch(sheet, claim.work_dir, engine=args.engine, options=options,
                       scheduler=args.scheduler, cluster=shape, n_workers=args.workers,
                       threads_per_worker=threads, retries=args.retries,
                       resume=args.resume and claim.stage is None)
    claim.commit()
    ok = int((result.report["status"] == "ok").sum())
    logger.info("%d of %d samples done; outputs in %s", ok, len(result.report), args.output)
    if result.failed:
        print(f"emseq batch: {len(result.failed)} of {len(result.report)} samples failed: "
              f"{', '.join(result.failed)} (see {args.output}/batch_report.tsv)", file=sys.stderr)
        return 1
    return 0
