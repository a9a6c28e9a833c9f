"""Finding a window's files in SageMaker's capture and ground-truth layouts without listing a prefix.

Capture: ``{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/{mm-ss-SSS}-{uuid}.jsonl``.
Ground truth: ``{prefix}/yyyy/mm/dd/hh/{name}.jsonl``.

The URI given for capture may be the variant folder (the usual case), the endpoint folder (every
variant is read) or the capture prefix (every endpoint and variant). Which one it is is decided by
listing at most two levels of folders below it; below that, only the hour folders of the window
are listed, by building their paths.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from mmon.capture.window import hour_folder
from mmon.errors import InputError, StorageError
from mmon.own_files import is_own_output
from mmon.store import Store, is_local, join, local_path

CAPTURE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")
_YEAR = re.compile(r"^\d{4}$")


def _basename(url: str) -> str:
    return posixpath.basename(url.rstrip("/")) if not is_local(url) else os.path.basename(local_path(url).rstrip(os.sep))


def _child_dirs(store: Store, url: str) -> list[str]:
    """Sub-folders directly below ``url`` (sorted); [] when it does not exist."""
    try:
        if is_local(url):
            root = local_path(url)
            if not os.path.isdir(root):
                return []
            with os.scandir(root) as it:
                return sorted(os.path.join(root, e.name) for e in it if e.is_dir())
        fs = store.fs(url)
        proto = url.split("://", 1)[0]
        try:
            entries = fs.ls(url, detail=True)
        except FileNotFoundError:
            return []
        out = []
        for e in entries:
            if e.get("type") == "directory":
                name = e["name"].rstrip("/")
                out.append(name if "://" in name else f"{proto}://{name}")
        return sorted(out)
    except (InputError, StorageError):
        raise
    except Exception as exc:  # noqa: BLE001 - one-line storage errors
        raise store._storage_error(url, "list", exc) from exc


def require_root(store: Store, uri: str, flag: str) -> None:
    """Refuse a capture or ground-truth root that does not exist.

    A typo (``AllTrafic``) must not pass every hour as "no traffic": an existing root with an
    empty hour is a quiet window, a root that does not exist is an error. On an object store a
    prefix exists when some object lies below it.
    """
    try:
        if is_local(uri):
            path = local_path(uri)
            if os.path.isdir(path):
                return
            what = "is a file, not a folder" if os.path.exists(path) else "no such folder"
        else:
            fs = store.fs(uri)
            try:
                if fs.isdir(uri) or fs.ls(uri, detail=False):
                    return
            except FileNotFoundError:
                pass
            what = "no such folder (no object under this prefix)"
    except (InputError, StorageError):
        raise
    except Exception as exc:  # noqa: BLE001 - one-line storage errors
        raise store._storage_error(uri, "list", exc) from exc
    raise InputError(f"{flag} {uri}: {what}")


def capture_roots(store: Store, uri: str) -> list[str]:
    """The ``{endpoint}/{variant}`` folders at or below ``uri`` (which hold ``yyyy`` folders).

    ``uri`` itself when it holds year folders or nothing at all; else up to two levels below it.
    Raises ``InputError`` when ``uri`` does not exist.
    """
    require_root(store, uri, "--capture")
    children = _child_dirs(store, uri)
    if not children or any(_YEAR.match(_basename(c)) for c in children):
        return [uri]
    roots: list[str] = []
    for child in children:  # endpoint or variant folders
        grand = _child_dirs(store, child)
        if any(_YEAR.match(_basename(g)) for g in grand):
            roots.append(child)
            continue
        for g in grand:  # variant folders of an endpoint
            if any(_YEAR.match(_basename(x)) for x in _child_dirs(store, g)):
                roots.append(g)
    return roots or [uri]


def _list_files(store: Store, folder: str, suffixes: tuple[str, ...] | None = CAPTURE_SUFFIXES) -> list[str]:
    """Data files directly in (or below) one hour folder, sorted; [] when the folder is absent.

    ``suffixes=None`` keeps every (non-hidden) file: batch-transform manifests have no fixed suffix.
    """
    try:
        if is_local(folder):
            root = local_path(folder)
            if not os.path.isdir(root):
                return []
            out: list[str] = []
            for dirpath, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                out.extend(os.path.join(dirpath, f) for f in files)
        else:
            fs = store.fs(folder)
            proto = folder.split("://", 1)[0]
            try:
                found = fs.find(folder)
            except FileNotFoundError:
                found = []
            out = [p if "://" in p else f"{proto}://{p}" for p in found]
    except (InputError, StorageError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise store._storage_error(folder, "list", exc) from exc
    return sorted(
        p for p in out
        if not _basename(p).startswith((".", "_")) and (suffixes is None or p.lower().endswith(suffixes))
        and not is_own_output(p)  # a report written into the capture folder is not capture
    )  # fmt: skip


def hour_folders(roots: Iterable[str], hours: Iterable[datetime]) -> list[str]:
    """The paths ``root/yyyy/mm/dd/hh`` for every root and hour, roots first then hours."""
    hours = list(hours)
    return [join(root, *hour_folder(h).split("/")) for root in roots for h in hours]


def list_window_files(
    store: Store, folders: list[str], workers: int = 16, suffixes: tuple[str, ...] | None = CAPTURE_SUFFIXES
) -> list[str]:
    """Every data file of the given hour folders, in folder order then file-name order.

    File names start with the minute/second/millisecond of their first record, so this order is
    time order, and it is the order records are read and de-duplicated in.
    """
    if not folders:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(folders)))) as pool:
        if suffixes == CAPTURE_SUFFIXES:
            per_folder = list(pool.map(lambda f: _list_files(store, f), folders))
        else:
            per_folder = list(pool.map(lambda f: _list_files(store, f, suffixes), folders))
    return [f for files in per_folder for f in files]
