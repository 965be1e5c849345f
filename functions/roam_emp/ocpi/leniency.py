"""Strict in what we send, lenient in what we accept.

Plugsurfing documents that its validation is relaxed (e.g. ``cdr_location.address`` up to 200
characters where the spec says 45, ``postal_code`` up to 50 where it says 10, connector
``standard`` values such as ``Type2`` outside the enum). Refusing such an object would lose a CDR,
i.e. revenue, so inbound objects keep over-long strings, unknown enum values and unknown extra
fields; each one is recorded as a :class:`Deviation` so callers can count and log it. Only what we
truly cannot process (a missing id, an unparseable date or number) is refused.

The very same models check what we send: :func:`dump_outbound` re-validates the JSON we are about to
send in strict mode, where every deviation is an error.

The mode travels in pydantic's validation ``context``; without a context, validation is lenient and
records nothing.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import CoreSchema, SchemaValidator, core_schema

from .jsondoc import has_lone_surrogate
from .timestamps import parse_timestamp

STRICT_KEY = "ocpi_strict"
# The attribute naming a check's native equivalent (a function of the schema it checks).
_NATIVE = "_ocpi_native_schema"
_DROPS = "_ocpi_drops_malformed"
DEVIATIONS_KEY = "ocpi_deviations"


@dataclass(frozen=True)
class Deviation:
    """One place where an inbound object departs from the OCPI 2.2.1 specification."""

    where: str  # "Model.field"
    kind: str  # "long_string" | "unknown_enum" | "extra_field" | "lone_surrogate" | "malformed_optional"
    detail: str


@dataclass
class DeviationLog:
    items: list[Deviation] = field(default_factory=list)

    def record(self, where: str, kind: str, detail: str) -> None:
        self.items.append(Deviation(where, kind, detail))

    def __len__(self) -> int:
        return len(self.items)

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        return counts


def _where(info: ValidationInfo) -> str:
    title = info.config.get("title", "?") if info.config else "?"
    return f"{title}.{info.field_name}"


def _deviate(info: ValidationInfo, kind: str, detail: str) -> None:
    ctx = info.context
    if not ctx:
        return
    if ctx.get(STRICT_KEY):
        raise ValueError(detail)
    log = ctx.get(DEVIATIONS_KEY)
    if log is not None:
        log.record(_where(info), kind, detail)


def _max_length(limit: int) -> Callable[[str, ValidationInfo], str]:
    def check(value: str, info: ValidationInfo) -> str:
        if len(value) > limit:
            _deviate(info, "long_string", f"{len(value)} characters, the spec allows {limit}")
        if has_lone_surrogate(value):
            # Kept as received (stored as its JSON escape, ocpi/jsondoc.py), never sent.
            _deviate(info, "lone_surrogate", "a lone UTF-16 surrogate is not a character (RFC 8259 8.2)")
        return value

    # The well-formed case, for the fast path (below): pydantic-core's own length check, which
    # also refuses a lone surrogate (it cannot be read as UTF-8), so every deviation reaches ``check``.
    setattr(check, _NATIVE, lambda inner: {**inner, "max_length": limit})
    return check


E = TypeVar("E", bound=enum.Enum)


def _member_of(enum_type: type[enum.Enum]) -> Callable[[str, ValidationInfo], str]:
    known = frozenset(str(member.value) for member in enum_type)
    name = enum_type.__name__

    def check(value: str, info: ValidationInfo) -> str:
        value = str(value.value) if isinstance(value, enum.Enum) else value
        if value not in known:
            _deviate(info, "unknown_enum", f"{value[:40]!r} is not a {name}")
        return value

    # The known values as a native literal: a known member never calls ``check`` (fast path).
    setattr(check, _NATIVE, lambda inner: core_schema.literal_schema(sorted(known)))
    return check


def limited(limit: int) -> AfterValidator:
    """Annotated metadata for the spec's ``string(n)`` / ``CiString(n)``."""
    return AfterValidator(_max_length(limit))


def member_of(enum_type: type[enum.Enum]) -> AfterValidator:
    """Annotated metadata for an enum field that keeps unknown values when lenient."""
    return AfterValidator(_member_of(enum_type))


