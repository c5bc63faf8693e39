"""Plain-JSON encoding of the domain's frozen dataclasses, for the store and the outbox.

Types are read from the dataclasses' annotations, so adding a field needs no codec change.
Datetimes are ISO 8601 with offset, Decimals strings, enums their values, tuples lists.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin

from shopbridge.domain import events as ev
from shopbridge.domain.commands import COMMAND_TYPES, Command
from shopbridge.domain.mirror import OrderMirror

T = TypeVar("T")


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in the domain: every time must be aware UTC")
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(cls: type[T], data: Any) -> T:
    return typing.cast(T, _decode(cls, data))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        return _decode(options[0], data)
    if origin is tuple:
        (item, *_rest) = get_args(tp)
        return tuple(_decode(item, v) for v in data)
    if origin is dict:
        _key, item = get_args(tp)
        return {k: _decode(item, v) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        known = {f.name for f in dataclasses.fields(tp) if f.init}
        return tp(**{k: _decode(hints[k], v) for k, v in data.items() if k in known})
    if tp is datetime:
        return datetime.fromisoformat(data)
    if tp is Decimal:
        return Decimal(data)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    return data


def encode_mirror(mirror: OrderMirror) -> dict[str, Any]:
    return typing.cast(dict[str, Any], encode(mirror))


def decode_mirror(data: dict[str, Any]) -> OrderMirror:
    return decode(OrderMirror, data)


def encode_command(command: Command) -> dict[str, Any]:
    return {"kind": command.kind, **encode(command)}


def decode_command(data: dict[str, Any]) -> Command:
    fields = dict(data)
    cls = COMMAND_TYPES[fields.pop("kind")]
    return decode(cls, fields)


EVENT_TYPES: dict[str, type] = {
    name: obj
    for name, obj in vars(ev).items()
    if isinstance(obj, type) and dataclasses.is_dataclass(obj)
}


def encode_event(event: ev.Event) -> dict[str, Any]:
    return {"type": type(event).__name__, **encode(event)}


def decode_event(data: dict[str, Any]) -> ev.Event:
    fields = dict(data)
    cls = EVENT_TYPES[fields.pop("type")]
    return typing.cast(ev.Event, decode(cls, fields))
