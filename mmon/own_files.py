"""mmon's own files: never read back as data, and never allowed to overwrite an input.

A report folder put inside the data folder must not be profiled on the next run (its
``cloudwatch_metrics.jsonl`` is JSON Lines, its ``statistics.json`` JSON), and ``-o`` pointed at
the baseline's folder must not replace the baseline's ``statistics.json`` or ``analysis.json``.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Mapping

from mmon.errors import InputError
from mmon.stats.profile import ProfileState
from mmon.store import is_local, local_path

# capture-merge's bookkeeping columns (mmon.capture.merge.META_PREFIX): never a feature.
RESERVED_PREFIX = "__mmon_"
MERGE_COLUMNS = ("__mmon_event_id", "__mmon_inference_id", "__mmon_inference_time")

# Every file a mmon command writes beside its data output (report, baseline, merge, schedule).
OWN_OUTPUT_NAMES = frozenset(
    {
        "statistics.json",
        "constraints.json",
        "constraint_violations.json",
        "cloudwatch_metrics.jsonl",
        "merge_summary.json",
        "execution.json",
        "analysis.json",
        ".mmon-execution.lock",
    }
)


def is_own_output(url: str) -> bool:
    """True for a file mmon writes as a report, a summary, a record or a lock (not a dataset)."""
    path = url.replace("\\", "/").rstrip("/")
    name = posixpath.basename(path)
    return (
        name in OWN_OUTPUT_NAMES
        or name.endswith(".prom")
        or name.startswith(".mmon-")
        or path.endswith("/explanations_shap/out.csv")
    )


def data_only(item: str, found: list[str]) -> list[str]:
    """The files of a folder or glob ``item`` without mmon's own outputs; an error if none is left."""
    kept = [u for u in found if not is_own_output(u)]
    if found and not kept:
        shown = ", ".join(posixpath.basename(u.replace("\\", "/")) for u in found[:5])
        raise InputError(f"{item}: holds only mmon's own output files ({shown}), no data")
    return kept


def _key(url: str) -> str:
    """One spelling per file: the real path for local files, ``proto://bucket/key`` otherwise."""
    if is_local(url):
        return os.path.realpath(os.path.abspath(local_path(url)))
    proto, _, rest = url.partition("://")
    return f"{proto.lower()}://{re.sub('/+', '/', rest).strip('/')}"


def is_inside(child: str, parent: str) -> bool:
    """True when ``child`` is ``parent`` or lies below it (same spelling rules as refuse_overwrite)."""
    c, p = _key(child), _key(parent)
    sep = os.sep if is_local(parent) else "/"
    return c == p or c.startswith(p.rstrip(sep) + sep)


def refuse_overwrite(outputs: Iterable[str], inputs: Mapping[str, str | None] | Iterable[tuple[str, str | None]]) -> None:
    """Raise ``InputError`` (exit 2) when an output file would replace an input file.

    ``inputs`` maps a description (the option that named it, e.g. ``--baseline-statistics``) to
    a URL; ``None`` values are ignored.
    """
    pairs = inputs.items() if isinstance(inputs, Mapping) else inputs
    by_key = {_key(url): (what, url) for what, url in pairs if url}
    for out in outputs:
        hit = by_key.get(_key(out))
        if hit is not None:
            what, url = hit
            raise InputError(
                f"{out}: the output would overwrite the input {url} ({what}); write the report to another folder"
            )


def reserved_columns_warning(names: list[str], where: str) -> str | None:
    """A warning naming columns with capture-merge's reserved prefix, which no check ever looks at."""
    reserved = [n for n in names if n.startswith(RESERVED_PREFIX)]
    if not reserved:
        return None
    return (f"{where} {', '.join(repr(n) for n in reserved)}: the prefix {RESERVED_PREFIX!r} is reserved for capture-merge's "
            "bookkeeping columns, which mmon baseline and mmon run leave out; rename the column to have it monitored")  # fmt: skip


def drop_reserved(state: ProfileState, warnings: list[str]) -> ProfileState:
    """Leave out reserved columns (as ``mmon run`` does), saying so when there are any."""
    names = [n for n in state.columns if n.startswith(RESERVED_PREFIX)]
    warning = reserved_columns_warning(names, "column(s)")
    # All three bookkeeping columns together are a capture-merge output: expected, no warning.
    if warning and set(names) != set(MERGE_COLUMNS):
        warnings.append(warning + " (left out of the baseline)")
    state.columns = {k: v for k, v in state.columns.items() if not k.startswith(RESERVED_PREFIX)}
    return state
