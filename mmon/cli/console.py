"""Where output goes: results on stdout, progress, warnings and errors on stderr."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

# Markup is off: feature names, paths and error messages are user text and are shown verbatim
# (with markup on, rich takes ``price[usd]`` for a tag and prints ``price``). Styled parts are
# built with ``styled``/``line`` below, never by formatting user text into markup.
# Piped output still gets a table wide enough to read (rich would assume 80 columns).
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)


def styled(text: Any, style: str) -> Text:
    """One piece of text in a style, its characters verbatim (for table cells and lines)."""
    return Text(str(text), style=style)


def line(*parts: str | tuple[str, str] | Text) -> Text:
    """A line of plain strings and ``(text, style)`` pieces, every character verbatim."""
    return Text.assemble(*parts)


def cell(x: Any, digits: int) -> str:
    """A table cell: empty for a missing value, a float to ``digits`` significant digits."""
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def error(message: str, label: str = "mmon: error:") -> None:
    """The one-line error on stderr: a red label, then the message exactly as written."""
    err.print(line((label, "red"), " ", message), highlight=False)


def _finite(obj: Any) -> Any:
    """Non-finite floats as the strings SageMaker's Jackson writes, so the output is valid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(_finite(obj), indent=2, allow_nan=False, default=str) + "\n")
    sys.stdout.flush()


def warn(message: str, quiet: bool = False) -> None:
    if not quiet:
        err.print(line(("mmon: warning:", "yellow"), " ", message), highlight=False)


@contextmanager
def file_progress(description: str, quiet: bool = False) -> Iterator[Any]:
    """A progress callback ``(url, done, total)``: a rich bar on a terminal, silent when piped."""
    if quiet or not err.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}", style="dim", markup=False),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None, current="")

        def update(url: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, current=url.rsplit("/", 1)[-1])

        yield update
