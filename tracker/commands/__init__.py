"""The ``tracker`` command line: one module per command, each adding its own subparser.

Each command module (:mod:`.track`, :mod:`.batch`, :mod:`.detect`, :mod:`.evaluate`, :mod:`.plot`, :mod:`.tune`,
:mod:`.train_reid`) has ``add_parser(subparsers)``, which registers the command with
``set_defaults(func=run)``, and ``run(args) -> exit code``; the options they share are
in :mod:`.common`. Building the parser imports no torch, matplotlib or optuna.

Every user mistake ends in one line ``error: <problem>. <fix>`` and the exit code
of its :class:`~tracker.errors.TrackerError` class; a bug ends in one line
``error: internal error: ...`` and exit code 1; ``--debug`` shows tracebacks. Outputs
are finalised in every case: Ctrl-C or SIGTERM stop a run cleanly with exit code 130, q / Esc in the
live window with 0, and a source that fails mid-run (outputs complete up to the frame the last line
names) with :data:`~.common.EXIT_ENDED_EARLY`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..errors import ConfigError, TrackerError
from . import batch, detect, evaluate, plot, track, train_reid, tune
from .common import EXAMPLES, EXIT_INTERRUPTED

COMMANDS = (track, batch, detect, evaluate, plot, tune, train_reid)  # in the order `tracker --help` lists them
EXIT_INTERNAL = 1  # an unexpected exception: a bug
# Without --debug, OpenCV's and FFmpeg's own stderr messages are silenced so that a failure
# reads as our single error line; variables the user set win.
QUIET_NATIVE_LOGS = {"OPENCV_LOG_LEVEL": "SILENT", "OPENCV_FFMPEG_LOGLEVEL": "-8"}  # -8: FFmpeg's AV_LOG_QUIET


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one ``error:`` line with ConfigError's exit code."""

    def error(self, message: str):
        self.exit(ConfigError.exit_code, f"error: {message}. Run '{self.prog} --help' for usage\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tracker",
        description="Track objects in video: detect, embed, associate, and write annotated video + CSV + MOT files.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _quiet_native_logs() -> None:
    """Set QUIET_NATIVE_LOGS where the user did not. OpenCV reads its variable when it is imported,
    which building the parser has already done (``tracker plot`` draws with it), so its level is set
    directly as well; FFmpeg's is read when OpenCV first opens a file or stream."""
    for name, value in QUIET_NATIVE_LOGS.items():
        os.environ.setdefault(name, value)
    if os.environ["OPENCV_LOG_LEVEL"] == QUIET_NATIVE_LOGS["OPENCV_LOG_LEVEL"]:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.debug:
        _quiet_native_logs()
    if args.command is None:
        parser.print_help()
        return ConfigError.exit_code
    try:
        return args.func(args)
    except TrackerError as exc:
        if args.debug:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: report it in one line; the outputs were already finalised
        if args.debug:
            raise
        detail = f"{type(exc).__name__}: {_one_line(exc)}" if str(exc).strip() else type(exc).__name__
        print(f"error: internal error: {detail} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL

