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
    """
    try:
        error = best_match(_validator(kind).iter_errors(_without_numeric_sketches(doc) if kind == "statistics" else doc))
    except RecursionError:
        deep = _too_deep(doc)
        raise SchemaError(f"{source}: nested deeper than {MAX_DEPTH} levels at {json_pointer(deep or [])}") from None
    if error is not None:
        path = list(error.absolute_path)
        unknown = _unknown_key(error)
        if unknown is not None:  # name the misspelt key itself, and what it may have meant
            raise SchemaError(f"{source}: unknown key {unknown[0]!r}{unknown[1]} at {json_pointer([*path, unknown[0]])}")
        raise SchemaError(f"{source}: {_message(error)} at {json_pointer(path)}")

    if kind == "statistics":
        bad = _non_finite_sketch_value(doc)
        if bad is not None:
            raise SchemaError(f"{source}: a KLL sketch value is not a finite number at {json_pointer(bad)}")

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


def _non_finite_sketch_value(doc: Any) -> list[Any] | None:
    """The path of the first NaN/Infinity in a KLL sketch's data: a sketch holds numbers only
    (the schema's ``num`` lets "NaN" through, as it must elsewhere)."""
    for i, feature in enumerate(doc.get("features") or []):
        try:
            data = feature["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"]
        except (KeyError, TypeError):
            continue
        for j, level in enumerate(data if isinstance(data, list) else []):
            if not isinstance(level, list):
                continue
            if _numbers_only(level) and all(math.isfinite(v) for v in level if type(v) is float):
                continue
            for k, v in enumerate(level):
                if not (type(v) in (int, float) and math.isfinite(v)):
                    return ["features", i, "numerical_statistics", "distribution", "kll", "sketch", "data", j, k]
    return None


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


def _without_numeric_sketches(doc: Any) -> Any:
    """``doc`` with every KLL ``sketch.data`` that holds only numbers emptied (a shallow copy).

    Those levels are tens of thousands of numbers; the schema's ``num_list`` takes any number, so
    checking their Python types here is the same test, 100 times faster than jsonschema's walk.
    Anything else in them (a string, null, a nested list) is left for jsonschema to report with
    its JSON pointer.
    """
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        return doc
    out_features = []
    for feature in features:
        try:
            sketch = feature["numerical_statistics"]["distribution"]["kll"]["sketch"]
            data = sketch["data"]
        except (KeyError, TypeError):
            out_features.append(feature)
            continue
        if not (isinstance(data, list) and all(_numbers_only(level) for level in data)):
            out_features.append(feature)
            continue
        ns = feature["numerical_statistics"]
        dist = ns["distribution"]
        kll = dist["kll"]
        out_features.append(
            {**feature, "numerical_statistics": {**ns, "distribution": {**dist, "kll": {**kll, "sketch": {**sketch, "data": []}}}}}
        )
    return {**doc, "features": out_features}


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
