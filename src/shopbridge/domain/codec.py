"""Plain-JSON encoding of the domain's frozen dataclasses, for the store and the outbox.

Types are read from the dataclasses' annotations, so adding a field needs no codec change.
Datetimes are ISO 8601 with offset, Decimals strings, enums their values, tuples lists.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin

from shopbridge.domain import events as ev
from shopbridge.domain.commands import COMMAND_TYPES, Command
from shopbridge.domain.mirror import OrderMirror

T = TypeVar("T")


def encode(value: Any) -> Any:
    kind = _KINDS.get(type(value)) or _kind_of(type(value))
    if kind is _Kind.PLAIN:
        return value
    if kind is _Kind.DATACLASS:
        return {name: encode(getattr(value, name)) for name in _field_names(type(value))}
    if kind is _Kind.DATETIME:
        if value.tzinfo is None:
            raise ValueError("naive datetime in the domain: every time must be aware UTC")
        return value.isoformat()
    if kind is _Kind.DECIMAL:
        return str(value)
    if kind is _Kind.ENUM:
        return value.value
    if kind is _Kind.SEQUENCE:
        return [encode(v) for v in value]
    return {str(k): encode(v) for k, v in value.items()}


# Encoding and decoding look at every value of a mirror on every save and load (a worker
# spent a seventh of its time here): what each type needs is worked out once per type and kept,
# instead of asked again of `dataclasses` and `typing` for every value. The JSON is the same.


class _Kind(Enum):
    PLAIN = 0
    DATACLASS = 1
    DATETIME = 2
    DECIMAL = 3
    ENUM = 4
    SEQUENCE = 5
    MAPPING = 6


_KINDS: dict[type, _Kind] = dict.fromkeys((str, int, float, bool, type(None)), _Kind.PLAIN)


def _kind_of(cls: type) -> _Kind:
    """How `encode` treats a value of this type (the checks in the order encode makes them)."""
    if dataclasses.is_dataclass(cls) and not issubclass(cls, type):
        kind = _Kind.DATACLASS
    elif issubclass(cls, datetime):
        kind = _Kind.DATETIME
    elif issubclass(cls, Decimal):
        kind = _Kind.DECIMAL
    elif issubclass(cls, Enum):
        kind = _Kind.ENUM
    elif issubclass(cls, tuple | list):
        kind = _Kind.SEQUENCE
    elif issubclass(cls, dict):
        kind = _Kind.MAPPING
    else:
        kind = _Kind.PLAIN
    _KINDS[cls] = kind
    return kind


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def decode(cls: type[T], data: Any) -> T:
    return typing.cast(T, _decoder(cls)(data))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


Decoder = Callable[[Any], Any]


_DECODERS: dict[Any, Decoder] = {}


def _decoder(tp: Any) -> Decoder:
    """The function that turns JSON data into a value of type `tp` (None stays None)."""
    decoder = _DECODERS.get(tp)
    if decoder is None:
        decoder = _DECODERS[tp] = _build_decoder(tp)
    return decoder


def _build_decoder(tp: Any) -> Decoder:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        return _decoder(options[0])
    if origin is tuple:
        (item, *_rest) = get_args(tp)
        return _tuple_decoder(item)
    if origin is dict:
        _key, item = get_args(tp)
        return _dict_decoder(item)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _DataclassDecoder(tp)
    if tp is datetime:
        return _none_or(datetime.fromisoformat)
    if tp is Decimal:
        return _none_or(Decimal)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _none_or(tp)
    return _as_is


def _as_is(data: Any) -> Any:
    return data


def _none_or(convert: Decoder) -> Decoder:
    def decode_value(data: Any) -> Any:
        return None if data is None else convert(data)

    return decode_value


def _tuple_decoder(item: Any) -> Decoder:
    def decode_tuple(data: Any) -> Any:
        if data is None:
            return None
        decode_item = _decoder(item)
        return tuple(decode_item(v) for v in data)

    return decode_tuple


def _dict_decoder(item: Any) -> Decoder:
    def decode_dict(data: Any) -> Any:
        if data is None:
            return None
        decode_item = _decoder(item)
        return {k: decode_item(v) for k, v in data.items()}

    return decode_dict


class _DataclassDecoder:
    """Builds a dataclass from its JSON object; keys it does not know (a field since removed)
    are ignored. Field decoders are looked up on first use, so a type may refer to itself."""

    def __init__(self, cls: type) -> None:
        self._cls = cls
        self._fields: dict[str, Decoder] | None = None

    def __call__(self, data: Any) -> Any:
        if data is None:
            return None
        fields = self._fields
        if fields is None:
            hints = _hints(self._cls)
            known = [f.name for f in dataclasses.fields(self._cls) if f.init]
            fields = self._fields = {name: _decoder(hints[name]) for name in known}
        return self._cls(**{k: fields[k](v) for k, v in data.items() if k in fields})


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
