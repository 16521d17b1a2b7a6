"""What every command shares: config loading with exit status 2, logging set-up.

Commands raise :class:`CliError` for a failure the operator can fix; ``main``
prints its message to stderr and exits with its status, without a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ranvier.config import Config, ConfigError, load_config
from ranvier.config.schema import LogTarget

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to report as ``ranvier: <message>`` and exit with ``status``."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


def load_config_or_exit(path: str | Path) -> Config:
    """Load the config; on problems print every one of them and raise
    :class:`CliError` with status 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        lines = [f"ranvier: invalid configuration in {path}:"]
        lines.extend(f"  {problem}" for problem in exc.problems)
        raise CliError("\n".join(lines), EXIT_USAGE) from None


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}


def setup_logging(targets: tuple[LogTarget, ...]) -> None:
    """Route the ``ranvier`` loggers to stderr and/or ``<path>/ranvier.log`` files,
    each at its level (``logging`` section, Dendrite's ``std`` and ``file`` types)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    lowest = logging.ERROR
    for target in targets:
        level = _LEVELS.get(target.level, logging.ERROR)
        lowest = min(lowest, level)
        handler: logging.Handler
        if target.type == "file" and target.path is not None:
            target.path.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(target.path / "ranvier.log", encoding="utf-8")
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(level)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(lowest)
