"""Structured logging set up once, at the level the operator chose."""

from __future__ import annotations

import logging

import structlog

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def configure_logging(level: str = "info") -> None:
    """Log at `level` and above (debug, info, warning) through structlog's console renderer."""
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level.lower()]),
        cache_logger_on_first_use=False,
    )
