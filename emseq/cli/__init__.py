"""The ``emseq`` command line: ``emseq <command> [options]``.

Each command is a module of this package (``emseq/cli/<command>.py``) that defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; commands are found by
listing the package, so adding a command touches only its own module. Options every command
shares (``-o/--output``, ``-p/--threads``, ``-q/--quiet``, ``-v/--verbose``, ``--debug``) are
added here.

Errors: an :class:`emseq.errors.EmseqError` is printed as one line on stderr
(``emseq <command>: error: ...``) with exit code 2 for usage errors and 1 for bad input; any
other exception is reported the same way with exit code 1, and its traceback only with
``--debug``.
"""

from __future__ import annotations

from .. import _signals

_signals.install()  # before anything heavy is imported (the `emseq` script starts here)

import argparse  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import pkgutil  # noqa: E402
import sys  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Sequence  # noqa: E402

from .. import __version__  # noqa: E402
from .._progress import set_quiet  # noqa: E402
from ..errors import EmseqError  # noqa: E402
from . import _types  # noqa: E402

__all__ = ["main", "build_parser"]


def _command_modules() -> dict[str, ModuleType]:
    modules = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        modules[info.name] = module
    return modules


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("common options")
    group.add_argument("-o", "--output", metavar="DIR", required=True,
                       help="output directory: absent or empty (a non-empty one needs "
                            "--force); written atomically")
    group.add_argument("--force", action="store_true",
                       help="replace a non-empty output, atomically, once the new result is "
                            "complete")
    group.add_argument("-p", "--threads", type=_types.threads, default=None, metavar="N",
                       help="threads to use, from 1 to 4 per available core (default: all "
                            "available cores)")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="only warnings and errors on stderr, no progress bar")
    group.add_argument("-v", "--verbose", action="store_true", help="debug-level log messages")
    group.add_argument("--debug", action="store_true",
                       help="show the full traceback on errors")


class _OneLineParser(argparse.ArgumentParser):
    """A usage error is one line naming the command (``emseq quant: error: argument -p: …``),
    exit code 2; the full usage is one ``-h`` away."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: X)`` only where it says something: not for flags, not for a default
    of None, not where the help text already describes the default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (any(action.default is v for v in (None, False, True, argparse.SUPPRESS))
                or "default:" in text or "%(default)" in text):  # `is`: 0 and 1 are shown
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``emseq`` with one sub-parser per command module."""
    parser = _OneLineParser(
        prog="emseq",
        description="Cython-accelerated EM engines for bioinformatics.",
    )
    parser.add_argument("--version", action="version", version=f"emseq {__version__}")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="<command>",
                                       parser_class=_OneLineParser)
    for name, module in _command_modules().items():
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP,
                                    formatter_class=_DefaultsFormatter)
        module.add_arguments(sub)
        _add_common_arguments(sub)
        sub.set_defaults(_run=module.run, _prog=f"emseq {name}",
                         _output_kind=getattr(module, "OUTPUT_KIND", "dir"))
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("emseq")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # main() routes Python warnings (ConvergenceWarning...) to logging: give them a handler
    captured = logging.getLogger("py.warnings")
    captured.handlers[:] = [handler]
    captured.propagate = False
    set_quiet(args.quiet)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emseq`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    _signals.install()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # -h, --version, or a usage error already said in one line
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    _configure_logging(args)
    import warnings

    warnings.simplefilter("default")
    logging.captureWarnings(True)
    from ..io.atomic import claim_output

    try:
        with _signals.armed(args._prog):
            # the output-folder policy, decided once, before any computation (emseq.io.atomic)
            with claim_output(args.output, force=args.force, kind=args._output_kind) as claim:
                args._claim = claim
                return int(args._run(args) or 0)
    except _signals.Interrupted as exc:
        print(f"{args._prog}: interrupted ({exc.name})", file=sys.stderr)
        return exc.exit_code
    except EmseqError as exc:
        if args.debug:
            raise
        print(f"{args._prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{args._prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an emseq bug or an environment problem: still one line
        if args.debug:
            raise
        if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
            # a full disk, a lost folder, a failing device: say which file
            from ..io.atomic import final_path

            print(f"{args._prog}: error: {exc.strerror}: {final_path(str(exc.filename))}",
                  file=sys.stderr)
            return 1
        print(f"{args._prog}: error: {type(exc).__name__}: {exc} (rerun with --debug for the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
