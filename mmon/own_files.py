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
from mmon.store import is_local, local_path

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
