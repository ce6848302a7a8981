"""User-facing errors.

Every mistake a user can make (a bad path, a bad config value, a broken weights file)
raises one of these with a message that names the problem and the fix. The CLI prints
``error: <message>`` on one line and exits with the class's exit code; ``--debug``
shows the traceback.
"""

from __future__ import annotations


class TrackerError(Exception):
    """Base class: a problem the user can fix. ``exit_code`` is what the CLI returns."""

    exit_code = 1

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem}. {fix}")


class ConfigError(TrackerError):
    """Invalid YAML, unknown keys, out-of-range values, unknown names."""

    exit_code = 2


class SourceError(TrackerError):
    """A video file, image folder, camera or stream that cannot be opened or read."""

    exit_code = 3


class ModelError(TrackerError):
    """Missing, corrupt or incompatible weights; unknown model names."""

    exit_code = 4


class OutputError(TrackerError):
    """The output folder or a file in it cannot be written."""

    exit_code = 5


class DataError(TrackerError):
    """Malformed input data such as a det.txt or gt.txt with garbage rows."""

    exit_code = 6


class ClusterError(TrackerError):
    """A Ray cluster that cannot be reached or cannot run the workers asked for (``tracker batch``).

    Exit code 8: 7 is the command line's "source ended early" (tracker.commands.common.EXIT_ENDED_EARLY)."""

    exit_code = 8
