"""The Integrated Care System this deployment serves, from one YAML file read at start
(restart to change). Everything that differs between ICSs is here, never in code or
templates: places (and a level below them), postcode districts, priorities and
ambitions, partners, how to take part without a computer, the safeguarding route,
response targets, retention periods, the small-number threshold, languages and the
consent wordings. ``docs/ics-configuration.md`` documents every key.

``ENGAGE_ICS_CONFIG`` names the file: a path, or the name of one shipped with Engage
(``engage_contracts/ics_configs/<name>.yaml``): ``west-yorkshire-and-harrogate`` (the
default) and ``lancashire-and-south-cumbria``. A file that does not validate stops the
process at start with every problem, each naming its line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from engage_contracts.base import flatten_errors

SHIPPED = Path(__file__).parent / "ics_configs"
DEFAULT = "west-yorkshire-and-harrogate"
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
POSTCODE_AREA = re.compile(r"^[A-Z]{1,2}$")
POSTCODE_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
PARTNER_KINDS = ("nhs-trust", "council", "healthwatch", "vcse", "primary-care", "other")


class IcsConfigError(Exception):
    """The configuration file cannot be used; ``problems`` are "line N (path): reason"."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source, self.problems = source, problems


# -- the configuration, as code reads it ----------------------------------------------------


@dataclass(frozen=True)
class Area:
    code: str
    name: str


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    postcode_areas: tuple[str, ...] = ()
    postcode_districts: tuple[str, ...] = ()
    # Districts the ICS has still to confirm: kept out of the lookup until it does.
    postcode_districts_to_complete: tuple[str, ...] = ()
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True)
class Priority:
    code: str
    name: str
    description: str = ""
    ambitions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Partner:
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    direction: str = "ltr"
    reviewed: bool = False


@dataclass(frozen=True)
class Ics:
    code: str
    name: str
    short_name: str
    area_level: str | None
    places: tuple[Place, ...]
    priorities: tuple[Priority, ...]
    partners: tuple[Partner, ...]
    contact: dict[str, str]
    safeguarding: dict[str, str]
    response_targets: dict[str, int]
    retention_days: dict[str, int]
    small_number_threshold: int
    languages: tuple[Language, ...]
    consent_version: str
    consent_wordings: dict[str, str]  # version -> the English wording (what is stored)
    feedback_consent_version: str
    events_consent_version: str
    event_book_ahead_days: dict[str, int]
    event_reminder_hours: int
    postcode_examples: tuple[str, ...]
    source: str = ""
    # version -> {language code: wording}, English included; one version's languages say
    # the same thing, so agreeing to any of them is agreeing to that version.
    consent_translations: dict[str, dict[str, str]] = field(default_factory=dict)
    _district_places: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def consent_wording(self, version: str, language: str = "en") -> tuple[str, str]:
        """(wording, the language it is in) of a consent ``version`` for a reader of
        ``language``: theirs when the ICS gives it, else English."""
        by_language = self.consent_translations.get(version) or {}
        if language in by_language:
            return by_language[language], language
        return self.consent_wordings[version], "en"

    def place_names(self) -> dict[str, str]:
        return {p.code: p.name for p in self.places}

    def priority_names(self) -> dict[str, str]:
        return {p.code: p.name for p in self.priorities}

    def place_for_postcode_district(self, district: str) -> str | None:
        """The place a (normalised) postcode district lies in; None when it lies in no
        configured place (or the ICS has not confirmed it yet)."""
        if not self._district_places:
            for place in self.places:
                for area in place.postcode_areas:
                    self._district_places.setdefault(f"area:{area}", place.code)
                for district_code in place.postcode_districts:
                    self._district_places[district_code] = place.code
        if district in self._district_places:
            return self._district_places[district]
        letters = re.match(r"^[A-Z]+", district)
        return self._district_places.get(f"area:{letters.group(0) if letters else ''}")

    def offered_languages(self, include_unreviewed: bool = False) -> list[Language]:
        """Languages residents may choose: reviewed ones (and, for a demo, the rest)."""
        return [lang for lang in self.languages if lang.reviewed or include_unreviewed]


