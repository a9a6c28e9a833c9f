"""Execution records and the per-hour lock: what ``mmon run --scheduled-time`` writes, what ``mmon executions`` reads.

Protocol (one execution = one report folder ``OUT/yyyy/mm/dd/hh``)::

    lock = begin_execution(store, prefix, scheduled, (start, end))   # refuses if the hour is running
    ... run the checks ...
    lock.verify()                                                     # still ours? then
    store.write_many({...report files...})                            # publish the report
    finish_execution(lock, "CompletedWithViolations", violations=3)   # execution.json, lock removed

or ``with begin_execution(...) as lock:`` (an exception records ``Failed`` and re-raises).

Files in the report folder:

- ``.mmon-execution.lock`` while an execution runs: JSON with a random owner ``token``, ``host``,
  ``pid`` (and its start time, to tell a reused pid apart), ``started``. A second execution of the same hour refuses with exit 2 while the lock is
  fresh, naming the host and start time; a lock older than ``stale_after`` (default 1 hour, the
  longest an hourly SageMaker execution may run) is taken over: the run that held it crashed.
- ``execution.json`` when it ends: status (``Completed`` / ``CompletedWithViolations`` /
  ``Failed``, SageMaker's execution statuses), violations count, the one-line message SageMaker's
  analyzer writes (``CompletedWithViolations: Job completed successfully with 3 violations.``),
  scheduled time, window, started / finished, host, pid. Written whole (atomic rename locally, one
  PUT on object stores); a rerun of the hour replaces it.

Guarantee when two executions of the same hour overlap (two cron hosts, a manual rerun):

- local disk (and NFS): the lock is created with an atomic link, so exactly one execution gets it
  and the other refuses at once;
- S3: the lock is created with a conditional PUT (``If-None-Match: *``, AWS S3 since 2024, and
  servers that implement it); on servers without it mmon writes the lock, waits ``settle``
  seconds and reads it back, so starts further apart than that never both proceed;
- in every case the owner token is checked again right before the report is published and before
  ``execution.json`` is written: an execution that lost the lock (a simultaneous start on a store
  without conditional writes, a stale-lock takeover) stops without writing anything. The report is
  published with a marker (``mmon.publish``), so readers see one execution's report, never a mix.
- a lock whose process is gone (same host, pid not running) is taken over at once; a run that
  fails removes its lock even when its ``execution.json`` cannot be written.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mmon.errors import InputError, StorageError
from mmon.publish import MARKER_NAME, read_marker, read_report_file
from mmon.schedule.expressions import as_utc
from mmon.schedule.window import format_time
from mmon.store import Store, is_local, join, local_path

LOCK_NAME = ".mmon-execution.lock"
RECORD_NAME = "execution.json"
VIOLATIONS_NAME = "constraint_violations.json"
STATUSES = ("Completed", "CompletedWithViolations", "Failed")
DEFAULT_STALE_AFTER = timedelta(hours=1)
DEFAULT_SETTLE = 0.5
RECORD_FORMAT = "mmon-execution/1"


class ExecutionInProgress(InputError):
    """Another execution holds the hour's lock (exit 2)."""


def default_message(status: str, violations: int) -> str:
    """The one-line status SageMaker's analyzer writes to ``/opt/ml/output/message``."""
    if status == "Completed":
        return "Completed: Job completed successfully with no violations."
    if status == "CompletedWithViolations":
        return f"CompletedWithViolations: Job completed successfully with {violations} violations."
    return "Failed"


def _now(now: datetime | None) -> datetime:
    return as_utc(now) if now is not None else datetime.now(UTC)


def _parse_iso(value: Any) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except (TypeError, ValueError):
        return None


