"""Reading and writing SageMaker's JSON documents: always validated, always written atomically."""

from __future__ import annotations

from typing import Any, Literal

from mmon import jsonfmt, schemas
from mmon.errors import InputError
from mmon.store import Store

Kind = Literal["statistics", "constraints", "constraint_violations"]


def load_document(store: Store, url: str, kind: Kind) -> dict[str, Any]:
    """Read a statistics / constraints / violations file and validate it against its schema."""
    text = store.read_text(url)
    doc = schemas.load_json(text, url)
    if not isinstance(doc, dict):
        raise InputError(f"{url}: expected a JSON object at /")
    schemas.validate(doc, kind, url)
    return doc


def encode_document(doc: dict[str, Any], kind: Kind, url: str) -> bytes:
    """Validate a document that is about to be written and serialise it in SageMaker's style."""
    schemas.validate(doc, kind, url)
    return jsonfmt.dumps(doc).encode("utf-8")
