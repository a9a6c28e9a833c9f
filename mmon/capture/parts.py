"""A merged window as SageMaker's merge job writes it: ``part-0000N-<uuid>.c000.<fmt>`` files, published
together so that a reader sees one whole generation of the window or the previous one, never a mix.

Built on :mod:`mmon.publish`'s protocol (staged copies, a marker naming every file's size and
SHA-256, then the final names), but streaming: ``publish()`` takes every file's bytes at once,
while a window's parts are staged one by one as they are made, so memory holds one part::

    OUT/.mmon-staging/ID/part-0000N-…      1. each part as it is made (a crash here leaves the
                                              previous generation and its marker untouched)
    OUT/.mmon-report.json                  2. the marker: ``"kind": "capture-merge"``, state
                                              ``publishing``, every part's size and hash
    OUT/part-0000N-…, merge_summary.json   3. final names (the summary last)
    OUT/.mmon-report.json                  4. state ``complete``; then parts of an older
                                              generation that this one lacks are removed

Readers (:func:`published_data`) take a folder with such a marker as exactly the parts it names,
in part order, and refuse (exit 3, naming the folder) one whose marker is not ``complete``. A
folder without the marker (SageMaker's own merge output) is read as it is.

Determinism: the uuid of a window's parts is a hash of the window, the output kind and format
(not random), and part boundaries follow record counts and input files (the merge's chunks), so
the same input gives the same file names and bytes.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from mmon import publish
from mmon.errors import InputError, StorageError
from mmon.store import Store, join

MARKER_KIND = "capture-merge"
PART_PATTERN = re.compile(r"^part-\d{5}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.c000\.(jsonl|parquet)$")
# Single-file outputs of mmon before parts: removed when a window is published as parts.
LEGACY_NAMES = ("merged.jsonl", "merged.parquet")


def parts_uuid(*key: str) -> str:
    """A uuid (version-4 form, as Spark's) derived from ``key``: the same window gives the same names."""
    digest = hashlib.sha256("\x1f".join(key).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def part_name(uid: str, index: int, fmt: str) -> str:
    return f"part-{index:05d}-{uid}.c000.{fmt}"


def _basename(url: str) -> str:
    return posixpath.basename(url.replace("\\", "/").rstrip("/"))


class PartsPublisher:
    """Stage parts one by one, then publish them with the summary in one generation."""

    def __init__(self, store: Store, folder: str) -> None:
        self.store = store
        self.folder = folder
        self.id = publish.new_execution_id()
        self.staging = publish._url(folder, f"{publish.STAGING_DIR}/{self.id}")
        self.files: dict[str, dict[str, Any]] = {}  # name -> size, sha256 (in publish order)
        self.replaces: list[str] = []  # parts of earlier generations to remove once this one is complete
        self._pool: ThreadPoolExecutor | None = None
        self._writing: Future[None] | None = None

    def add(self, name: str, data: bytes) -> None:
        """Stage one file (a part, or the summary last).

        Written (and hashed) in a thread of its own while the caller makes the next part: one part
        at a time, so memory holds at most the part being written and the one being made. On one
        thread, writing the 10M-record day's 4 GiB of merged records was a quarter of its merge.
        An error of a write is raised by the next ``add`` or by ``commit``.
        """
        self._wait()
        entry: dict[str, Any] = {"size": len(data)}
        self.files[name] = entry  # (in the order of the calls: the marker lists parts in order)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1)
        self._writing = self._pool.submit(self._stage, name, data, entry)

    def _stage(self, name: str, data: bytes, entry: dict[str, Any]) -> None:
        self.store.write_bytes(publish._url(self.staging, name), data)
        entry["sha256"] = hashlib.sha256(data).hexdigest()

    def _wait(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def abort(self) -> None:
        """Remove the staged files (nothing names them yet): the previous generation stays whole."""
        try:
            self._close()  # (a write under way ends first: nothing is left behind it)
            publish._remove_tree(self.store, self.staging)
        except Exception:  # noqa: BLE001 - the error that stopped the merge is the one to report
            pass

    def _marker(self, state: str) -> bytes:
        doc = {
            "format": publish.MARKER_FORMAT,
            "kind": MARKER_KIND,
            "id": self.id,
            "state": state,
            "published": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": self.files,
            "replaces": self.replaces,
        }
        return (json.dumps(doc, indent=2) + "\n").encode()

    def commit(self) -> None:
        """Steps 2-4: the marker, the final names (in order, the last staged file last), ``complete``."""
        try:
            self._wait()  # every part staged before the marker names it
        finally:
            self._close()
        marker_url = publish._url(self.folder, publish.MARKER_NAME)
        # The parts of the previous generation (complete or not), to remove those this one lacks.
        # (and, when that one never completed, those it was replacing): carried in the marker, so a
        # publish that stops half way still lets the next one clean up after both.
        previous = read_merge_marker(self.store, self.folder) or {}
        old = [n for n in previous.get("files", {}) if PART_PATTERN.match(n)]
        if previous.get("state") != "complete":
            old += [n for n in previous.get("replaces", []) if isinstance(n, str) and PART_PATTERN.match(n)]
        self.replaces = [n for n in dict.fromkeys(old) if n not in self.files]
        old = self.replaces + list(LEGACY_NAMES)
        self.store.write_bytes(marker_url, self._marker("publishing"))
        for name, entry in self.files.items():
            publish._promote(self.store, publish._url(self.staging, name), join(self.folder, name), entry["size"])
        self.store.write_bytes(marker_url, self._marker("complete"))
        for name in old:
            if name in self.files:
                continue
            url = join(self.folder, name)
            try:
                if self.store.exists(url):
                    self.store.delete(url)
            except (InputError, StorageError):
                pass  # not part of this generation: readers leave it out anyway
        publish._remove_tree(self.store, self.staging)


def read_merge_marker(store: Store, folder: str) -> dict[str, Any] | None:
    """The capture-merge marker of ``folder``; None when it has none or it is another command's."""
    try:
        data = store.read_bytes(publish._url(folder, publish.MARKER_NAME))
    except InputError:
        return None
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise StorageError(f"{folder}: unreadable marker {publish.MARKER_NAME} ({exc}); run capture-merge again") from exc
    if not isinstance(doc, dict) or doc.get("kind") != MARKER_KIND:
        return None
    return doc


def _dirname(url: str) -> str:
    return posixpath.dirname(url.replace("\\", "/").rstrip("/"))


def published_data(store: Store, found: list[str]) -> list[str]:
    """The data files of a listing (``found``, sorted) with each merged window as it was published.

    Only folders holding ``part-…`` files are looked at: one merged by capture-merge gives exactly
    its marker's parts, in part order (an older generation's leftovers are not read); one whose
    publishing did not finish is refused (StorageError, exit 3, naming the folder). A folder
    without a capture-merge marker (SageMaker's merge output) is read as it is.
    """
    dirs = {_dirname(u): u for u in found if PART_PATTERN.match(_basename(u))}
    if not dirs:
        return found
    keep: dict[str, list[str] | None] = {}
    for d, sample in dirs.items():
        folder = sample[: len(sample) - len(_basename(sample))].rstrip("/\\") or d
        doc = read_merge_marker(store, folder)
        if doc is None:
            keep[d] = None
            continue
        if doc.get("state") != "complete":
            raise StorageError(
                f"{folder}: the merged window is incomplete: capture-merge {doc.get('id')} did not finish "
                "publishing it; run capture-merge again"
            )
        names = [n for n in doc.get("files", {}) if PART_PATTERN.match(n)]
        present = {_basename(u) for u in found if _dirname(u) == d}
        missing = [n for n in names if n not in present]
        if missing:
            raise StorageError(f"{folder}: the merged window lacks {missing[0]}, named by its marker; run capture-merge again")
        keep[d] = names
    out = []
    for u in found:
        kept = keep.get(_dirname(u))
        if kept is None or not PART_PATTERN.match(_basename(u)) or _basename(u) in kept:
            out.append(u)
    return out
