"""Publishing a report so that a reader sees one execution's files or the previous one's, never a mix.

A report is several files (``constraint_violations.json``, ``statistics.json``, metrics ...). S3
has no rename, and even on a local disk a rename can fail midway, so writing them one by one over
the previous report leaves a mix when a write fails. Publishing goes in three steps::

    FOLDER/.mmon-staging/ID/<file>      1. every file, under a staging key of this execution (ID)
    FOLDER/.mmon-report.json            2. the marker, one write (atomic on S3 and on disk): the
                                           execution ID and every file's size and SHA-256
    FOLDER/<file>                       3. every file under its final name (S3: a server-side
                                           copy; disk: a hard link renamed over the old file)

then the marker is rewritten as ``complete`` (4) and the staging copy removed. Right after step 2,
an HTML report mmon wrote into the folder for the previous execution is removed (``VIEW_FILES``):
people open it without any marker, so it must never outlive the files it describes. A failure in step 1
leaves the previous report and marker untouched (and its staged copies are removed); from step 2
on the marker names the new execution, and a final file that does not match it yet is read from
the staging copy. After step 4 the final names are the report, even when a user edits one of
them afterwards (a hand-tuned ``constraints.json``). Readers (``read_report_file``, ``read_report``, ``load_report_document``) trust a
file only when it matches the marker; a folder with no marker (SageMaker's own results, older
mmon) is read as it is. The final names stay SageMaker's layout for every other consumer
(node-exporter's textfile collector, SageMaker tooling), which see each file replaced whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mmon.errors import InputError, StorageError
from mmon.urls import is_local, join, local_path

if TYPE_CHECKING:
    from mmon.store import Store

MARKER_NAME = ".mmon-report.json"
STAGING_DIR = ".mmon-staging"
MARKER_FORMAT = "mmon-report/1"


@dataclass(frozen=True)
class Marker:
    """The marker of a published report: which execution, and every file's size and hash."""

    folder: str
    id: str
    published: str
    files: dict[str, dict[str, Any]]
    complete: bool = False  # every final name was written (step 3 done)

    def matches(self, name: str, data: bytes) -> bool:
        entry = self.files.get(name)
        return (
            entry is not None
            and entry.get("size") == len(data)
            and entry.get("sha256") == hashlib.sha256(data).hexdigest()
        )


def _split(store: Store, url: str) -> tuple[str, str]:

    if is_local(url):
        path = local_path(url)
        return os.path.dirname(path) or ".", os.path.basename(path)
    head, tail = posixpath.split(url.rstrip("/"))
    return head, tail


def _url(folder: str, rel: str) -> str:

    return join(folder, *rel.split("/"))


def _relative(folder: str, url: str) -> str:

    if is_local(folder):
        rel = os.path.relpath(local_path(url), local_path(folder))
        return rel.replace(os.sep, "/")
    base = folder.rstrip("/") + "/"
    if not url.startswith(base):
        raise ValueError(f"{url} is not below {folder}")
    return url[len(base) :]


def _common_folder(urls: list[str]) -> str:

    if all(is_local(u) for u in urls):
        return os.path.commonpath([os.path.dirname(os.path.abspath(local_path(u))) for u in urls])
    folders = [posixpath.dirname(u.rstrip("/")) for u in urls]
    common = folders[0]
    while any(f != common and not f.startswith(common.rstrip("/") + "/") for f in folders):
        parent = posixpath.dirname(common)
        if parent == common or "://" not in parent or parent.endswith(":/"):
            raise InputError(f"the files of one report must be on one store: {', '.join(urls)}")
        common = parent
    return common


def read_marker(store: Store, folder: str) -> Marker | None:
    """The folder's marker; None when it has none (SageMaker's folders, older mmon)."""
    url = _url(folder, MARKER_NAME)
    try:
        data = store.read_bytes(url)
    except InputError:
        return None  # no marker: not published by this protocol
    try:
        doc = json.loads(data)
        files = doc["files"]
        if not isinstance(files, dict) or not isinstance(doc["id"], str):
            raise TypeError("files must be an object and id a string")
        return Marker(folder, doc["id"], str(doc.get("published", "")), files, doc.get("state") == "complete")
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"{url}: unreadable report marker ({exc}); publish the report again") from exc


def _marker_for(store: Store, url: str) -> tuple[Marker, str] | None:
    """The marker that governs ``url`` (in its folder, or the one above for a file in a subfolder)."""
    folder, name = _split(store, url)
    marker = read_marker(store, folder)
    if marker is not None:
        return marker, name
    parent, sub = _split(store, folder)
    if parent and parent != folder:
        marker = read_marker(store, parent)
        if marker is not None and f"{sub}/{name}" in marker.files:
            return marker, f"{sub}/{name}"
    return None


