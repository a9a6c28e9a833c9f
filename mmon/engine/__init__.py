"""The profiling seam: per-file profile states, mapped by an engine and folded in file order.

``profile_file`` turns one file into a :class:`FileProfile` (a pure value with a versioned,
pickle-free binary form); an :class:`Engine` maps it over a list of files, yielding the profiles in
file order; :func:`fold` merges them left to right, file 1 then file 2 and so on. Float sums and
KLL compaction are not associative, so this one fold order is what makes the statistics depend
only on the ordered file list: any engine, any number of tasks and any split of the files into
consecutive shards give the same bytes (see :meth:`mmon.stats.state.ProfileState.merge`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from mmon.engine.batched import FileGroup, merge_group
from mmon.engine.state_codec import decode_profile, encode_profile
from mmon.errors import InputError
from mmon.file_lines import data_lines
from mmon.readers import DatasetFile, column_warnings, iter_batches
from mmon.stats.profile import profile_batches
from mmon.stats.state import ProfileState
from mmon.store import Store

Progress = Callable[[str, int, int], None]

__all__ = [
    "Engine",
    "FileProfile",
    "LocalEngine",
    "ProfilePolicy",
    "Profiled",
    "Progress",
    "check_file_state",
    "fold",
    "profile_file",
    "profile_files",
]


@dataclass(frozen=True)
class ProfilePolicy:
    """Everything :func:`profile_file` needs besides the file (picklable, small)."""

    allow_non_finite: bool = True  # False: NaN/inf refused with InputError naming file and line
    threads: int = 2  # overlap of read and sketch inside one file


@dataclass
class FileProfile:
    """The profile of ONE file, as if the file were read alone: a pure value."""

    url: str
    state: ProfileState
    warnings: list[str] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        """Versioned, pickle-free binary form (:mod:`mmon.engine.state_codec`)."""
        return encode_profile(self.url, self.state, self.warnings)

    @classmethod
    def from_bytes(cls, data: bytes) -> FileProfile:
        """Read :meth:`to_bytes`' form; a newer format version is refused with an InputError."""
        url, state, warnings = decode_profile(data)
        return cls(url, state, warnings)


@dataclass
class Profiled:
    """A dataset's folded profile: the merged state, the files in order, and the warnings."""

    state: ProfileState
    files: list[str]
    warnings: list[str] = field(default_factory=list)


def _row_where(f: DatasetFile, row: int | None, line: int | None) -> str:
    if row is None:
        return ""
    if line is not None:
        return f", first at line {line}"
    # The file could not be walked again: the line a file without blank lines or quoted line
    # breaks would have.
    if f.format == "csv":
        return f", first at line {row + (2 if f.header else 1)}"
    if f.format == "jsonl":
        return f", first at line {row + 1}"
    return f", first at row {row}"


def check_file_state(
    file: DatasetFile, state: ProfileState, policy: ProfilePolicy, store: Store | None = None
) -> FileProfile:
    """A file's profile with its warnings; NaN/inf refused (InputError, file and line) unless allowed.

    Non-finite numbers are counted as missing. With ``allow_non_finite=False`` (the baseline's
    default) they are refused instead: a baseline's mean and spread must not rest on them.
    ``store``: where the file is read again to name the exact line of the first one.
    """
    # Repeated or empty header names (polars renames a repeated `x` to `x_duplicated_0`): said.
    warnings = column_warnings(file, list(state.columns))
    # The exact lines of the first non-finite values (blank lines and quoted line breaks before
    # them counted): the file is walked again, once, only when there are some.
    firsts = {
        (col.first_nonfinite_row, k)
        for k, col in enumerate(state.columns.values())
        if col.n_nonfinite and col.first_nonfinite_row is not None
    }
    lines = data_lines(store, file, sorted(firsts)) if store is not None and firsts else {}
    for position, (name, col) in enumerate(state.columns.items()):
        if col.n_nonfinite:
            row = col.first_nonfinite_row
            where = _row_where(file, row, None if row is None else lines.get((row, position)))
            msg = f"{file.url}: column {name!r} has {col.n_nonfinite} NaN or infinite values{where}"
            if not policy.allow_non_finite:
                raise InputError(f"{msg}; fix the data or pass --allow-non-finite to count them as missing")
            warnings.append(f"{msg}, counted as missing")
    return FileProfile(file.url, state, warnings)


