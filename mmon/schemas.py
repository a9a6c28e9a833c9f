"""Validation of SageMaker-format JSON documents against the repo's JSON Schemas.

The schemas (draft 2020-12) live in the top-level ``schemas/`` folder, shipped inside the package as
``mmon.schema_files`` (see pyproject.toml) and read with :func:`schema_text`:
``statistics.schema.json``, ``constraints.schema.json`` and
``constraint_violations.schema.json``; they cover data-quality and model-quality files, old and
new formats (format study ``shared/reference/sagemaker-formats.md`` §1-§4). A failed validation
raises :class:`mmon.errors.SchemaError` (exit code 2) with a one-line message naming the source
and the JSON pointer of the first (``jsonschema.exceptions.best_match``) error.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from mmon import jsonfmt
from mmon.errors import InputError, SchemaError

__all__ = ["Kind", "KINDS", "schema_text", "load_schema", "load_json", "validate", "load_document", "json_pointer"]

Kind = Literal["statistics", "constraints", "constraint_violations"]
KINDS: tuple[str, ...] = ("statistics", "constraints", "constraint_violations")


def schema_text(name: str) -> str:
    """The text of ``schemas/<name>`` as installed (a checkout, an editable install or a wheel)."""
    return resources.files("mmon.schema_files").joinpath(name).read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> Any:
    """The parsed JSON Schema ``schemas/<name>``."""
    return json.loads(schema_text(name))

# The pattern of the schemas' "num" definition (number or non-finite string); errors on it get a
# readable message instead of the raw regex.
_NUM_PATTERN = "^(NaN|Infinity|-Infinity)$"
_MAX_REPR = 60


@cache
def _validator(kind: str) -> Draft202012Validator:
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {', '.join(KINDS)}")
    schema = load_schema(f"{kind}.schema.json")
    # The schemas themselves are checked by tests/test_schemas.py, not on every run.
    return Draft202012Validator(inline_local_refs(schema))


def inline_local_refs(schema: Any, defs: dict[str, Any] | None = None, seen: tuple[str, ...] = ()) -> Any:
    """``schema`` with every ``{"$ref": "#/$defs/NAME"}`` replaced by that definition.

    jsonschema resolves a ``$ref`` through its registry on every visit: a statistics file of 500
    features makes ~40 000 lookups, a second of a report's build. The schemas' definitions are not
    recursive, so inlining them once gives the same verdicts and the same error paths.
    """
    if defs is None:
        defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}
    if isinstance(schema, list):
        return [inline_local_refs(x, defs, seen) for x in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(schema) == 1:
        name = ref[len("#/$defs/") :]
        if name in defs and name not in seen:
            return inline_local_refs(defs[name], defs, (*seen, name))
    return {k: (v if k == "$defs" else inline_local_refs(v, defs, seen)) for k, v in schema.items()}


def json_pointer(path: Any) -> str:
    """RFC 6901 pointer for a jsonschema error path (``/`` for the document root)."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts)


def _brief(instance: Any) -> str:
    r = repr(instance)
    return r if len(r) <= _MAX_REPR else r[: _MAX_REPR - 1] + "…"


