"""The ``emseq`` entry point: version, help, usage errors."""

import subprocess
import sys

import emseq
from emseq.cli import build_parser


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emseq", *args], capture_output=True, text=True)


def test_version():
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"emseq {emseq.__version__}"


def test_no_command_is_a_usage_error():
    done = run_cli()
    assert done.returncode == 2
    assert "usage: emseq" in done.stderr


def test_unknown_command_is_a_usage_error():
    done = run_cli("frobnicate")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_every_command_has_help_and_common_options():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        text = sub.format_help()
        for option in ("--output", "--threads", "--quiet", "--debug"):
            assert option in text, (name, option)
        done = run_cli(name, "-h")
        assert done.returncode == 0 and f"emseq {name}" in done.stdout
