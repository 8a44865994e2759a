"""Log set-up for the worker process: one line per record, to stderr or a file.

Logs go to stderr by default so that stdout stays free for ``post_stdout``
reports (reference C.7). Levels take Mojo::Weixin's names; its ``msg`` level,
between info and warn, is where the one-line chat log (who said what) goes, so
``log_level = "msg"`` shows conversations without the chatter of ``info``.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

MSG = 25  # Mojo::Weixin's "msg" level: the one-line-per-message chat log
logging.addLevelName(MSG, "MSG")

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": MSG,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler we installed, so a second set-up replaces it."""


def setup_logging(level: str = "info", *, account: str = "default",
                  log_path: str | None = None, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record of the process to stderr (or ``log_path``).

    Idempotent: calling it again replaces the handler it installed before and
    leaves handlers installed by others (e.g. pytest's capture) alone.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
        old.close()
    target: TextIO = stream or (open(log_path, "a", encoding="utf-8")  # noqa: SIM115
                                if log_path else sys.stderr)
    handler = _OurHandler(target)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s [%(levelname)s] [{account}] %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, logging.INFO))
    # Libraries we use are chatty at info; their details are only useful at debug.
    quiet = logging.DEBUG if level == "debug" else logging.WARNING
    for name in ("httpx", "httpcore", "hypercorn.access", "hypercorn.error"):
        logging.getLogger(name).setLevel(quiet)
    return handler