def profile_file(store: Store, file: DatasetFile, policy: ProfilePolicy) -> FileProfile:
    """Profile one file as one sequential stream (like one Spark partition): a pure function of
    the file. Raises InputError (exit 2) naming the file and line on bad input, StorageError
    (exit 3) when the store fails."""
    state = profile_batches(iter_batches(store, file), threads=policy.threads)
    return check_file_state(file, state, policy, store)


def fold(profiles: Iterable[FileProfile | FileGroup], n_files: int | None = None) -> Profiled:
    """Merge per-file profiles LEFT TO RIGHT IN THE ORDER GIVEN (file order: the only fold order).

    A :class:`~mmon.engine.batched.FileGroup` (consecutive files the local engine measured
    together) folds as its files' profiles would, one after the other.

    Adds the dataset-level warnings: columns missing from some files (counted as missing there),
    empty columns, and columns that are String because of a few non-numbers.
    """
    total = ProfileState()
    files: list[str] = []
    warnings: list[str] = []
    columns_seen: dict[str, int] = {}
    for profile in profiles:
        if isinstance(profile, FileGroup):
            files.extend(profile.urls)
            warnings.extend(profile.warnings)
            for gc in profile.columns:
                columns_seen[gc.summary.name] = columns_seen.get(gc.summary.name, 0) + len(profile.files)
            merge_group(total, profile)
            continue
        files.append(profile.url)
        warnings.extend(profile.warnings)
        for name in profile.state.columns:
            columns_seen[name] = columns_seen.get(name, 0) + 1
        total.merge(profile.state, lazy=True)
    total.flush()
    count = len(files) if n_files is None else n_files
    if count > 1:
        for name, seen in columns_seen.items():
            if seen < count:
                warnings.append(f"column {name!r} is in {seen} of {count} files; counted as missing in the others")
    for name, col in total.columns.items():
        if total.rows and col.present == 0:
            warnings.append(f"column {name!r} is empty in every row: inferred type Unknown")
        elif col.inferred_type == "String" and col.n_string and col.n_string * 100 < col.num_n:
            warnings.append(
                f"column {name!r} is String because {col.n_string} of {col.present} values are not numbers"
            )
    return Profiled(total, files, warnings)


class Engine(Protocol):
    def map_files(self, store: Store, files: list[DatasetFile], policy: ProfilePolicy) -> Iterator[FileProfile]:
        """Yield one FileProfile per file, IN FILE ORDER (streamed, so the driver folds as they arrive)."""
        ...


def profile_files(
    store: Store,
    files: list[DatasetFile],
    policy: ProfilePolicy | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> Profiled:
    """Profile every file with ``engine`` (default :class:`LocalEngine`) and fold them in file order."""
    policy = policy or ProfilePolicy()
    engine = engine or LocalEngine()

    # An engine may yield groups of consecutive files that fold like their files' profiles.
    mapped: Iterator[FileProfile | FileGroup] = getattr(engine, "map_groups", engine.map_files)(store, files, policy)

    def tracked() -> Iterator[FileProfile | FileGroup]:
        if progress:
            progress(files[0].url if files else "", 0, len(files))
        done = 0
        for profile in mapped:
            done += len(profile.files) if isinstance(profile, FileGroup) else 1
            if progress:
                progress(files[done].url if done < len(files) else "", done, len(files))
            yield profile

    profiled = fold(tracked(), len(files))
    if [f.url for f in files] != profiled.files:
        raise RuntimeError("the engine did not yield one profile per file in file order")
    return profiled


from mmon.engine.local import LocalEngine  # noqa: E402  (LocalEngine uses the names above)
