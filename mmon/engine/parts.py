"""Profile parts: the per-file profiles of a shard of a dataset, written by one machine and merged
on another (``mmon profile-part`` / ``mmon merge-parts``).

A part file is::

    b"MMONPART"  u16 version  u32 header length  header (UTF-8 JSON)  FileProfile bytes ...

The header lists the files the part covers, in order (URL, name, length of its profile bytes),
and, for a part made with ``--shard I/N``, the shard and a digest of the whole dataset's file list.
A part is an ORDERED LIST of per-file profiles, never a pre-merged state, so any split of the
files into consecutive parts folds to the same bytes as ``mmon baseline``.

Merge order: the files' profiles are folded in the order of the files' names, whichever part
holds them (a file's name is its path below the folder it was found in — so parts made on
machines that mount the data at different paths still line up — or its base name when it was
given as a file or glob). For consecutive parts that is simply the parts ordered by their first
file. A file covered twice is refused; parts made with ``--shard I/N`` must all be present
(0..N-1, each once, of the same dataset).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import struct
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from mmon import __version__
from mmon.engine import Engine, FileProfile, LocalEngine, Profiled, ProfilePolicy, Progress, fold
from mmon.errors import InputError
from mmon.own_files import refuse_overwrite
from mmon.readers import DatasetFile, dataset_files
from mmon.store import Store

PART_MAGIC = b"MMONPART"
PART_VERSION = 1
PART_SUFFIX = ".mmonstate"
_HEAD = struct.Struct("<8sHI")


@dataclass
class Part:
    url: str
    names: list[str]
    profiles: list[FileProfile]
    shard: dict[str, Any] | None = None

    @property
    def files(self) -> list[str]:
        return [p.url for p in self.profiles]

    @property
    def rows(self) -> int:
        return sum(p.state.rows for p in self.profiles)


def file_names(store: Store, inputs: list[str], files: list[DatasetFile]) -> list[str]:
    """Each file's name: its path below the folder argument it was found in, else its base name."""
    roots = sorted((i.rstrip("/") + "/" for i in inputs if not any(c in i for c in "*?[") and store.isdir(i)), key=len)
    names = []
    for f in files:
        root = next((r for r in reversed(roots) if f.url.startswith(r)), None)
        names.append(f.url[len(root) :] if root else posixpath.basename(f.url))
    return names


def dataset_digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (0 <= I < N) -> (I, N)."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise InputError(f"--shard {text!r}: expected INDEX/COUNT, e.g. 3/8") from None
    if count < 1 or not 0 <= index < count:
        raise InputError(f"--shard {text!r}: INDEX must be in 0..COUNT-1")
    return index, count


def shard_bounds(n_files: int, index: int, count: int) -> tuple[int, int]:
    """Consecutive, nearly equal slices: the first ``n_files % count`` shards get one file more."""
    size, extra = divmod(n_files, count)
    start = index * size + min(index, extra)
    return start, start + size + (1 if index < extra else 0)


def encode_part(names: list[str], profiles: list[FileProfile], shard: dict[str, Any] | None) -> bytes:
    bodies = [p.to_bytes() for p in profiles]
    header = {
        "mmon_version": __version__,
        "files": [{"url": p.url, "name": n, "bytes": len(b)} for p, n, b in zip(profiles, names, bodies, strict=True)],
        "shard": shard,
    }
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    return _HEAD.pack(PART_MAGIC, PART_VERSION, len(head)) + head + b"".join(bodies)


def decode_part(url: str, data: bytes) -> Part:
    if len(data) < _HEAD.size or data[: len(PART_MAGIC)] != PART_MAGIC:
        raise InputError(f"{url}: not an mmon profile part (bad magic bytes)")
    _, version, head_len = _HEAD.unpack_from(data)
    if version > PART_VERSION:
        raise InputError(
            f"{url}: this part has format version {version}, newer than this mmon reads ({PART_VERSION}): upgrade mmon"
        )
    try:
        header = json.loads(data[_HEAD.size : _HEAD.size + head_len].decode())
        pos = _HEAD.size + head_len
        profiles, names = [], []
        for entry in header["files"]:
            end = pos + int(entry["bytes"])
            if end > len(data):
                raise ValueError("truncated")
            profiles.append(FileProfile.from_bytes(data[pos:end]))
            names.append(str(entry["name"]))
            pos = end
        if pos != len(data):
            raise ValueError("trailing bytes")
    except InputError as exc:
        raise InputError(f"{url}: {exc.message}") from exc
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"{url}: a corrupt mmon profile part ({exc})") from exc
    return Part(url, names, profiles, header.get("shard"))