def _message(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    alternatives = error.validator_value if error.validator in ("anyOf", "oneOf") else None
    if error.validator in ("type", "pattern") and schema.get("pattern") == _NUM_PATTERN:
        msg = f"{_brief(error.instance)} is not a number (nor 'NaN', 'Infinity', '-Infinity')"
    elif isinstance(alternatives, list) and all(
        isinstance(s, dict) and set(s) == {"required"} and len(s["required"]) == 1 for s in alternatives
    ):
        # "anyOf": [{"required": [k1]}, {"required": [k2]}, …]: say which keys would do.
        keys = ", ".join(repr(s["required"][0]) for s in alternatives)
        msg = f"object needs one of the keys {keys}"
    else:
        msg = error.message
        # jsonschema starts most messages with repr(instance), which can be a whole document.
        full = repr(error.instance)
        if len(full) > _MAX_REPR and msg.startswith(full):
            msg = _brief(error.instance) + msg[len(full) :]
    return msg.replace("\r", " ").replace("\n", " ")  # one line


def validate(doc: Any, kind: Kind, source: str) -> None:
    """Validate a parsed document against the schema of ``kind``.

    Raises ``SchemaError(f"{source}: {message} at {json_pointer}")`` for the best-matching error,
    e.g. ``baseline/statistics.json: 'Float' is not one of [...] at /features/3/inferred_type``.
    The verdict comes from the schema compiled into plain checks (:func:`compile_check`, the same
    verdict as jsonschema's, ten times faster); only a document it rejects is walked again by
    jsonschema, for the error and its JSON pointer.
    """
    checked, bad_sketch = _split_sketches(doc) if kind == "statistics" else (doc, None)
    check = _fast_check(kind)
    try:
        valid = check is not None and check(checked)
    except RecursionError:
        valid = False  # jsonschema below names the depth
    if not valid:
        _raise_schema_error(checked, kind, source, doc)
    if bad_sketch is not None:
        raise SchemaError(f"{source}: a KLL sketch value is not a finite number at {json_pointer(bad_sketch)}")


def _raise_schema_error(checked: Any, kind: str, source: str, doc: Any) -> None:
    """jsonschema's best-matching error of ``checked`` as a one-line SchemaError (none: return)."""
    try:
        error = best_match(_validator(kind).iter_errors(checked))
    except RecursionError:
        deep = _too_deep(doc)
        raise SchemaError(f"{source}: nested deeper than {MAX_DEPTH} levels at {json_pointer(deep or [])}") from None
    if error is not None:
        path = list(error.absolute_path)
        unknown = _unknown_key(error)
        if unknown is not None:  # name the misspelt key itself, and what it may have meant
            raise SchemaError(f"{source}: unknown key {unknown[0]!r}{unknown[1]} at {json_pointer([*path, unknown[0]])}")
        raise SchemaError(f"{source}: {_message(error)} at {json_pointer(path)}")


def _unknown_key(error: ValidationError) -> tuple[str, str] | None:
    """(key, hint) for an ``additionalProperties: false`` error: the first key the schema does not know."""
    import difflib

    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return None
    known = list(schema.get("properties", {}))
    extra = [k for k in error.instance if k not in known]
    if not extra:
        return None
    close = difflib.get_close_matches(extra[0], known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
    return str(extra[0]), hint


# SageMaker's documents nest a few levels (a KLL sketch's levels are the deepest, at 6); jsonschema
# recurses several Python frames per level, so a hostile depth ends in RecursionError: then the
# first value deeper than this is named.
MAX_DEPTH = 64


def _too_deep(doc: Any) -> list[Any] | None:
    """The path of the first value nested deeper than MAX_DEPTH, or None (iterative: no recursion)."""
    stack: list[tuple[Any, list[Any]]] = [(doc, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return path
        if isinstance(value, dict):
            stack.extend((v, [*path, k]) for k, v in value.items() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(value) if isinstance(v, (dict, list)))
    return None


def _numbers_only(level: Any) -> bool:
    return isinstance(level, list) and set(map(type, level)) <= {float, int}


def _split_sketches(doc: Any) -> tuple[Any, list[Any] | None]:
    """(``doc`` for the schema check, path of the first non-finite KLL sketch value or None).

    The first is ``doc`` with every KLL ``sketch.data`` that holds only numbers emptied (a shallow
    copy): those levels are tens of thousands of numbers; the schema's ``num_list`` takes any
    number, so checking their Python types here is the same test, 100 times faster than a walk.
    Anything else in them (a string, null, a nested list) is left for the schema check to report
    with its JSON pointer. The second is reported after the schema check: a sketch holds numbers
    only, though the schema's ``num`` lets "NaN" through, as it must elsewhere.
    """
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        return doc, None
    bad: list[Any] | None = None
    out_features = []
    for i, feature in enumerate(features):
        sketch = kll_sketch(feature)
        if sketch is None:
            out_features.append(feature)
            continue
        data = sketch["data"]
        levels = data if isinstance(data, list) else []
        numbers = isinstance(data, list)
        for j, level in enumerate(levels):
            if not _numbers_only(level):
                numbers = False
                if not isinstance(level, list):
                    continue
            elif _all_finite(level):
                continue
            if bad is None:
                k = next(k for k, v in enumerate(level) if not (type(v) in (int, float) and math.isfinite(v)))
                bad = ["features", i, "numerical_statistics", "distribution", "kll", "sketch", "data", j, k]
        if not numbers:
            out_features.append(feature)
            continue
        out_features.append(without_sketch_data(feature))
    return {**doc, "features": out_features}, bad


def kll_sketch(feature: Any) -> dict[str, Any] | None:
    """The KLL ``sketch`` object of a statistics.json feature (it has a ``data`` key), else None."""
    try:
        sketch = feature["numerical_statistics"]["distribution"]["kll"]["sketch"]
        sketch["data"]
    except (KeyError, TypeError):
        return None
    return sketch  # type: ignore[no-any-return]


def without_sketch_data(feature: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of a feature that has a KLL sketch, with the sketch's ``data`` emptied (the
    levels are the bulk of a statistics.json; the rest of the document is kept as it is)."""
    ns = feature["numerical_statistics"]
    dist = ns["distribution"]
    kll = dist["kll"]
    sketch = {**kll["sketch"], "data": []}
    return {**feature, "numerical_statistics": {**ns, "distribution": {**dist, "kll": {**kll, "sketch": sketch}}}}


def _all_finite(level: list[int | float]) -> bool:
    """Whether a list of ints and floats holds no NaN or infinity, at C speed: a NaN or an
    infinity makes the sum NaN or infinite; a finite sum that overflows only sends the level to
    the exact test."""
    try:
        if math.isfinite(sum(level)):
            return True
    except OverflowError:  # an int sum beyond a double
        pass
    return all(math.isfinite(v) for v in level)


# -- the schemas compiled into plain checks ---------------------------------------------------------
#
# jsonschema builds an error context for every keyword of every value it visits (about 0.2 s for a
# 500-feature statistics file, on every read). A valid document needs none of that: the schema is
# compiled once into nested closures that answer valid or not with jsonschema's own semantics for
# each keyword the schemas use (tests/test_schemas.py compares both verdicts on mutated documents).
# A keyword it does not know makes compile_check refuse, and jsonschema then checks alone.

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"})


class UnsupportedSchema(ValueError):
    """A keyword or a reference :func:`compile_check` does not implement."""


def _is_number(x: Any) -> bool:  # jsonschema's "number": bool is not a number
    return type(x) in (int, float) or (not isinstance(x, bool) and isinstance(x, numbers.Number))


def _is_integer(x: Any) -> bool:  # draft 6+: an integral float is an integer
    return not isinstance(x, bool) and (isinstance(x, int) or (isinstance(x, float) and x.is_integer()))


_TYPES: dict[str, Check] = {
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "integer": _is_integer,
    "null": lambda x: x is None,
    "number": _is_number,
    "object": lambda x: isinstance(x, dict),
    "string": lambda x: isinstance(x, str),
}


def _yes(x: Any) -> bool:
    return True


def _no(x: Any) -> bool:
    return False


def compile_check(schema: Any, root: Any = None, seen: tuple[str, ...] = ()) -> Check:
    """A function ``doc -> bool`` with the verdict of a Draft 2020-12 validator of ``schema``.

    Handles the keywords mmon's schemas use (type, enum, properties, required,
    additionalProperties, items, anyOf, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
    pattern, a ``$ref`` inside the schema, not recursive); raises :class:`UnsupportedSchema` for
    any other.
    """
    if root is None:
        root = schema
    if schema is True:
        return _yes
    if schema is False:
        return _no
    if not isinstance(schema, dict):
        raise UnsupportedSchema(f"schema {schema!r}")
    checks: list[Check] = []
    for key, value in schema.items():
        if key in _ANNOTATIONS or key in ("properties", "required", "additionalProperties"):
            continue
        if key == "$ref":
            if not isinstance(value, str) or value in seen:
                raise UnsupportedSchema(f"$ref {value!r}")
            checks.append(compile_check(_local_target(root, value), root, (*seen, value)))
        elif key == "type":
            names = [value] if isinstance(value, str) else list(value)
            if not all(t in _TYPES for t in names):
                raise UnsupportedSchema(f"type {value!r}")
            tests = [_TYPES[t] for t in names]
            checks.append(tests[0] if len(tests) == 1 else _any_of(tests))
        elif key == "enum":
            if not all(isinstance(v, str) for v in value):
                raise UnsupportedSchema("enum of non-strings")
            checks.append(_enum(frozenset(value)))
        elif key == "items":
            if "prefixItems" in schema:
                raise UnsupportedSchema("prefixItems")
            checks.append(_items(compile_check(value, root, seen)))
        elif key == "anyOf":
            checks.append(_any_of([compile_check(v, root, seen) for v in value]))
        elif key in _BOUNDS:
            checks.append(_BOUNDS[key](value))
        elif key == "pattern":
            checks.append(_pattern(re.compile(value)))
        else:
            raise UnsupportedSchema(f"keyword {key!r}")
    if any(k in schema for k in ("properties", "required", "additionalProperties")):
        checks.append(_object(schema, root, seen))
    return _all_of(checks)


def _local_target(root: Any, ref: str) -> Any:
    """The part of ``root`` a ``#/a/b`` reference names (RFC 6901 pointer)."""
    if not ref.startswith("#/"):
        raise UnsupportedSchema(f"$ref {ref!r}")
    node = root
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise UnsupportedSchema(f"$ref {ref!r}")
    return node


_BOUNDS: dict[str, Callable[[Any], Check]] = {
    "minimum": lambda m: lambda x: not _is_number(x) or not x < m,
    "maximum": lambda m: lambda x: not _is_number(x) or not x > m,
    "exclusiveMinimum": lambda m: lambda x: not _is_number(x) or not x <= m,
    "exclusiveMaximum": lambda m: lambda x: not _is_number(x) or not x >= m,
}


def _enum(allowed: frozenset[str]) -> Check:
    return lambda x: isinstance(x, str) and x in allowed


def _pattern(rx: re.Pattern[str]) -> Check:
    return lambda x: not isinstance(x, str) or rx.search(x) is not None


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return _yes
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)
    return lambda x: all(c(x) for c in checks)


def _any_of(checks: list[Check]) -> Check:
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) or second(x)
    return lambda x: any(c(x) for c in checks)


def _items(item: Check) -> Check:
    def check(x: Any) -> bool:
        if not isinstance(x, list):
            return True
        for v in x:
            if not item(v):
                return False
        return True

    return check


def _object(schema: dict[str, Any], root: Any, seen: tuple[str, ...]) -> Check:
    """properties, required and additionalProperties in one pass over the object's keys."""
    props = {k: compile_check(v, root, seen) for k, v in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    extra: Check | None = compile_check(schema["additionalProperties"], root, seen) if "additionalProperties" in schema else None
    if "patternProperties" in schema:
        raise UnsupportedSchema("patternProperties")

    def check(x: Any) -> bool:
        if not isinstance(x, dict):
            return True
        for k in required:
            if k not in x:
                return False
        for k, v in x.items():
            c = props.get(k, extra)
            if c is not None and not c(v):
                return False
        return True

    return check


@cache
def _fast_check(kind: str) -> Check | None:
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {', '.join(KINDS)}")
    try:
        return compile_check(load_schema(f"{kind}.schema.json"))
    except UnsupportedSchema:
        return None


def load_json(text: str | bytes, source: str) -> Any:
    """Parse JSON text with :func:`mmon.jsonfmt.loads`; a parse error becomes ``InputError``.

    Message: ``{source}: not valid JSON: {msg} (line L, column C)``.
    """
    try:
        doc = jsonfmt.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except RecursionError:
        raise InputError(f"{source}: not valid JSON: nested too deep for a SageMaker document (line 1)") from None
    big = _too_big(doc)
    if big is not None:
        raise SchemaError(f"{source}: a number too large for a double at {json_pointer(big)}")
    return doc


def _too_big(doc: Any) -> list[Any] | None:
    """The path of the first integer beyond a double's range (Java reads every number as a double;
    Python would keep 10**400 exactly and fail later converting it), or None."""
    stack: list[tuple[Any, list[Any]]] = [(doc, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, [*path, k]) for k, v in reversed(value.items()) if isinstance(v, (dict, list, int)))
        elif isinstance(value, list):
            types = set(map(type, value))  # at C speed: sketches hold tens of thousands of doubles
            if types <= {float} or (types <= {float, int} and not any(type(v) is int and abs(v) >= 1e308 for v in value)):
                continue
            stack.extend((v, [*path, i]) for i, v in reversed(list(enumerate(value))) if isinstance(v, (dict, list, int)))
        elif type(value) is int and abs(value) >= 1e308:
            return path
    return None


def load_document(text: str | bytes, kind: Kind, source: str) -> Any:
    """:func:`load_json` then :func:`validate`; returns the parsed document."""
    doc = load_json(text, source)
    validate(doc, kind, source)
    return doc