# -- the file's schema ----------------------------------------------------------------------


def _code(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.Regexp(
            CODE, error="must be 1 to 60 lower-case letters, digits or '-', like 'leeds'"
        ),
        **kwargs,
    )


def _name(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=200), **kwargs)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _AreaSchema(_Strict):
    code = _code(required=True)
    name = _name(required=True)


class _PlaceSchema(_Strict):
    code = _code(required=True)
    name = _name(required=True)
    postcode_areas = fields.List(
        fields.String(
            validate=validate.Regexp(POSTCODE_AREA, error="must be a postcode area, like LS")
        ),
        load_default=list,
    )
    postcode_districts = fields.List(
        fields.String(
            validate=validate.Regexp(
                POSTCODE_DISTRICT, error="must be a postcode district, like LS29"
            )
        ),
        load_default=list,
    )
    postcode_districts_to_complete = fields.List(fields.String(), load_default=list)
    areas = fields.List(fields.Nested(_AreaSchema), load_default=list)


class _PrioritySchema(_Strict):
    code = _code(required=True)
    name = _name(required=True)
    description = fields.String(load_default="")
    ambitions = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)


class _PartnerSchema(_Strict):
    code = _code(required=True)
    name = _name(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(PARTNER_KINDS, error="must be one of " + ", ".join(PARTNER_KINDS)),
    )


class _ContactSchema(_Strict):
    phone = fields.String(required=True)
    phone_hours = fields.String(load_default="")
    post = fields.String(required=True)
    in_person = fields.String(required=True)
    email = fields.String(load_default="")
    other_formats = fields.String(required=True)
    pals = fields.String(
        load_default="Your hospital's or GP practice's Patient Advice and Liaison Service "
        "(PALS) can help sort out a problem with your care."
    )
    complaints = fields.String(
        load_default="To make a formal complaint, contact the organisation that gave your "
        "care, or NHS England on 0300 311 22 33."
    )


class _SafeguardingSchema(_Strict):
    contact_name = _name(required=True)
    email = fields.String(required=True)
    phone = fields.String(required=True)
    local_route = fields.String(required=True)


class _ResponseTargetsSchema(_Strict):
    feedback_acknowledge_days = fields.Integer(required=True, validate=validate.Range(min=0))
    feedback_triage_days = fields.Integer(required=True, validate=validate.Range(min=0))
    feedback_reply_days = fields.Integer(required=True, validate=validate.Range(min=0))
    outcome_after_close_days = fields.Integer(required=True, validate=validate.Range(min=1))


class _RetentionSchema(_Strict):
    """Days personal data is kept, by kind, after the thing it was given for ended."""

    consultation_responses = fields.Integer(required=True, validate=validate.Range(min=1))
    feedback = fields.Integer(required=True, validate=validate.Range(min=1))
    event_registrations = fields.Integer(required=True, validate=validate.Range(min=1))
    contact_for_updates = fields.Integer(required=True, validate=validate.Range(min=1))


class _EventsSchema(_Strict):
    book_ahead_days = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(validate=validate.Range(min=0, max=60)),
        load_default=lambda: {"bsl-interpreter": 14, "spoken-language": 7},
    )
    reminder_hours_before = fields.Integer(load_default=24, validate=validate.Range(min=1, max=168))


