"""What every contract schema shares: unknown fields refused, values PostgreSQL cannot
store refused (``engage_common.storable``), plain-English messages, and errors
flattened to ``{"a.0.b": [reasons]}`` paths (the shape of ``ValidationFailed``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from engage_common.errors import ValidationFailed
from engage_common.storable import DATE_MAX, DATE_MESSAGE, DATE_MIN, unstorable


def messages(**extra: str) -> dict[str, str]:
    return {
        "required": "is required",
        "null": "cannot be empty",
        "invalid": "is not the right kind of value",
        **extra,
    }


def string(
    required: bool = False, max_length: int = 500, min_length: int = 0, **kwargs: Any
) -> fields.String:
    validators = [
        validate.Length(
            min=min_length,
            max=max_length,
            error=f"must be {min_length} to {max_length} characters"
            if min_length
            else f"must be {max_length} characters or fewer",
        )
    ]
    return fields.String(
        required=required,
        validate=validators,
        error_messages=messages(invalid="must be text"),
        **kwargs,
    )


def moment(required: bool = False, **kwargs: Any) -> fields.AwareDateTime:
    return fields.AwareDateTime(
        required=required,
        format="iso",
        validate=validate.Range(min=DATE_MIN, max=DATE_MAX, error=DATE_MESSAGE),
        error_messages=messages(
            invalid="must be a date and time, like 2026-03-01T09:00:00+00:00",
            invalid_awareness="must include a time zone, like +00:00",
        ),
        **kwargs,
    )


class BaseSchema(Schema):
    error_messages = {"unknown": "is not a field we know about", "type": "must be an object"}

    class Meta:
        unknown = RAISE

    @pre_load
    def _storable(self, data: Any, **kwargs: Any) -> Any:
        bad = unstorable(data)
        if bad:
            raise ValidationError(bad)
        return data


def nest(flat: Mapping[str, list[str]]) -> dict[str, Any]:
    """``{"questions.0.id": [..]}`` -> ``{"questions": {0: {"id": [..]}}}`` (marshmallow's)."""
    out: dict[Any, Any] = {}
    for path, reasons in flat.items():
        node = out
        parts: list[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(parts[-1], []).extend(reasons)
    return out


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict -> ``{"a.0.b": [reasons]}`` (the contract's shape)."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "_schema"
            for k, v in flatten_errors(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            for k, v in flatten_errors(item, prefix).items():
                out.setdefault(k, []).extend(v)
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def load(schema: Schema, data: Any, prefix: str = "") -> dict[str, Any]:
    """Load ``data`` or raise ``ValidationFailed`` with flattened, prefixed paths."""
    if data is None:
        data = {}
    bad = unstorable(data)
    if bad:
        raise ValidationFailed({(f"{prefix}.{p}" if prefix else p): v for p, v in bad.items()})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(flatten_errors(exc.messages, prefix)) from None


class Moment(fields.AwareDateTime):
    """A date and time in an answer: a datetime, or the ISO 8601 text it became on its way
    over RPC (passed through as it is)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        return super()._serialize(value, attr, obj, **kwargs)


class Among(validate.Validator):
    """One of the choices ``choices()`` gives when it is asked: for lists that come from
    the ICS configuration (places, priorities), which is read at start, not at import.
    ``choices`` is what apispec shows as the enum."""

    def __init__(self, choices: Callable[[], Iterable[str]], error: str) -> None:
        self._choices, self.error = choices, error

    @property
    def choices(self) -> list[str]:
        return list(self._choices())

    def __call__(self, value: Any) -> Any:
        allowed = self.choices
        if value not in allowed:
            raise ValidationError(self.error.format(choices=", ".join(allowed)))
        return value