def _modified(store: Store, url: str) -> datetime | None:
    try:
        if is_local(url):
            return datetime.fromtimestamp(os.path.getmtime(local_path(url)), UTC)
        info = store.fs(url).info(url)
    except Exception:  # noqa: BLE001 - the age of a broken lock is a best effort
        return None
    for key in ("LastModified", "mtime", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return as_utc(value)
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
    return None


def _read_lock(store: Store, url: str) -> dict[str, Any] | None:
    """The lock's content; None when there is none; ``{"corrupt": True, …}`` when unreadable."""
    try:
        if not store.exists(url):
            return None
        text = store.read_text(url)
    except InputError:
        return None  # removed between the look-up and the read
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or "token" not in doc:
            raise ValueError("no token")
        return doc
    except ValueError:
        modified = _modified(store, url)
        return {"corrupt": True, "started": format_time(modified) if modified else None}


def _create_exclusive(store: Store, url: str, data: bytes) -> bool | None:
    """Create ``url`` only if absent: True created, False it exists, None the store cannot tell."""
    if is_local(url):
        path = local_path(url)
        tmp = store.stage_local(path, data)
        try:
            try:
                os.link(tmp, path)  # atomic, and the lock is complete the moment it appears
                return True
            except FileExistsError:
                return False
            except OSError:  # a filesystem without hard links: O_EXCL, then write
                try:
                    fd2 = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd2, "wb") as f:
                    f.write(data)
                return True
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    if url.split("://", 1)[0].lower() in ("s3", "s3a"):
        try:
            store.fs(url).pipe_file(url, data, mode="create")
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            # s3fs maps a 412 without the Condition field (SeaweedFS, MinIO) to a plain OSError.
            if "precondition" in str(exc).lower().replace("-", ""):
                return False
        except Exception:  # noqa: BLE001 - a server without conditional writes: fall back
            pass
    if store.exists(url):
        return False
    store.write_bytes(url, data)
    return None


@dataclass
class ExecutionLock:
    """The right to write one execution's report; from ``begin_execution``."""

    store: Store
    report_prefix: str
    scheduled: datetime
    window: tuple[datetime, datetime]
    token: str
    host: str
    pid: int
    started: datetime
    schedule: str | None = None
    finished: bool = field(default=False)

    @property
    def lock_url(self) -> str:
        return join(self.report_prefix, LOCK_NAME)

    @property
    def record_url(self) -> str:
        return join(self.report_prefix, RECORD_NAME)

    def verify(self) -> None:
        """Raise ExecutionInProgress unless this execution still holds the lock (call before publishing)."""
        current = _read_lock(self.store, self.lock_url)
        if current is not None and current.get("token") == self.token:
            return
        who = _describe_owner(current) if current else "nobody (the lock was removed)"
        raise ExecutionInProgress(
            f"the execution for {format_time(self.scheduled)} lost its lock to {who}; "
            f"nothing was written to {self.report_prefix}"
        )

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        current = _read_lock(self.store, self.lock_url)
        if current is not None and current.get("token") == self.token:
            self.store.delete(self.lock_url)

    def __enter__(self) -> ExecutionLock:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self.finished:
            return
        if exc is None:
            self.release()
            return
        try:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            finish_execution(self, "Failed", 0, f"Failed: {message}")
        except Exception:  # noqa: BLE001 - the original error matters more
            # No record (the store may be down): still free the hour for a rerun if we can; if
            # not, the next run on this host takes the lock of a dead process over at once.
            try:
                self.release()
            except Exception:  # noqa: BLE001
                pass


def _describe_owner(doc: dict[str, Any]) -> str:
    if doc.get("corrupt"):
        return f"an unreadable lock (written {doc.get('started') or 'at an unknown time'})"
    return f"host {doc.get('host', '?')} pid {doc.get('pid', '?')}, started {doc.get('started', '?')}"