def read_report_file(store: Store, url: str) -> bytes:
    """A report file's bytes, only as the marker of its folder says it is; as it is without a marker."""
    for _ in range(3):
        found = _marker_for(store, url)
        if found is None:
            return store.read_bytes(url)
        marker, name = found
        data = _read_verified(store, marker, name)
        if data is not None:
            return data
        again = _marker_for(store, url)
        if again is not None and again[0].id != marker.id:
            continue  # a newer report was published while we read: read that one
        if name not in marker.files:
            raise InputError(
                f"{url}: not part of the report in {marker.folder} (execution {marker.id}, published "
                f"{marker.published}); it is left over from an earlier report"
            )
        raise StorageError(
            f"{url}: the report in {marker.folder} is incomplete: execution {marker.id} did not finish "
            "publishing it; run it again"
        )
    raise StorageError(f"{url}: the report keeps changing while it is read; try again")


def _read_verified(store: Store, marker: Marker, name: str) -> bytes | None:
    if name not in marker.files:
        return None
    for url in (_url(marker.folder, name), _url(marker.folder, f"{STAGING_DIR}/{marker.id}/{name}")):
        try:
            data = store.read_bytes(url)
        except InputError:
            continue
        # Once the publish completed, a final file that differs was edited afterwards (say a
        # hand-tuned constraints.json): the user's file, read as it is. (A new publish first
        # rewrites the marker, so this is never a half-published file.)
        if marker.matches(name, data) or (marker.complete and url == _url(marker.folder, name)):
            return data
    return None


def read_report(store: Store, folder: str, names: Iterable[str]) -> tuple[str | None, dict[str, bytes]]:
    """Several files of one report, all of one execution: (execution id or None, {name: bytes}).

    For ``mmon report`` and anything that combines files of a report. Names the report does not
    hold are left out; without a marker the files are read as they are.
    """
    wanted = list(names)
    for _ in range(3):
        marker = read_marker(store, folder)
        out: dict[str, bytes] = {}
        if marker is None:
            for name in wanted:
                try:
                    out[name] = store.read_bytes(_url(folder, name))
                except InputError:
                    continue
            return None, out
        broken = None
        for name in wanted:
            if name not in marker.files:
                continue
            data = _read_verified(store, marker, name)
            if data is None:
                broken = name
                break
            out[name] = data
        again = read_marker(store, folder)
        if again is not None and again.id != marker.id:
            continue
        if broken is not None:
            raise StorageError(
                f"{_url(folder, broken)}: the report in {folder} is incomplete: execution {marker.id} did not "
                "finish publishing it; run it again"
            )
        return marker.id, out
    raise StorageError(f"{folder}: the report keeps changing while it is read; try again")


def load_report_document(store: Store, url: str, kind: Any) -> dict[str, Any]:
    """``documents.load_document`` for a report file: read only as its folder's marker says."""
    from mmon import schemas

    data = read_report_file(store, url)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{url}:{line}: not valid UTF-8 (byte offset {exc.start})") from exc
    doc = schemas.load_json(text, url)
    if not isinstance(doc, dict):
        raise InputError(f"{url}: expected a JSON object at /")
    schemas.validate(doc, kind, url)
    return doc


def new_execution_id(now: datetime | None = None) -> str:
    t = now or datetime.now(UTC)
    return f"{t:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


def publish(store: Store, files: Mapping[str, bytes]) -> str:
    """Publish the files of one report (full URLs) in one folder tree; return the execution id.

    The first key is copied to its final name last, so a consumer that does not read the marker
    (and polls for ``constraint_violations.json``) sees it only once the rest is in place.
    """
    if not files:
        raise ValueError("nothing to publish")
    urls = list(files)
    folder = _common_folder(urls)
    rels = {u: _relative(folder, u) for u in urls}
    exec_id = new_execution_id()
    staging = _url(folder, f"{STAGING_DIR}/{exec_id}")

    # 1. every file under the staging key: the previous report is untouched if this fails
    try:
        for url in urls:
            store.write_bytes(_url(staging, rels[url]), files[url])
    except BaseException:
        try:
            _remove_tree(store, staging)  # nobody can need these: the marker never named them
        except Exception:  # noqa: BLE001 - the write error is the one to report
            pass
        raise

    # 2. the marker, one atomic write: from now on readers verify against this execution
    marker = {
        "format": MARKER_FORMAT,
        "id": exec_id,
        "state": "publishing",
        "published": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": {
            rels[u]: {"size": len(files[u]), "sha256": hashlib.sha256(files[u]).hexdigest()} for u in urls
        },
    }
    store.write_bytes(_url(folder, MARKER_NAME), (json.dumps(marker, indent=2) + "\n").encode())
    # 2b. the marker names this execution now: an HTML report of the previous one goes
    _remove_stale_views(store, folder, set(rels.values()))

    # 3. final names, each replaced whole; the first key last
    for url in urls[1:] + urls[:1]:
        _promote(store, _url(staging, rels[url]), url, len(files[url]))
    marker["state"] = "complete"  # the final names are the report from now on, even if edited later
    store.write_bytes(_url(folder, MARKER_NAME), (json.dumps(marker, indent=2) + "\n").encode())

    # 4. the staging copy, and those of failed publishes older than an hour (best effort: the
    # report is done). Files of an earlier report that this one lacks stay, but are no longer
    # part of the report: readers refuse them (they may be another command's, e.g. a baseline's).
    try:
        _remove_files(store, [_url(staging, rels[u]) for u in urls], staging)
        _remove_stale_staging(store, folder)
    except (InputError, StorageError):
        pass
    return exec_id


