"""Console logging of the command line: the ``wetok_bench`` loggers print on stderr.

Library modules log through ``logging.getLogger(__name__)``; the CLI shows WARNING and up as
``warning: message`` lines, and with ``--debug`` DEBUG too (``debug [module]: message``),
tracebacks below their line.
"""

from __future__ import annotations

import logging
import sys


class _StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (which click's test runner and redirections replace)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # logging sets it in __init__; the current stderr always wins
        pass


class _Formatter(logging.Formatter):
    """``warning: message`` (``debug [module]: message`` under --debug), tracebacks below."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        where = f" [{record.name}]" if self.debug else ""
        text = f"{record.levelname.lower()}{where}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(debug: bool) -> None:
    """The ``wetok_bench`` loggers print on stderr: WARNING and up, DEBUG too with ``debug``."""
    logger = logging.getLogger("wetok_bench")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    handler.setFormatter(_Formatter(debug))
    logger.addHandler(handler)
    # Without --debug the logger's own level is left to the logging set-up around it (pytest's
    # caplog, an application embedding the CLI); the handler prints WARNING and up.
    logger.setLevel(logging.DEBUG if debug else logging.NOTSET)
