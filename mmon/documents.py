"""Reading and writing SageMaker's JSON documents (always validated, always written atomically), and
the report writer every monitor type's run uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from mmon import jsonfmt, schemas
from mmon.errors import InputError
from mmon.store import Store, join

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


Body = bytes | Callable[[str], bytes]


def document_body(doc: dict[str, Any], kind: Kind) -> Callable[[str], bytes]:
    """A report file's body that is a SageMaker document, validated and encoded for its URL."""
    return lambda url: encode_document(doc, kind, url)


def write_report(
    store: Store, output: str, files: dict[str, tuple[str, Body]], before_publish: Callable[[], None] | None = None
) -> dict[str, str]:
    """Write one report of any monitor type under ``output``; returns its outputs (key -> URL).

    ``files`` maps each output key to (file name, body or body(url)). Every body is encoded before
    anything is written; then ``before_publish`` runs (a scheduled execution checks it still owns
    its hour); then one ``store.write_many``: the first key, constraint_violations.json, is written
    last and marks a complete report.
    """
    urls = {key: join(output, *name.split("/")) for key, (name, _) in files.items()}
    bodies = {urls[key]: body(urls[key]) if callable(body) else body for key, (_, body) in files.items()}
    if before_publish is not None:
        before_publish()
    store.write_many(bodies)
    return urls