def begin_execution(
    store: Store,
    report_prefix: str,
    scheduled: datetime,
    window: tuple[datetime, datetime],
    *,
    schedule: str | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    settle: float = DEFAULT_SETTLE,
    now: datetime | None = None,
    host: str | None = None,
    pid: int | None = None,
) -> ExecutionLock:
    """Take the hour's lock, or raise ExecutionInProgress (exit 2) while another execution holds it."""
    started = _now(now)
    lock = ExecutionLock(
        store=store,
        report_prefix=report_prefix,
        scheduled=as_utc(scheduled),
        window=(as_utc(window[0]), as_utc(window[1])),
        token=uuid.uuid4().hex,
        host=host or socket.gethostname(),
        pid=os.getpid() if pid is None else pid,
        started=started,
        schedule=schedule,
    )
    body = json.dumps(
        {
            "token": lock.token,
            "host": lock.host,
            "pid": lock.pid,
            "pid_start": _process_start(lock.pid) if lock.pid == os.getpid() else None,
            "started": format_time(started),
            "scheduled_time": format_time(lock.scheduled),
            "start_time": format_time(lock.window[0]),
            "end_time": format_time(lock.window[1]),
            "schedule": schedule,
        },
        indent=2,
    ).encode()

    def refuse(doc: dict[str, Any]) -> ExecutionInProgress:
        return ExecutionInProgress(
            f"an execution for {format_time(lock.scheduled)} is already running ({_describe_owner(doc)}; "
            f"lock {lock.lock_url}); it is taken over when older than {_hours(stale_after)} "
            "or at once when its process on this host is gone"
        )

    existing = _read_lock(store, lock.lock_url)
    if existing is not None and not _stale(existing, started, stale_after) and not _owner_dead(existing):
        raise refuse(existing)
    if existing is None:
        created = _create_exclusive(store, lock.lock_url, body)
        if created is False:
            raced = _read_lock(store, lock.lock_url)
            raise refuse(raced or {"corrupt": True, "started": None})
        exclusive = created is True
    else:
        store.write_bytes(lock.lock_url, body)  # take over a stale lock
        exclusive = False
    if not exclusive and settle > 0:
        time.sleep(settle)
    current = _read_lock(store, lock.lock_url)
    if current is None or current.get("token") != lock.token:
        raise refuse(current or {"corrupt": True, "started": None})
    return lock


def _process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _owner_dead(doc: dict[str, Any]) -> bool:
    """A lock of this host whose process is gone (crashed, killed, or failed without removing it)."""
    if doc.get("corrupt") or doc.get("host") != socket.gethostname():
        return False
    pid = doc.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    except OSError:
        return False
    recorded = doc.get("pid_start")
    return isinstance(recorded, int) and _process_start(pid) not in (None, recorded)  # the pid was reused


