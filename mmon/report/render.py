"""Jinja2 rendering of the report: one self-contained HTML file, autoescaped.

Autoescaping is on for every template (``select_autoescape`` would leave ``.j2`` files unescaped):
feature names, values and descriptions are user data and must show verbatim, never run. Charts
arrive as ``Markup`` from :mod:`mmon.report.charts`, which escaped their text itself. The CSS
and the few lines of JavaScript are inlined from files next to the templates, so the page makes
no request to any host.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from mmon import __version__
from mmon.report import charts


def _asset(name: str) -> str:
    return resources.files("mmon.report").joinpath("templates", name).read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mmon.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = charts.fmt
    env.filters["pct"] = charts.pct
    env.globals["finite"] = charts.finite
    return env


def render(context: dict[str, Any]) -> str:
    """The HTML page of a report context (``mmon.report.build`` / ``mmon.report.history``)."""
    template = environment().get_template("report.html.j2")
    return template.render(
        **context,
        version=__version__,
        css=Markup(_asset("report.css")),
        script=Markup(_asset("report.js")),
    )
