"""One storage layer for every command: local disk, S3 (MinIO, SeaweedFS, AWS), memory, any fsspec URL.

Settings come from the standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``) or from
``--storage-option key=value`` pairs, and the same settings are handed to polars when it scans a
file on S3 itself, so a dataset never has to be copied into Python to be read.

Writes are atomic: local files go to a temporary name in the same folder and are renamed over the
final name; object stores receive one PUT of the whole body, which S3 makes visible all at once.
A report (several files) is published with ``write_many`` (``mmon.publish``): staged, then a
marker, then the final names, so readers see one execution's report or the previous one's.
"""

from __future__ import annotations

import errno
import glob as _glob
import logging
import os
import posixpath
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import fsspec

from mmon.errors import InputError, StorageError
from mmon.urls import is_local, join, local_path, protocol_of  # noqa: F401 - re-exported: callers use mmon.store's names

_T = TypeVar("_T")

_S3 = ("s3", "s3a")

# Keys a user may pass with --storage-option for S3, and the polars/object_store names they map to.
_S3_POLARS_KEYS = {
    "endpoint_url": "aws_endpoint_url",
    "key": "aws_access_key_id",
    "secret": "aws_secret_access_key",
    "token": "aws_session_token",
    "region": "aws_region",
}


def parse_storage_options(pairs: Iterable[str]) -> dict[str, str]:
    """Turn ``key=value`` strings from the command line into a dict."""
    options: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            # The value is not echoed: a typo such as secret:VALUE must not print the secret.
            raise InputError("--storage-option: expected key=value, got an argument without '=' (not shown: it may hold a secret)")
        key, value = pair.split("=", 1)
        options[key.strip()] = value
    return options


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def polars_path(path: str) -> str:
    """A file path for polars' scanners, which take every path as a glob: ``[``, ``*``, ``?`` escaped.

    Our file lists are already expanded; ``price[usd].csv`` must not be read as ``price`` + a class.
    """
    return re.sub(r"([\[\]*?])", r"[\1]", path)


def _hidden_below(folder: str, path: str) -> bool:
    """Whether a file found below ``folder`` is hidden or a marker, or sits in such a folder.

    Skips mmon's own publish bookkeeping (``.mmon-report.json``, ``.mmon-staging/``) and Spark's
    ``_SUCCESS`` / ``_temporary/`` in whatever folder they are.
    """
    if is_local(folder):
        rel = os.path.relpath(local_path(path), local_path(folder)).replace(os.sep, "/")
    else:
        base = folder.rstrip("/") + "/"
        rel = path[len(base) :] if path.startswith(base) else posixpath.basename(path)
    return any(part.startswith((".", "_")) for part in rel.split("/"))


def _quiet_handler(loop: Any, context: dict[str, Any]) -> None:
    """fsspec's event loop: connection failures of abandoned aiohttp tasks are not the user's news.

    When the server dies during a PUT, aiohttp leaves its body-writer tasks failed and never
    awaited; asyncio would log "Task exception was never retrieved" with a traceback for each
    (10-100 lines on stderr) beside mmon's one-line error, which already says what failed.
    """
    exc = context.get("exception")
    message = str(context.get("message", ""))
    noise = isinstance(exc, (OSError, ConnectionError, TimeoutError)) or type(exc).__module__.startswith("aiohttp")
    if noise or message.startswith(("Unclosed client session", "Unclosed connector", "Unclosed connection")):
        logging.getLogger("mmon.store").debug("ignored on the storage event loop: %s %r", message, exc)
        return
    loop.default_exception_handler(context)


def _quiet_connection_noise() -> None:
    import fsspec.asyn

    loop = fsspec.asyn.get_loop()
    if loop.get_exception_handler() is not _quiet_handler:
        loop.set_exception_handler(_quiet_handler)