# Files mmon derives from a published report for people to open (``mmon report``, ``mmon run
# --report``): written after the publish, so not in the marker, and a browser cannot check a marker.
# Left in place they would describe an earlier execution than the folder's files; so a publish
# into the folder removes one, once its marker names the new execution. Only a file mmon wrote
# goes (its first bytes carry mmon's generator tag): a user's own file of that name stays.
VIEW_FILES = ("report.html",)
VIEW_TAG = b'<meta name="generator" content="mmon '
_VIEW_HEAD = 1024  # the tag is in the page's <head>, in its first few hundred bytes


def _remove_stale_views(store: Store, folder: str, publishing: set[str]) -> None:
    for name in VIEW_FILES:
        if name in publishing:
            continue
        url = _url(folder, name)
        head = _head(store, url, _VIEW_HEAD)
        if head is not None and VIEW_TAG in head:
            _delete(store, url)


def _delete(store: Store, url: str) -> None:
    """Delete a file known to exist (one DELETE on S3, no HEAD first)."""

    try:
        if is_local(url):
            os.unlink(local_path(url))
        else:
            store.fs(url).rm_file(url)
    except FileNotFoundError:
        pass  # removed meanwhile: the goal
    except Exception as exc:  # noqa: BLE001 - one line for the user
        raise store._storage_error(url, "delete", exc) from exc


def _head(store: Store, url: str, n: int) -> bytes | None:
    """The first ``n`` bytes of a file (one ranged GET on S3); None when there is no such file."""

    try:
        if is_local(url):
            with open(local_path(url), "rb") as f:
                return f.read(n)
        return bytes(store.fs(url).cat_file(url, start=0, end=n))
    except (FileNotFoundError, IsADirectoryError):
        return None
    except Exception as exc:  # noqa: BLE001 - one line for the user
        raise store._storage_error(url, "read", exc) from exc


def _remove_stale_staging(store: Store, folder: str, older_than: timedelta = timedelta(hours=1)) -> None:

    now = datetime.now(UTC)
    url = _url(folder, STAGING_DIR)
    if is_local(url):
        children = store.ls(url)
    else:
        try:
            # one listing request; fsspec names lack the protocol
            children = store._with_proto(url, store.fs(url).ls(url, detail=False))
        except FileNotFoundError:
            return
        except Exception as exc:  # noqa: BLE001
            raise store._storage_error(url, "list", exc) from exc
    for child in children:
        name = posixpath.basename(child.rstrip("/")) if "://" in child else os.path.basename(child)
        try:
            t = datetime.strptime(name.split("-", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        if now - t > older_than:
            _remove_tree(store, child)


def _promote(store: Store, staged: str, final: str, size: int) -> None:
    """Put the staged file under its final name, replacing the old one whole."""

    if is_local(final):
        src, dst = local_path(staged), local_path(final)
        os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        tmp = f"{dst}.{uuid.uuid4().hex[:8]}.mmon-tmp"
        try:
            try:
                os.link(src, tmp)  # no second copy of the bytes
            except OSError:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            if isinstance(exc, Exception):
                raise store._storage_error(final, "write", exc) from exc
            raise
        return
    try:
        fs = store.fs(final)
        if size < 5 * 2**30 and hasattr(fs, "split_path"):
            # S3: one server-side CopyObject (the object appears whole); the size is known, so no HEAD
            src_bucket, src_key, _ = fs.split_path(staged)
            bucket, key, _ = fs.split_path(final)
            fs.call_s3(
                "copy_object", Bucket=bucket, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key}
            )
        else:
            fs.cp_file(staged, final)  # multipart copy past 5 GiB; other stores' own copy
    except Exception as exc:  # noqa: BLE001 - one line for the user
        raise store._storage_error(final, "write", exc) from exc


def _remove_files(store: Store, urls: list[str], folder: str) -> None:

    if is_local(folder):
        _remove_tree(store, folder)
        return
    try:
        store.fs(folder).rm(urls)  # one DeleteObjects request
    except Exception as exc:  # noqa: BLE001
        raise store._storage_error(folder, "delete", exc) from exc


def _remove_tree(store: Store, url: str) -> None:

    if is_local(url):
        shutil.rmtree(local_path(url), ignore_errors=True)
        parent = os.path.dirname(local_path(url))
        try:
            os.rmdir(parent)  # the staging folder itself, when no other execution is staging
        except OSError:
            pass
        return
    paths = store.find(url)
    if paths:
        _remove_files(store, paths, url)