def _drop_malformed(fallback: Any) -> Callable[[Any, ValidatorFunctionWrapHandler, ValidationInfo], Any]:
    def check(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError as error:
            if info.context and info.context.get(STRICT_KEY):
                raise
            problems = error.errors()
            bad = {p["loc"][0] for p in problems if p["loc"] and isinstance(p["loc"][0], int)}
            if isinstance(value, list) and bad and len(bad) < len(value):
                # A list of parts: drop only the malformed items, keep the others.
                kept = [item for index, item in enumerate(value) if index not in bad]
                try:
                    result = handler(kept)
                except ValidationError:
                    result = None
                else:
                    _deviate(info, "malformed_optional", f"{len(bad)} malformed item(s) left out")
                    return result
            first = problems[0]
            where = ".".join(str(p) for p in first["loc"]) or "value"
            _deviate(info, "malformed_optional", f"left out: {where}: {first['msg']}"[:200])
            return copy.copy(fallback)  # never share a mutable fallback between objects

    setattr(check, _DROPS, True)
    return check


def dropped_if_malformed(fallback: Any = None) -> WrapValidator:
    """Annotated metadata for an *optional part* of an inbound object (e.g. a location's
    ``opening_times``): when malformed, the validated model leaves it out (``fallback``) and a
    ``malformed_optional`` deviation is recorded, instead of refusing the whole object. The raw JSON
    is stored as received by the caller. Lists lose only their malformed items. Strict mode (what
    we send) still refuses it. Never use it on what keys an object (ids) or orders it (dates)."""
    return WrapValidator(_drop_malformed(fallback))


# The spec's string lengths, named once (types.asciidoc: string(n) and CiString(n)).
String2 = Annotated[str, limited(2)]
String3 = Annotated[str, limited(3)]
String4 = Annotated[str, limited(4)]
String5 = Annotated[str, limited(5)]
String10 = Annotated[str, limited(10)]
String11 = Annotated[str, limited(11)]
String16 = Annotated[str, limited(16)]
String20 = Annotated[str, limited(20)]
String32 = Annotated[str, limited(32)]
String36 = Annotated[str, limited(36)]
String39 = Annotated[str, limited(39)]
String45 = Annotated[str, limited(45)]
String48 = Annotated[str, limited(48)]
String64 = Annotated[str, limited(64)]
String100 = Annotated[str, limited(100)]
String255 = Annotated[str, limited(255)]
String512 = Annotated[str, limited(512)]
String5000 = Annotated[str, limited(5000)]
Url = Annotated[str, limited(255)]


class OcpiModel(BaseModel):
    """Base of every OCPI object: unknown fields are kept (and reported), never dropped."""

    # Built on first use, not at import (issue 11): a function validates a few of the models it
    # imports (authorize: LocationReferences), and cold start pays only for those.
    model_config = ConfigDict(extra="allow", populate_by_name=True, use_enum_values=True, defer_build=True)

    @model_validator(mode="after")
    def _report_extra_fields(self, info: ValidationInfo) -> OcpiModel:
        extra = self.__pydantic_extra__
        if extra:
            ctx = info.context
            if ctx and ctx.get(STRICT_KEY):
                raise ValueError(f"fields not in OCPI 2.2.1: {sorted(extra)}")
            log = ctx.get(DEVIATIONS_KEY) if ctx else None
            if log is not None:
                for name in extra:
                    log.record(f"{type(self).__name__}.{name}", "extra_field", "not in OCPI 2.2.1")
        return self


M = TypeVar("M", bound=BaseModel)
_EXTRA_FIELDS_CHECK = OcpiModel._report_extra_fields


# The fast path of lenient validation (issue 11). The lenient model calls Python for every string
# limit, enum, optional part and model (its extra fields): about a hundred calls per location. Its
# *fast* twin is the same core schema rewritten so that a conforming value stays in pydantic-core:
# - a string limit or an enum becomes a left-to-right union of its native equivalent
#   (``max_length``, a literal of the known values) and today's check, which only a deviating value
#   reaches (so it records exactly what today records, in the same order);
# - an optional part is validated as is, without the wrapper that drops it when malformed;
# - a model refuses extra fields natively instead of reporting them.
# A value the fast twin refuses (an extra field, a malformed optional part, or something truly
# invalid) is validated again by the model itself from scratch, with a fresh deviation log: its
# result, deviations and errors are then today's, byte for byte. The fast twin succeeds only where
# the model would succeed with the same value and the same deviations, so ``parse_inbound`` gives
# the same answer either way; strict mode (``dump_outbound``) never uses it.


def _never(_schema: CoreSchema) -> CoreSchema:
    """A schema no value passes (impossible length bounds): an extra field fails the fast twin."""
    return core_schema.str_schema(min_length=1, max_length=0)


# The common shape of an OCPI DateTime (types.asciidoc), UTC with ``Z`` and at most microseconds:
# pydantic-core reads it to the same instant as ``parse_timestamp``; any other form (an offset, no
# zone, nanoseconds, an impossible date) takes ``parse_timestamp`` as before.
_UTC_TIMESTAMP = core_schema.chain_schema(
    [
        core_schema.str_schema(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"),
        core_schema.datetime_schema(),
    ]
)


def _function_of(node: dict[str, Any]) -> Any:
    function = node.get("function")
    return function.get("function") if isinstance(function, dict) else None


def _model_class(node: dict[str, Any]) -> Any:
    """The class of a model node, or of the extra-fields check around one."""
    if node.get("type") == "function-after" and isinstance(node.get("schema"), dict):
        node = node["schema"]
    return node.get("cls") if node.get("type") == "model" else None


def _as_fields(node: dict[str, Any], twin: Callable[[Any], Any]) -> dict[str, Any]:
    """A model node as a typed dict of the same fields (``twin`` applied to each field's schema,
    the model's config kept: titles and aliases), extra fields refused natively: the fields'
    values without building the model (:func:`check_inbound`)."""
    fields = {
        name: core_schema.typed_dict_field(
            twin(field["schema"]),
            # a field with a default is optional (the default filled in, as the model does)
            required=field["schema"].get("type") != "default",
            validation_alias=field.get("validation_alias"),
            serialization_alias=field.get("serialization_alias"),
        )
        for name, field in node["schema"]["fields"].items()
    }
    return dict(core_schema.typed_dict_schema(fields, extra_behavior="forbid", config=node.get("config")))


def _fast(node: Any, shared: frozenset[type[BaseModel]] = frozenset(), fields_only: bool = False) -> Any:
    if isinstance(node, list):
        return [_fast(item, shared, fields_only) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    function = _function_of(node) if kind and str(kind).startswith("function-") else None
    native = getattr(function, _NATIVE, None)
    replaced: dict[str, Any] | None = None
    if _model_class(node) in shared:
        model = _model_class(node)
        part = _SHARED_PARTS.setdefault((model, fields_only), _SharedPart(model, fields_only))
        replaced = dict(core_schema.with_info_plain_validator_function(part))
    elif kind == "function-before" and function is parse_timestamp:
        plain = {k: v for k, v in node.items() if k != "ref"}
        replaced = dict(core_schema.union_schema([_UTC_TIMESTAMP, plain], mode="left_to_right"))
    elif kind == "function-after" and native is not None:
        plain = {k: v for k, v in node.items() if k != "ref"}
        replaced = dict(core_schema.union_schema([native(node["schema"]), plain], mode="left_to_right"))
    elif (kind == "function-wrap" and getattr(function, _DROPS, False)) or (
        kind == "function-after" and function is _EXTRA_FIELDS_CHECK
    ):
        replaced = dict(_fast(node["schema"], shared, fields_only))
    elif kind == "model" and fields_only:
        replaced = _as_fields(node, lambda schema: _fast(schema, shared, fields_only))
    elif kind == "model-fields":
        return {**{k: _fast(v, shared, fields_only) for k, v in node.items()}, "extras_schema": _never(node)}
    if replaced is None:
        return {key: _fast(value, shared, fields_only) for key, value in node.items()}
    if "ref" in node:  # a definition keeps its name (other schemas refer to it)
        replaced["ref"] = node["ref"]
    return replaced


class _SharedPart:
    """A part validated once per content (its JSON) and shared by every object holding
    it: a page's locations inline the same few tariffs over and over (FAQ "How are tariffs
    represented?"), and validating them is most of a location's validation. Only for callers
    whose objects are read, never mutated (the location pull). The deviations found the first
    time are recorded again at each use, where the model itself would record them."""

    LIMIT = 1024  # contents kept per process (a page holds a few dozen distinct tariffs)

    def __init__(self, model: type[BaseModel], fields_only: bool = False) -> None:
        import orjson  # the pull's dependency, not the authorize function's (cold start)

        self.model = model
        self.fields_only = fields_only
        self.dumps = orjson.dumps
        self.known: dict[bytes, tuple[Any, list[Deviation]]] = {}

    def __call__(self, value: Any, info: ValidationInfo) -> Any:
        try:
            # Keys in the order received: the same content in another order is only a miss.
            key: bytes | None = self.dumps(value)
        except TypeError:  # not plain JSON (a lone surrogate, a huge integer): not shared
            key = None
        if key is not None and b"null" in key and not _FINITE.get():
            key = None  # orjson writes NaN and infinities as null too: not one content
        known = self.known.get(key) if key is not None else None
        if known is None:
            found = DeviationLog()
            try:
                parsed = _fast_validator(self.model, fields_only=self.fields_only).validate_python(
                    value, context={DEVIATIONS_KEY: found}
                )
            except ValidationError as error:  # the model itself says why (parse_inbound)
                raise ValueError(f"{self.model.__name__}: {error.error_count()} error(s)") from None
            known = (parsed, found.items)
            if key is not None:
                if len(self.known) >= self.LIMIT:
                    self.known.clear()
                self.known[key] = known
        log = info.context.get(DEVIATIONS_KEY) if info.context else None
        if log is not None:
            log.items.extend(known[1])
        return known[0]


_SHARED_PARTS: dict[tuple[type[BaseModel], bool], _SharedPart] = {}
_FAST: dict[tuple[type[BaseModel], frozenset[type[BaseModel]], bool], SchemaValidator] = {}


def _fast_validator(
    model: type[BaseModel], shared: frozenset[type[BaseModel]] = frozenset(), fields_only: bool = False
) -> SchemaValidator:
    validator = _FAST.get((model, shared, fields_only))
    if validator is None:
        if not model.__pydantic_complete__:
            model.model_rebuild()  # defer_build: the model's schema is built on first use
        schema = model.__pydantic_core_schema__
        validator = SchemaValidator(_fast(schema, shared, fields_only), schema.get("config"))
        _FAST[(model, shared, fields_only)] = validator
    return validator


_SHARING: ContextVar[frozenset[type[BaseModel]]] = ContextVar("ocpi_shared_parts", default=frozenset())
# Whether the values validated come from a body known to hold no NaN or ±Infinity.
_FINITE: ContextVar[bool] = ContextVar("ocpi_shared_parts_finite", default=False)


@contextmanager
def shared_parts(*models: type[BaseModel], finite_numbers: bool = False) -> Iterator[None]:
    """Within: instances of ``models`` met by :func:`parse_inbound` are validated once per content
    and shared by everything parsed (:class:`_SharedPart`); only for a caller that never mutates
    what it gets (the location pull). ``finite_numbers``: the values come from a body that held
    no NaN or ±Infinity (the hub client says so, ``HubResponse.non_finite_numbers``), so a part
    holding ``null`` is one content too (tariffs hold nulls: without it, each inlined copy of such
    a tariff is validated again, issue 11)."""
    token = _SHARING.set(frozenset(models))
    finite = _FINITE.set(finite_numbers)
    try:
        yield
    finally:
        _FINITE.reset(finite)
        _SHARING.reset(token)


def parse_inbound(model: type[M], data: Any) -> tuple[M, DeviationLog]:
    """Validate data received from the hub leniently; raises pydantic.ValidationError only for
    what cannot be processed at all."""
    log = DeviationLog()
    try:
        parsed = _fast_validator(model, _SHARING.get()).validate_python(data, context={DEVIATIONS_KEY: log})
    except ValidationError:
        log = DeviationLog()  # what the fast twin recorded before it gave up is forgotten
        parsed = model.model_validate(data, context={DEVIATIONS_KEY: log})
    return parsed, log


def check_inbound(model: type[BaseModel], data: Any) -> tuple[dict[str, Any], DeviationLog]:
    """:func:`parse_inbound`'s verdict, deviations and errors, with the validated fields as plain
    data (each model a dict of its fields by name, as ``model_dump()`` gives them) for a caller
    that reads a few of them and keeps the JSON as received (the location pull). A conforming
    object builds no model at all: the fast twin with typed dicts for models, about a quarter
    less work on a page of locations than building ~25 models per location (issue 11). What the
    twin refuses is the model's, as :func:`parse_inbound` does, then dumped."""
    log = DeviationLog()
    validator = _fast_validator(model, _SHARING.get(), fields_only=True)
    try:
        return validator.validate_python(data, context={DEVIATIONS_KEY: log}), log
    except ValidationError:
        log = DeviationLog()  # what the fast twin recorded before it gave up is forgotten
        parsed = model.model_validate(data, context={DEVIATIONS_KEY: log})
    return parsed.model_dump(), log


def parse_inbound_json(model: type[M], raw: str | bytes) -> tuple[M, DeviationLog]:
    log = DeviationLog()
    parsed = model.model_validate_json(raw, context={DEVIATIONS_KEY: log})
    return parsed, log


def to_json_dict(obj: BaseModel) -> dict[str, Any]:
    """The object as OCPI JSON (no nulls, timestamps in UTC with Z)."""
    return obj.model_dump(mode="json", exclude_none=True, by_alias=True)


def dump_outbound(obj: BaseModel) -> dict[str, Any]:
    """Serialize an object we are about to send, refusing anything outside the spec.

    Raises pydantic.ValidationError naming the offending field.
    """
    data = to_json_dict(obj)
    type(obj).model_validate(data, context={STRICT_KEY: True})
    return data


def describe_validation_error(error: ValidationError) -> str:
    """'field.path: reason' for each problem, so the sender knows exactly what to fix."""
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        problems.append(f"{where}: {item['msg']}")
    more = f" (+{error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return "invalid or missing field(s): " + "; ".join(problems) + more
