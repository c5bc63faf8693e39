"""Log lines set up once: JSON for machines, words for people, ids on every line, no secrets.

- **Format**: one JSON object per line when stderr is not a terminal (systemd, Docker, a log
  shipper), human lines when it is; `log_format` (`SHOPBRIDGE_LOG_FORMAT=json|text`) decides
  instead of guessing.
- **Streams**: debug and info go to stdout, warnings and errors to stderr, so `2>` alone keeps
  what needs a look.
- **Context**: `bind_item(connection_id=…, tiktok_order_id=…)` puts the ids of the work at hand
  on every line logged inside it, from our code and from libraries alike (structlog's
  contextvars: each asyncio task and each thread it starts keeps its own).
- **Secrets**: `Redact` replaces the value of every field whose name looks like a credential
  (tokens, secrets, passwords, Authorization, HMACs, cookies, signatures), credential parameters
  in URLs, and any known secret value (SHOPBRIDGE_SECRET_KEY and what the caller names) wherever
  it appears, also inside tracebacks.

structlog's own loggers and the standard library's (uvicorn, httpx, the sandboxes) go through
the same chain: structlog hands its events to `logging`, whose two handlers render them.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
FORMATS = ("auto", "json", "text")
REDACTED = "[redacted]"

# Field names (lowercase, '-' read as '_') whose values are credentials wherever they appear:
# in a log call's keywords, in a headers dict logged whole, in a JSON body logged as a dict.
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "app_secret",
        "client_secret",
        "password",
        "authorization",
        "proxy_authorization",
        "x_shopify_hmac_sha256",
        "shopify_hmac_sha256",
        "x_tts_access_token",
        "cookie",
        "set_cookie",
        "secret_key",
        "metrics_token",
        "sign",
    }
)
# ... and any name containing one of these (csrf_token, shopify_previous_client_secret, …).
SECRET_FIELD_PARTS = ("secret", "password", "token", "authorization", "hmac", "cookie", "signature")
# Credentials in URLs (OAuth callbacks, TikTok's signed query strings) inside any text.
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:access_token|refresh_token|app_secret|client_secret|password|code|auth_code"
    r"|state|hmac|sign|signature|token)=)[^&\s\"'#]+"
)
# Below this length a "secret" is too short to search text for without redacting noise.
_MIN_SECRET_LENGTH = 8
_HANDLER_MARK = "_shopbridge_handler"


def configure_logging(
    level: str = "info", log_format: str = "auto", *, secrets: Iterable[str] = ()
) -> None:
    """Log at `level` and above (debug, info, warning) in `log_format` (auto, json, text).

    `secrets`: values never to print (configured app secrets, tokens); SHOPBRIDGE_SECRET_KEY's
    keys are always among them. Calling it again replaces the earlier set-up.
    """
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    threshold = LEVELS[level.lower()]
    as_json = log_format == "json" or (log_format == "auto" and not _stderr_is_terminal())
    redact = Redact([*secrets, *os.environ.get("SHOPBRIDGE_SECRET_KEY", "").split(",")])
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderers: list[Processor] = (
        [_lead_with_essentials, structlog.processors.JSONRenderer(default=str)]
        if as_json
        else [structlog.dev.ConsoleRenderer(colors=_stderr_is_terminal())]
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks as text before redacting: an exception's message can hold a URL.
            structlog.processors.format_exc_info,
            redact,
            *renderers,
        ],
    )
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
    root.addHandler(_handler("stdout", formatter, below=logging.WARNING))
    root.addHandler(_handler("stderr", formatter, at_least=logging.WARNING))
    root.setLevel(threshold)
    # httpx logs every request line at info: noise at best, a signed URL at worst.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(threshold, logging.WARNING))
    structlog.configure(
        # Redacted before it leaves structlog too: any other handler on the root logger (a
        # test runner's, an operator's) then never sees the secret either.
        processors=[*shared, redact, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        cache_logger_on_first_use=False,
    )


@contextmanager
def bind_item(**ids: object) -> Iterator[None]:
    """Every line logged inside carries these ids (those given as None are left out).

    The worker wraps each claimed item in it: `with bind_item(connection_id=…,
    tiktok_order_id=…, item=…)`. Nested bindings add to the outer ones and restore them after.
    """
    known = {name: value for name, value in ids.items() if value is not None}
    with structlog.contextvars.bound_contextvars(**known):
        yield


class Redact:
    """A structlog processor that takes credentials out of an event before it is rendered."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        values = {v.strip() for v in secret_values if len(v.strip()) >= _MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is replaced whole.
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return {key: self._field(key, value) for key, value in event_dict.items()}

    def _field(self, key: object, value: object) -> object:
        if isinstance(key, str) and is_secret_field(key) and value not in (None, ""):
            return REDACTED
        return self._value(value)

    def _value(self, value: object) -> object:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, bytes):
            return self._text(value.decode("utf-8", "replace"))
        if isinstance(value, Mapping):
            return {k: self._field(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(item) for item in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        # Anything else is rendered with str() by the JSON renderer; redact that text.
        return self._text(str(value))

    def _text(self, text: str) -> str:
        for secret in self._values:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _SECRET_QUERY.sub(rf"\g<1>{REDACTED}", text)


def _lead_with_essentials(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """When, how bad, where and what first: a JSON line reads left to right like a text one."""
    lead = ("timestamp", "level", "logger", "event")
    return {
        **{key: event_dict[key] for key in lead if key in event_dict},
        **{key: value for key, value in event_dict.items() if key not in lead},
    }


def is_secret_field(name: str) -> bool:
    normal = name.lower().replace("-", "_")
    return normal in SECRET_FIELDS or any(part in normal for part in SECRET_FIELD_PARTS)


class _StandardStream(logging.Handler):
    """Writes to sys.stdout or sys.stderr as they are at each line (tests and tools swap them)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream: TextIO = getattr(sys, self._name)
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def _handler(
    stream: str,
    formatter: logging.Formatter,
    *,
    below: int | None = None,
    at_least: int = logging.NOTSET,
) -> logging.Handler:
    handler = _StandardStream(stream)
    handler.setFormatter(formatter)
    handler.setLevel(at_least)
    if below is not None:
        ceiling = below
        handler.addFilter(lambda record: record.levelno < ceiling)
    setattr(handler, _HANDLER_MARK, True)
    return handler


def _stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())
