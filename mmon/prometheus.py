"""Prometheus text exposition (format 0.0.4) for every monitor type's ``metrics.prom``.

The monitor types decide *what* they publish (their families, help texts and samples); this module
is the one place that decides *how* it is written, so escaping and number formatting cannot drift
between types:

* metric names are sanitised to ``[a-zA-Z_:][a-zA-Z0-9_:]*`` (invalid characters become ``_``, a
  leading digit gets a ``_``) -- user-given prefixes and feature names can hold anything;
* label values escape ``\\``, newline and ``"`` as the format requires; a label whose value is
  ``None`` is left out (``endpoint`` / ``schedule`` are optional);
* values are Python's shortest round-trip ``repr`` of the float, ``NaN``, ``+Inf``, ``-Inf``;
* every family is a ``gauge`` with ``# HELP`` and ``# TYPE`` lines, families in declaration
  order, a family without samples is omitted, and there are no timestamps (node-exporter's
  textfile collector rejects them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

_NAME_BAD = re.compile(r"[^a-zA-Z0-9_:]")

Labels = Iterable[tuple[str, str | None]]


def sanitize_metric_name(name: str) -> str:
    """A valid Prometheus metric name: invalid characters become ``_``, no leading digit."""
    out = _NAME_BAD.sub("_", name)
    if not out or out[0].isdigit():
        out = "_" + out
    return out


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x))


def format_labels(pairs: Labels) -> str:
    body = ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs if v is not None)
    return "{" + body + "}" if body else ""


class Gauges:
    """Gauge families of one run: declare them (``family``), add samples, then ``text()``.

    ``common`` labels (endpoint, schedule, ...) come first on every sample, in the order given."""

    def __init__(self, prefix: str = "mmon", common: Labels = ()) -> None:
        self.prefix = sanitize_metric_name(prefix) + "_" if prefix else ""
        self.common = list(common)
        self._families: dict[str, tuple[str, list[str]]] = {}

    def family(self, name: str, help_text: str) -> None:
        self._families[name] = (help_text, [])

    def sample(self, family: str, value: float, labels: Labels = ()) -> None:
        line = f"{self.prefix}{family}{format_labels([*self.common, *labels])} {format_value(value)}"
        self._families[family][1].append(line)

    def text(self) -> str:
        lines: list[str] = []
        for family, (help_text, samples) in self._families.items():
            if samples:
                name = self.prefix + family
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]
        return "\n".join(lines) + "\n" if lines else ""