class _LanguageSchema(_Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$"))
    name = _name(required=True)
    direction = fields.String(load_default="ltr", validate=validate.OneOf(["ltr", "rtl"]))
    reviewed = fields.Boolean(load_default=False)


WORDING_LENGTH = validate.Length(min=20, max=2000)


class _Wording(fields.Field):
    """A consent wording: English text, or text by language code with English required
    (``{en: ..., ur: ..., pl: ...}``): residents read it in their language when given."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            WORDING_LENGTH(value)
            return {"en": value}
        if not isinstance(value, dict) or not value:
            raise ValidationError("must be text, or text by language code (en: ..., ur: ...)")
        errors: dict[str, list[str]] = {}
        for language, text in value.items():
            if not isinstance(text, str):
                errors[str(language)] = ["must be text"]
                continue
            try:
                WORDING_LENGTH(text)
            except ValidationError as exc:
                errors[str(language)] = list(exc.messages)
        if "en" not in value:
            errors["en"] = ["is required: English is what other languages fall back to"]
        if errors:
            raise ValidationError(errors)
        return dict(value)


class _ConsentSchema(_Strict):
    current = fields.String(required=True)
    feedback_current = fields.String(load_default=None, allow_none=True)
    events_current = fields.String(load_default=None, allow_none=True)
    wordings = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=40)),
        values=_Wording(),
        required=True,
    )

    @validates_schema
    def _current_is_worded(self, data: dict[str, Any], **kwargs: Any) -> None:
        for key in ("current", "feedback_current", "events_current"):
            if data.get(key) is not None and data[key] not in data["wordings"]:
                raise ValidationError({key: ["must be one of the versions under wordings"]})


class _IcsSchema(_Strict):
    code = _code(required=True)
    name = _name(required=True)
    short_name = _name(required=True)
    area_level = fields.String(load_default=None, allow_none=True)
    places = fields.List(
        fields.Nested(_PlaceSchema), required=True, validate=validate.Length(min=1)
    )
    priorities = fields.List(
        fields.Nested(_PrioritySchema), required=True, validate=validate.Length(min=1)
    )
    partners = fields.List(fields.Nested(_PartnerSchema), load_default=list)
    contact = fields.Nested(_ContactSchema, required=True)
    safeguarding = fields.Nested(_SafeguardingSchema, required=True)
    response_targets = fields.Nested(_ResponseTargetsSchema, required=True)
    retention_days = fields.Nested(_RetentionSchema, required=True)
    small_number_threshold = fields.Integer(load_default=5, validate=validate.Range(min=2, max=50))
    languages = fields.List(
        fields.Nested(_LanguageSchema), required=True, validate=validate.Length(min=1)
    )
    consent = fields.Nested(_ConsentSchema, required=True)
    events = fields.Nested(_EventsSchema, load_default=lambda: _EventsSchema().load({}))
    postcode_examples = fields.List(fields.String(), load_default=list)

    @validates_schema
    def _coherent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        for key in ("places", "priorities", "partners"):
            seen: set[str] = set()
            for i, item in enumerate(data.get(key) or []):
                if item["code"] in seen:
                    errors[f"{key}.{i}.code"] = [f"'{item['code']}' is used twice"]
                seen.add(item["code"])
        owners: dict[str, str] = {}
        for i, place in enumerate(data.get("places") or []):
            for code in [*place["postcode_areas"], *place["postcode_districts"]]:
                if code in owners:
                    errors[f"places.{i}.postcode"] = [f"{code} is also in {owners[code]}"]
                owners[code] = place["code"]
        codes = [lang["code"] for lang in data.get("languages") or []]
        if "en" not in codes:
            errors["languages"] = ["must include English (en): it is what others fall back to"]
        for version, by_language in ((data.get("consent") or {}).get("wordings") or {}).items():
            for language in by_language:
                if language not in codes:
                    errors[f"consent.wordings.{version}.{language}"] = [
                        "is not one of the languages above"
                    ]
        if errors:
            raise ValidationError(errors)


# -- loading ----------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML mapping with a key twice is a mistake, not "the last one wins"."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
    for key in keys:
        if keys.count(key) > 1:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' is given twice", node.start_mark
            )
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _lines(node: yaml.Node, path: str = "", found: dict[str, int] | None = None) -> dict[str, int]:
    """``{"places.2.postcode_districts.0": 41, ...}``: where each value starts (1-based)."""
    found = {} if found is None else found
    found[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            found[child] = key.start_mark.line + 1
            _lines(value, child, found)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, f"{path}.{i}" if path else str(i), found)
    return found


def _line_of(path: str, lines: dict[str, int]) -> int:
    while path not in lines and "." in path:
        path = path.rsplit(".", 1)[0]
    return lines.get(path, 1)


def parse(text: str, source: str = "<text>") -> Ics:
    """An ICS configuration from YAML text; ``IcsConfigError`` naming each problem's line."""
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        raise IcsConfigError(source, [f"{where}: not valid YAML: {exc}"]) from None
    if node is None or not isinstance(raw, dict) or "ics" not in raw:
        raise IcsConfigError(source, ["line 1: the file must start with 'ics:'"])
    lines = _lines(node)
    try:
        data = _IcsSchema().load(raw["ics"])
    except ValidationError as exc:
        # A wording's problems name its version and language, not marshmallow's "value".
        found = {
            path.replace(".value.", ".", 1) if path.startswith("consent.wordings.") else path: r
            for path, r in flatten_errors(exc.messages).items()
        }
        problems = [
            f"line {_line_of('ics.' + path, lines)} ({path}): {'; '.join(reasons)}"
            for path, reasons in found.items()
        ]
        raise IcsConfigError(source, sorted(problems, key=_line_number)) from None
    return _build(data, source)


def _line_number(problem: str) -> int:
    return int(problem.split()[1])


def _build(data: dict[str, Any], source: str) -> Ics:
    return Ics(
        code=data["code"],
        name=data["name"],
        short_name=data["short_name"],
        area_level=data["area_level"],
        places=tuple(
            Place(
                code=p["code"],
                name=p["name"],
                postcode_areas=tuple(p["postcode_areas"]),
                postcode_districts=tuple(p["postcode_districts"]),
                postcode_districts_to_complete=tuple(p["postcode_districts_to_complete"]),
                areas=tuple(Area(**a) for a in p["areas"]),
            )
            for p in data["places"]
        ),
        priorities=tuple(
            Priority(p["code"], p["name"], p["description"], tuple(p["ambitions"]))
            for p in data["priorities"]
        ),
        partners=tuple(Partner(**p) for p in data["partners"]),
        contact=dict(data["contact"]),
        safeguarding=dict(data["safeguarding"]),
        response_targets=dict(data["response_targets"]),
        retention_days=dict(data["retention_days"]),
        small_number_threshold=data["small_number_threshold"],
        languages=tuple(Language(**lang) for lang in data["languages"]),
        consent_version=data["consent"]["current"],
        consent_wordings={v: w["en"] for v, w in data["consent"]["wordings"].items()},
        consent_translations={v: dict(w) for v, w in data["consent"]["wordings"].items()},
        feedback_consent_version=data["consent"]["feedback_current"] or data["consent"]["current"],
        events_consent_version=data["consent"]["events_current"] or data["consent"]["current"],
        event_book_ahead_days=dict(data["events"]["book_ahead_days"]),
        event_reminder_hours=data["events"]["reminder_hours_before"],
        postcode_examples=tuple(data["postcode_examples"]),
        source=source,
    )


def load(name_or_path: str | os.PathLike[str]) -> Ics:
    """A shipped configuration by name, or a file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SHIPPED / f"{name_or_path}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        shipped = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.yaml")))
        raise IcsConfigError(
            str(path), [f"cannot read it ({exc.strerror}); shipped: {shipped}"]
        ) from None
    return parse(text, str(path))


_current: Ics | None = None


def ics() -> Ics:
    """The configuration this process serves, read once from ``ENGAGE_ICS_CONFIG``."""
    global _current
    if _current is None:
        _current = load(os.environ.get("ENGAGE_ICS_CONFIG") or DEFAULT)
    return _current


@contextmanager
def serving(config: Ics) -> Iterator[Ics]:
    """Serve another configuration for a while (tests of one process under two ICSs)."""
    global _current
    before, _current = _current, config
    try:
        yield config
    finally:
        _current = before


__all__ = ["Ics", "IcsConfigError", "ics", "load", "parse", "serving"]
