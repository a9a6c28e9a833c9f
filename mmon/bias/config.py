"""``analysis_config.json``: loading, validation against ``schemas/analysis_config.schema.json``."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mmon import schemas
from mmon.bias.metrics import ALIASES, POST_TRAINING, PRE_TRAINING
from mmon.errors import InputError, SchemaError
from mmon.store import Store

SCHEMA_FILE = "analysis_config.schema.json"


@cache
def _validator() -> Draft202012Validator:
    schema = schemas.load_schema(SCHEMA_FILE)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_analysis_config(doc: Any, source: str) -> dict[str, Any]:
    """Validate a parsed config; ``SchemaError`` (exit 2) names the JSON pointer of the first error."""
    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        msg = schemas._message(error)  # noqa: SLF001 - the shared one-line message builder
        raise SchemaError(f"{source}: {msg} at {schemas.json_pointer(error.absolute_path)}")
    assert isinstance(doc, dict)
    return doc


def load_analysis_config(store: Store, url: str) -> dict[str, Any]:
    """Read and validate Clarify's ``analysis_config.json`` (InputError / SchemaError, exit 2)."""
    doc = schemas.load_json(store.read_text(url), url)
    return validate_analysis_config(doc, url)


def selected_methods(config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Pre- and post-training metric names to compute, sorted as Clarify writes them.

    ``methods`` absent: every metric of both stages. A stage absent from ``methods``: none of it.
    ``"DCAcc"`` (the docs' name) is accepted for ``DCA`` (the files' name).
    """
    methods = config.get("methods")
    if not isinstance(methods, dict) or not (
        "pre_training_bias" in methods or "post_training_bias" in methods
    ):
        return list(PRE_TRAINING), list(POST_TRAINING)

    def pick(key: str, every: tuple[str, ...]) -> list[str]:
        spec = methods.get(key)
        if spec is None:
            return []
        names = spec.get("methods")
        if names == "all":
            return list(every)
        out = sorted({ALIASES.get(n, n) for n in names})
        bad = [n for n in out if n not in every]
        if bad:
            raise InputError(f"methods.{key}: {', '.join(bad)} is not a {key.replace('_', '-')} metric")
        return out

    return pick("pre_training_bias", PRE_TRAINING), pick("post_training_bias", POST_TRAINING)
