"""Clarify's ``analysis_config.json`` for explainability monitoring, and the analysis.json schema."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mmon.errors import InputError, SchemaError
from mmon.schemas import json_pointer, load_schema
from mmon.store import Store

AGG_METHODS = ("mean_abs", "median", "mean_sq")


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _validate(doc: Any, schema: str, source: str) -> None:
    error = best_match(_validator(schema).iter_errors(doc))
    if error is not None:
        raise SchemaError(f"{source}: {json_pointer(error.absolute_path)}: {error.message}")


def parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}:{exc.lineno}: not valid JSON ({exc.msg})") from exc


def _checked(doc: Any, schema: str, source: str) -> dict[str, Any]:
    """``doc`` if it is a JSON object valid against ``schema``; else a SchemaError naming ``source``."""
    if not isinstance(doc, dict):
        raise SchemaError(f"{source}: /: expected a JSON object")
    _validate(doc, schema, source)
    return doc


def validate_config(config: Any, source: str = "analysis_config") -> dict[str, Any]:
    """Check a Clarify analysis config (``methods.shap`` required) and return it."""
    return _checked(config, "explainability_config.schema.json", source)


def load_config(store: Store, url: str) -> dict[str, Any]:
    """Read and validate ``analysis_config.json`` from any store."""
    return validate_config(parse_json(store.read_text(url), url), url)


def validate_analysis(doc: Any, source: str) -> dict[str, Any]:
    return _checked(doc, "attribution_analysis.schema.json", source)


def load_analysis(store: Store, url: str) -> dict[str, Any]:
    """Read a Clarify explainability ``analysis.json`` (a baseline's constraints)."""
    return validate_analysis(parse_json(store.read_text(url), url), url)


def shap_config(config: dict[str, Any]) -> dict[str, Any]:
    return dict(config.get("methods", {}).get("shap", {}))


def predictor_config(config: dict[str, Any]) -> dict[str, Any]:
    return dict(config.get("predictor", {}) or {})