class Profiling(TypedDict, total=False):
    """How a dataset is read and profiled: the keywords ``mmon.baseline.run_baseline`` and
    ``profile_part`` share."""

    fmt: str | None  # the data's format (None: from the file names)
    header: bool  # CSV with a header line (default True)
    allow_non_finite: bool  # count NaN/infinite numbers as missing instead of refusing them (default False)
    engine: Engine | None  # the profiler (default: polars)
    progress: Progress | None  # told of each file profiled


@dataclass
class PartResult:
    part: Part
    output: str
    warnings: list[str] = field(default_factory=list)


def profile_part(
    store: Store, inputs: list[str], output: str, shard: str | None = None, **how: Unpack[Profiling]
) -> PartResult:
    """Profile the files of ``inputs`` (or, with ``shard`` = ``I/N``, the I-th of N consecutive
    slices of them) and write their per-file profiles to ``output`` atomically."""
    files = dataset_files(store, inputs, how.get("fmt"), how.get("header", True))
    refuse_overwrite([output], [("data", f.url) for f in files])
    # The part is a file: its folder must be writable (checked before the work).
    store.check_writable(posixpath.dirname(output.rstrip("/")) or ".")
    names = file_names(store, inputs, files)
    shard_info = None
    if shard is not None:
        index, count = parse_shard(shard)
        start, end = shard_bounds(len(files), index, count)
        shard_info = {"index": index, "count": count, "dataset": dataset_digest(names), "dataset_files": len(files)}
        files, names = files[start:end], names[start:end]
    policy = ProfilePolicy(allow_non_finite=how.get("allow_non_finite", False))
    profiles = []
    progress = how.get("progress")
    for i, profile in enumerate((how.get("engine") or LocalEngine()).map_files(store, files, policy)):
        profiles.append(profile)
        if progress:
            progress(profile.url, i + 1, len(files))
    if [p.url for p in profiles] != [f.url for f in files]:
        raise RuntimeError("the engine did not yield one profile per file in file order")
    store.write_bytes(output, encode_part(names, profiles, shard_info))
    part = Part(output, names, profiles, shard_info)
    return PartResult(part, output, [w for p in profiles for w in p.warnings])


def read_parts(store: Store, folder: str) -> list[Part]:
    """Every ``*.mmonstate`` part in ``folder`` (checked: no file twice, no shard missing)."""
    urls = store.expand([folder], (PART_SUFFIX,))
    parts = [decode_part(u, store.read_bytes(u)) for u in urls]
    check_parts(parts)
    return parts


def check_parts(parts: list[Part]) -> None:
    """Refuse a file covered by two parts and, for parts made with --shard, a missing, repeated
    or foreign shard, with a clear InputError."""
    shards = [p.shard for p in parts if p.shard is not None]
    if shards:
        if len(shards) != len(parts):
            plain = next(p.url for p in parts if p.shard is None)
            raise InputError(f"{plain}: made without --shard, mixed with parts made with --shard")
        counts = {s["count"] for s in shards}
        digests = {s["dataset"] for s in shards}
        if len(counts) > 1 or len(digests) > 1:
            raise InputError("the parts come from different datasets or shard counts (--shard I/N with different N or files)")
        count = counts.pop()
        seen: dict[int, str] = {}
        for p in parts:
            i = p.shard["index"] if p.shard else -1
            if i in seen:
                raise InputError(f"{p.url} and {seen[i]} are both shard {i}/{count}")
            seen[i] = p.url
        missing = [i for i in range(count) if i not in seen]
        if missing:
            listed = ", ".join(f"{i}/{count}" for i in missing)
            raise InputError(f"missing part(s) for shard {listed}: the merge would leave their files out")
    owner: dict[str, str] = {}
    for p in parts:
        for name in p.names:
            if name in owner:
                raise InputError(f"file {name!r} is in two parts: {owner[name]} and {p.url}")
            owner[name] = p.url


def merge_order(parts: list[Part]) -> list[FileProfile]:
    """Every file's profile, in the order of the files' names: the sorted file list that
    ``mmon baseline`` folds for the whole folder, whichever part holds which file (consecutive
    slices, or the objects ShardedByS3Key hands to each instance)."""
    named = [(name, profile) for p in parts for name, profile in zip(p.names, p.profiles, strict=True)]
    return [profile for _, profile in sorted(named, key=lambda item: item[0])]


def merge_parts(store: Store, folder: str) -> tuple[list[Part], Profiled]:
    """Read the parts in ``folder`` and fold their files' profiles in file order."""
    parts = read_parts(store, folder)
    profiles = merge_order(parts)
    if not profiles:
        raise InputError(f"{folder}: the parts cover no files")
    return parts, fold(iter(profiles), len(profiles))
