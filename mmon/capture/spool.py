"""The opt-in local spool: at-least-once delivery across crashes.

Each process writes, next to every capture file it is building, an append-only spool file holding
the destination URL (first line) and the records written so far (one line each, flushed to the OS
after every batch the background thread drains). A spool file is deleted once its capture file
is uploaded. A process that dies (``kill -9``, OOM) leaves its spool files behind; the next writer
started with the same spool folder uploads them under the same keys (a second upload of the same
key replaces the object, so a file uploaded just before the crash is not duplicated) and deletes
them.

Ownership: every process owns one sub-folder with a ``lock`` file it holds with ``flock`` for its
lifetime; a folder whose lock can be taken belongs to a dead process and is recovered by whoever
takes it (the lock is held until all its files are uploaded, so two processes never recover the
same folder).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from typing import IO


@dataclass
class Recovered:
    """A spool file of a dead process: where it goes and its complete lines."""

    path: str
    url: str
    kind: str
    gzip: bool
    lines: list[str]
    partial: int  # a last line cut short by the crash (0 or 1), left out


@dataclass
class _Folder:
    fd: int
    path: str
    remaining: set[str] = field(default_factory=set)


class Spool:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.folder = os.path.join(root, uuid.uuid4().hex)
        os.makedirs(self.folder)
        self._lock_fd = os.open(os.path.join(self.folder, "lock"), os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._recovering: dict[str, _Folder] = {}

    # -- this process's files --------------------------------------------------------------------
    def open(self, url: str, kind: str, gzip: bool) -> tuple[str, IO[bytes]]:
        path = os.path.join(self.folder, uuid.uuid4().hex + ".spool")
        # Binary: the worker writes each line's UTF-8 bytes, the same it puts in the capture file.
        f = open(path, "ab")  # noqa: SIM115 - kept open while the file fills
        f.write((json.dumps({"url": url, "kind": kind, "gzip": gzip}) + "\n").encode("utf-8"))
        return path, f

    def done(self, path: str) -> None:
        """The file at ``path`` was uploaded: forget it (and its folder once a recovered one is empty)."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        folder = os.path.dirname(path)
        rec = self._recovering.get(folder)
        if rec is not None:
            rec.remaining.discard(path)
            if not rec.remaining:
                self._release(folder)

    def close(self) -> None:
        """Leave the own folder (removed when it holds no spool file) and release recovered ones."""
        for folder in list(self._recovering):
            os.close(self._recovering.pop(folder).fd)
        try:
            if not any(n.endswith(".spool") for n in os.listdir(self.folder)):
                shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            os.close(self._lock_fd)

    # -- other processes' files ------------------------------------------------------------------
    def recover(self) -> list[Recovered]:
        """Spool files left by dead processes (their folders stay locked by us until uploaded)."""
        out: list[Recovered] = []
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return out
        for name in names:
            folder = os.path.join(self.root, name)
            if folder == self.folder or folder in self._recovering or not os.path.isdir(folder):
                continue
            try:
                fd = os.open(os.path.join(folder, "lock"), os.O_CREAT | os.O_RDWR, 0o600)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # its process is alive
                os.close(fd)
                continue
            if not os.path.isdir(folder):  # recovered and removed by another process meanwhile
                os.close(fd)
                continue
            entry = _Folder(fd, folder)
            for fname in sorted(os.listdir(folder)):
                if fname.endswith(".spool"):
                    r = _read(os.path.join(folder, fname))
                    if r is None:
                        os.unlink(os.path.join(folder, fname))
                        continue
                    entry.remaining.add(r.path)
                    out.append(r)
            self._recovering[folder] = entry
            if not entry.remaining:
                self._release(folder)
        return out

    def _release(self, folder: str) -> None:
        entry = self._recovering.pop(folder)
        shutil.rmtree(folder, ignore_errors=True)
        os.close(entry.fd)

    def after_fork(self) -> None:
        """In a forked child: drop the parent's descriptors (the child makes its own spool)."""
        for entry in self._recovering.values():
            os.close(entry.fd)
        self._recovering.clear()
        os.close(self._lock_fd)


def _read(path: str) -> Recovered | None:
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    head, sep, body = text.partition("\n")
    if not sep:
        return None  # the crash came before the header was complete: nothing to upload
    try:
        meta = json.loads(head)
    except ValueError:
        return None
    lines = body.split("\n")
    partial = 0
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:  # last line without its newline: cut short by the crash
        lines.pop()
        partial = 1
    return Recovered(path, str(meta["url"]), str(meta.get("kind", "capture")), bool(meta.get("gzip")), lines, partial)