def _stale(doc: dict[str, Any], now: datetime, stale_after: timedelta) -> bool:
    started = _parse_iso(doc.get("started"))
    if started is None:
        return True
    return now - started >= stale_after


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def finish_execution(
    lock: ExecutionLock,
    status: str,
    violations: int = 0,
    message: str | None = None,
    *,
    outputs: list[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write ``execution.json`` (after checking the lock is still ours) and remove the lock."""
    if status not in STATUSES:
        raise InputError(f"execution status {status!r}: expected one of {', '.join(STATUSES)}")
    lock.verify()
    record: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "scheduled_time": format_time(lock.scheduled),
        "status": status,
        "violations": int(violations),
        "message": message or default_message(status, int(violations)),
        "start_time": format_time(lock.window[0]),
        "end_time": format_time(lock.window[1]),
        "started": format_time(lock.started),
        "finished": format_time(_now(now)),
        "host": lock.host,
        "pid": lock.pid,
        "schedule": lock.schedule,
        "report": lock.report_prefix,
    }
    if outputs is not None:
        record["outputs"] = list(outputs)
    lock.store.write_bytes(lock.record_url, (json.dumps(record, indent=2) + "\n").encode())
    lock.release()
    lock.finished = True
    return record


# -- listing -------------------------------------------------------------------------------------

_ENTRY = re.compile(r"^(\d{2})/(\d{2})/(\d{2})(?:/(\d{2}))?/([^/]+)$")
_WANTED = (RECORD_NAME, LOCK_NAME, VIOLATIONS_NAME, MARKER_NAME)


def _relative(path: str, base: str) -> str:
    rel = path[len(base) :] if path.startswith(base) else path
    return rel.replace(os.sep, "/").lstrip("/")


def list_executions(
    store: Store,
    output: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    last: int | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Past and running executions under ``OUT/yyyy/mm/dd/hh[/mm]``, oldest first.

    Status comes from ``execution.json``; a fresh lock shows ``InProgress`` and a stale one
    ``Failed`` (the run died); a folder with only SageMaker's ``constraint_violations.json`` (a
    SageMaker execution, or ``mmon run`` without ``--scheduled-time``) gets its status from the
    violations count. Only year folders (four digits) are searched, and only the records of
    executions inside ``since``/``until``/``last`` are read.
    """
    clock = _now(now)
    folders: dict[tuple[int, ...], dict[str, str]] = {}
    for year_url in store.ls(output):
        year = os.path.basename(year_url.rstrip("/"))
        if not re.fullmatch(r"\d{4}", year) or not store.isdir(year_url):
            continue
        for path in store.find(year_url):
            m = _ENTRY.match(_relative(path, year_url.rstrip("/")))
            if not m or m.group(5) not in _WANTED:
                continue
            key = (int(year), *(int(g) for g in m.groups()[:3]), int(m.group(4) or 0), 1 if m.group(4) else 0)
            folders.setdefault(key, {})[m.group(5)] = path
    selected = []
    for key in sorted(folders):
        y, mo, d, h, mi, has_minute = key
        try:
            t = datetime(y, mo, d, h, mi, tzinfo=UTC)
        except ValueError:
            continue  # not a date: some other folder
        if (since is not None and t < as_utc(since)) or (until is not None and t > as_utc(until)):
            continue
        parts = [f"{y:04d}", f"{mo:02d}", f"{d:02d}", f"{h:02d}"] + ([f"{mi:02d}"] if has_minute else [])
        selected.append((t, join(output, *parts), folders[key]))
    if last is not None:
        selected = selected[-last:] if last > 0 else []
    return [_entry(store, t, folder, files, clock, stale_after) for t, folder, files in selected]


def _entry(
    store: Store, t: datetime, folder: str, files: dict[str, str], clock: datetime, stale_after: timedelta
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "scheduled_time": format_time(t),
        "status": "Unknown",
        "violations": None,
        "message": "",
        "start_time": None,
        "end_time": None,
        "started": None,
        "finished": None,
        "host": None,
        "report": folder,
        "source": "",
    }
    record: dict[str, Any] | None = None
    if RECORD_NAME in files:
        try:
            record = json.loads(store.read_text(files[RECORD_NAME]))
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except (ValueError, InputError) as exc:
            entry.update(source="record", message=f"{RECORD_NAME} is unreadable: {exc}")
            record = None
    if record is not None:
        for k in ("scheduled_time", "status", "violations", "message", "start_time", "end_time", "started",
                  "finished", "host", "pid", "schedule", "outputs"):  # fmt: skip
            if k in record:
                entry[k] = record[k]
        entry["report"] = folder
        entry["source"] = "record"
    elif VIOLATIONS_NAME in files:
        try:
            # Only as the folder's publish marker says: never a failed publish's file beside an older one.
            doc = json.loads(read_report_file(store, files[VIOLATIONS_NAME]))
            count = len(doc.get("violations") or [])
            status = "CompletedWithViolations" if count else "Completed"
            entry.update(status=status, violations=count, message=default_message(status, count), source="report")
        except StorageError as exc:
            entry.update(status="Failed", source="report", message=f"Failed: {exc}")
        except (ValueError, InputError, AttributeError) as exc:
            entry.update(source="report", message=f"{VIOLATIONS_NAME} is unreadable: {exc}")
    if MARKER_NAME in files:
        try:
            marker = read_marker(store, folder)
            entry["report_id"] = marker.id if marker else None
        except StorageError as exc:
            entry.update(status="Failed", source="report", message=f"Failed: {exc}")
    if LOCK_NAME in files:
        lock = _read_lock(store, files[LOCK_NAME])
        if lock is not None:
            owner = _describe_owner(lock)
            if _owner_dead(lock):
                entry.update(
                    status="Failed",
                    message=f"Failed: the execution on {owner} did not finish (its process is gone)",
                    source="lock",
                    violations=None,
                )
            elif not _stale(lock, clock, stale_after):
                entry.update(status="InProgress", message=f"running on {owner}", source="lock", violations=None)
            else:
                entry.update(
                    status="Failed",
                    message=f"Failed: the execution on {owner} did not finish (its lock is older than "
                    f"{_hours(stale_after)})",
                    source="lock",
                    violations=None,
                )
            entry["finished"] = None
            entry["started"] = lock.get("started")
            entry["host"] = lock.get("host")
            entry["start_time"] = lock.get("start_time", entry["start_time"])
            entry["end_time"] = lock.get("end_time", entry["end_time"])
    return entry