def current_umask() -> int:
    """The process umask, read without changing it (Linux); else by setting and restoring it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else type(exc).__name__
    return msg if len(msg) <= 300 else msg[:297] + "..."


@dataclass
class Store:
    """Opens URLs with fsspec using one set of storage options.

    ``options`` are the user's ``--storage-option`` pairs; AWS environment variables fill in what
    they leave out. One filesystem object is cached per protocol so connections are reused.
    """

    options: Mapping[str, str] = field(default_factory=dict)
    _fs: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- settings -----------------------------------------------------------------------------
    def s3_settings(self) -> dict[str, str]:
        env = os.environ
        s: dict[str, str] = {}
        endpoint = self.options.get("endpoint_url") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        if endpoint:
            s["endpoint_url"] = endpoint
        key = self.options.get("key") or env.get("AWS_ACCESS_KEY_ID")
        secret = self.options.get("secret") or env.get("AWS_SECRET_ACCESS_KEY")
        token = self.options.get("token") or env.get("AWS_SESSION_TOKEN")
        region = self.options.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if key:
            s["key"] = key
        if secret:
            s["secret"] = secret
        if token:
            s["token"] = token
        if region:
            s["region"] = region
        if str(self.options.get("anon", "")).lower() in ("1", "true", "yes"):
            s["anon"] = "true"
        return s

    def fs(self, url: str) -> Any:
        proto = protocol_of(url)
        with self._lock:
            if proto in self._fs:
                return self._fs[proto]
            if proto in _S3:
                s = self.s3_settings()
                client_kwargs: dict[str, Any] = {}
                if "endpoint_url" in s:
                    client_kwargs["endpoint_url"] = s["endpoint_url"]
                if "region" in s:
                    client_kwargs["region_name"] = s["region"]
                # Fail fast on a dead endpoint: botocore's default retries make cron jobs hang for minutes.
                config_kwargs = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}}
                fs = fsspec.filesystem(
                    "s3",
                    key=s.get("key"),
                    secret=s.get("secret"),
                    token=s.get("token"),
                    anon=s.get("anon") == "true",
                    client_kwargs=client_kwargs,
                    config_kwargs=config_kwargs,
                    use_listings_cache=False,
                    skip_instance_cache=True,
                )
                # s3fs retries some errors 5 times with back-off on top of botocore's own retries.
                fs.retries = 2
                _quiet_connection_noise()
            else:
                extra = {k: v for k, v in self.options.items() if k not in _S3_POLARS_KEYS and k != "anon"}
                try:
                    fs = fsspec.filesystem(proto, **extra) if proto != "file" else fsspec.filesystem("file")
                except (ImportError, ValueError) as exc:
                    raise InputError(f"{url}: unsupported storage protocol {proto!r}: {_describe(exc)}") from exc
            self._fs[proto] = fs
            return fs

    def polars_options(self, url: str) -> dict[str, str] | None:
        """Storage options for polars' own readers, or None when polars needs none (local files)."""
        if protocol_of(url) not in _S3:
            return None
        s = self.s3_settings()
        opts = {_S3_POLARS_KEYS[k]: v for k, v in s.items() if k in _S3_POLARS_KEYS}
        if opts.get("aws_endpoint_url", "").startswith("http://"):
            opts["aws_allow_http"] = "true"
        opts.setdefault("aws_region", "us-east-1")
        if s.get("anon") == "true":
            opts["aws_skip_signature"] = "true"
        return opts

    def polars_native(self, url: str) -> bool:
        """Whether polars can read this URL itself (local paths and S3); others go through fsspec.

        An S3 key with ``[``, ``*`` or ``?`` goes through fsspec too: polars takes it for a pattern
        and its cloud globbing has no escape (local paths are escaped with ``polars_path``).
        """
        proto = protocol_of(url)
        if proto in _S3:
            return not any(ch in url for ch in "*?[")
        return proto == "file"

    # -- error translation --------------------------------------------------------------------
    def _storage_error(self, url: str, action: str, exc: BaseException) -> Exception:
        if isinstance(exc, (InputError, StorageError)):
            return exc
        if isinstance(exc, FileNotFoundError):
            if action in ("write", "delete"):  # the bucket or folder went away under us
                return StorageError(f"{url}: cannot {action}: no such bucket or folder")
            return InputError(f"{url}: no such file or folder")
        if isinstance(exc, IsADirectoryError):
            return InputError(f"{url}: is a folder, expected a file")
        if isinstance(exc, PermissionError):
            return StorageError(f"{url}: permission denied while trying to {action}: {_describe(exc)}")
        if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:  # robust: bad input, not the store
            return InputError(f"{url[:80]}…: not a valid path (file name too long)")
        return StorageError(f"{url}: cannot {action}: {_describe(exc)}")

    # -- reading ------------------------------------------------------------------------------
    def read_bytes(self, url: str) -> bytes:
        try:
            if is_local(url):
                with open(local_path(url), "rb") as f:
                    return f.read()
            return bytes(self.fs(url).cat_file(url))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line error
            raise self._storage_error(url, "read", exc) from exc

    def read_text(self, url: str) -> str:
        data = self.read_bytes(url)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(f"{url}:{line}: not valid UTF-8 (byte offset {exc.start})") from exc

    def _either(self, url: str, verb: str, local: Callable[[str], _T], remote: Callable[[Any], _T]) -> _T:
        """``local(path)`` for a local url, else ``remote(filesystem)``; a failure of either as a StorageError."""
        try:
            return local(local_path(url)) if is_local(url) else remote(self.fs(url))
        except Exception as exc:  # noqa: BLE001
            raise self._storage_error(url, verb, exc) from exc

    def exists(self, url: str) -> bool:
        return self._either(url, "look up", os.path.exists, lambda fs: bool(fs.exists(url)))

    def isdir(self, url: str) -> bool:
        return self._either(url, "look up", os.path.isdir, lambda fs: bool(fs.isdir(url)))

    def size(self, url: str) -> int:
        return self._either(url, "look up", os.path.getsize, lambda fs: int(fs.size(url)))

    def open(self, url: str, mode: str = "rb") -> Any:
        return self._either(url, "open", lambda path: open(path, mode), lambda fs: fs.open(url, mode))

    def _with_proto(self, url: str, paths: Iterable[str]) -> list[str]:
        proto = protocol_of(url)
        if proto == "file":
            return sorted(paths)
        prefix = f"{proto}://"
        return sorted(p if p.startswith(prefix) else prefix + p.lstrip("/") for p in paths)

    def find(self, url: str) -> list[str]:
        """Every file below a folder, recursively, sorted."""
        try:
            if is_local(url):
                root = local_path(url)
                out: list[str] = []
                for dirpath, _dirs, files in os.walk(root):
                    out.extend(os.path.join(dirpath, f) for f in files)
                return sorted(out)
            return self._with_proto(url, self.fs(url).find(url))
        except Exception as exc:  # noqa: BLE001
            raise self._storage_error(url, "list", exc) from exc

    def glob(self, pattern: str) -> list[str]:
        try:
            if is_local(pattern):
                return sorted(p for p in _glob.glob(local_path(pattern), recursive=True) if os.path.isfile(p))
            fs = self.fs(pattern)
            return self._with_proto(pattern, [p for p in fs.glob(pattern) if not fs.isdir(p)])
        except Exception as exc:  # noqa: BLE001
            raise self._storage_error(pattern, "list", exc) from exc

    def ls(self, url: str) -> list[str]:
        """Direct children of a folder (files and folders), sorted; [] if it does not exist."""
        try:
            if is_local(url):
                root = local_path(url)
                if not os.path.isdir(root):
                    return []
                return sorted(os.path.join(root, n) for n in os.listdir(root))
            fs = self.fs(url)
            if not fs.exists(url):
                return []
            return self._with_proto(url, fs.ls(url, detail=False))
        except Exception as exc:  # noqa: BLE001
            raise self._storage_error(url, "list", exc) from exc

    def expand(self, inputs: Iterable[str], suffixes: tuple[str, ...] = ()) -> list[str]:
        """Resolve files, folders (recursively) and globs to a sorted, de-duplicated file list.

        Hidden files and Spark/Hadoop markers (``_SUCCESS``, ``.crc``) inside folders are skipped;
        in a folder only files with one of ``suffixes`` count when suffixes are given.
        """
        out: list[str] = []
        for item in inputs:
            # A path that exists is a path, even with glob characters in its name (``price[usd].csv``).
            if any(ch in item for ch in "*?[") and not self.exists(item):
                found = self.glob(item)
                if not found:
                    raise InputError(f"{item}: the pattern matches no file")
                out.extend(found)
                continue
            if self.isdir(item):
                found = [
                    p
                    for p in self.find(item)
                    if not _hidden_below(item, p)
                    and not p.endswith(".crc")
                    and (not suffixes or p.lower().endswith(suffixes))
                ]
                if not found:
                    kinds = "/".join(suffixes) if suffixes else "data"
                    raise InputError(f"{item}: the folder holds no {kinds} files")
                out.extend(found)
                continue
            if not self.exists(item):
                raise InputError(f"{item}: no such file or folder")
            out.append(item)
        seen: set[str] = set()
        unique = []
        for p in out:
            if p not in seen:
                seen.add(p)
                unique.append(p)
        return unique

    # -- writing ------------------------------------------------------------------------------
    def stage_local(self, path: str, data: bytes) -> str:
        """Write ``data`` durably to a temporary file beside ``path``; return its name (caller renames)."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".mmon-", suffix=".tmp", dir=folder)
        try:
            # mkstemp creates 0600; outputs follow the umask like any other tool's (node-exporter's
            # textfile collector runs as another user and must read metrics.prom).
            os.fchmod(fd, 0o666 & ~current_umask())
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    def write_bytes(self, url: str, data: bytes) -> None:
        """Write one whole file atomically: never a half-written file under the final name."""
        try:
            if is_local(url):
                tmp = self.stage_local(local_path(url), data)
                try:
                    os.replace(tmp, local_path(url))
                except BaseException:
                    _unlink_quietly(tmp)
                    raise
            else:
                self.fs(url).pipe_file(url, data)
        except Exception as exc:  # noqa: BLE001
            raise self._storage_error(url, "write", exc) from exc

    def write_text(self, url: str, text: str) -> None:
        self.write_bytes(url, text.encode("utf-8"))

    def write_many(self, files: Mapping[str, bytes]) -> str:
        """Publish the files of one report: a reader sees them all or the previous report, never a mix.

        See ``mmon.publish``: staged copies, then a marker naming every file's hash, then the final
        names. The first key reaches its final name last. Returns the publish (execution) id.
        """
        from mmon.publish import publish

        return publish(self, files)

    def check_writable(self, url: str) -> None:
        """Fail early (before long work) when an output location cannot be written."""
        if is_local(url):
            path = os.path.abspath(local_path(url))
            probe = path
            while not os.path.exists(probe):
                parent = os.path.dirname(probe)
                if parent == probe:
                    break
                probe = parent
            if os.path.isfile(probe):
                raise StorageError(f"{url}: cannot write: {probe} is a file, not a folder")
            if not os.access(probe, os.W_OK):
                raise StorageError(f"{url}: cannot write: permission denied on {probe}")
            return
        if protocol_of(url) in _S3:
            self.require_bucket(url)  # before the work, not after it (exit 3)
            return
        # For other object stores a cheap existence check proves the endpoint and credentials work.
        try:
            fs = self.fs(url)
            bucket = url.split("://", 1)[1].split("/", 1)[0]
            fs.exists(f"{protocol_of(url)}://{bucket}")
        except Exception as exc:  # noqa: BLE001
            raise self._storage_error(url, "reach the store", exc) from exc

    def require_bucket(self, url: str) -> None:
        """S3: raise StorageError (exit 3) when the URL's bucket does not exist or the store is unreachable.

        A missing bucket is not an empty folder: reading it would look like a window without
        traffic, and writing to it fails only after all the work (or, on SeaweedFS, silently
        creates it). A 403 passes: a role may write or read keys without the right to HEAD the bucket.
        """
        if protocol_of(url) not in _S3:
            return
        bucket = url.split("://", 1)[1].split("/", 1)[0]
        try:
            self.fs(url).call_s3("head_bucket", Bucket=bucket)
        except FileNotFoundError as exc:
            raise StorageError(f"{url}: the bucket {bucket!r} does not exist") from exc
        except PermissionError:
            return
        except Exception as exc:  # noqa: BLE001
            raise self._storage_error(url, "reach the store", exc) from exc

    def delete(self, url: str) -> None:
        try:
            if is_local(url):
                if os.path.exists(local_path(url)):
                    os.unlink(local_path(url))
                return
            fs = self.fs(url)
            if fs.exists(url):
                fs.rm_file(url)
        except Exception as exc:  # noqa: BLE001
            raise self._storage_error(url, "delete", exc) from exc
