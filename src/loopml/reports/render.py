"""Shared rendering helpers: column summaries for tables, and self-contained HTML pages.

Pages embed Plotly's JavaScript from the installed ``plotly`` package, so a report opens offline
and can be mailed as one file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import orjson

from loopml.data.profile import ColumnProfile, Profile

_TEMPLATES = Path(__file__).parent / "templates"


def _number(value: float | None, kind: str) -> str:
    if value is None:
        return ""
    if kind == "datetime":
        return datetime.fromtimestamp(value / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M")
    if value != value:  # NaN
        return "nan"
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def column_row(column: ColumnProfile) -> dict[str, str]:
    """One profile column as display strings (shared by the CLI table and the HTML report)."""
    row = {
        "column": column.name,
        "dtype": column.dtype,
        "kind": column.kind,
        "missing": f"{column.missing_fraction:.1%}",
        "distinct": f"{column.distinct:,}",
        "min": "",
        "median": "",
        "max": "",
        "mean": "",
        "top": "",
    }
    stats = column.numeric
    if stats is not None and stats.count:
        median = float(stats.sketch.quantiles([0.5])[0])
        row.update(
            min=_number(stats.min, column.kind),
            median=_number(median, column.kind),
            max=_number(stats.max, column.kind),
            mean=_number(stats.mean, column.kind),
        )
    counts = column.categories
    if counts is not None and column.count:
        top = sorted(counts.counts.items(), key=lambda kv: -kv[1])[:2]
        row["top"] = ", ".join(f"{value} {count / column.count:.0%}" for value, count in top)
    return row


def column_summary(profile: Profile) -> list[dict[str, str]]:
    """Every column of ``profile`` as display strings."""
    return [column_row(column) for column in profile.columns.values()]


def headed(figures: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(id, heading, figure)`` with each figure's title moved to its heading, for pages that
    draw the heading as HTML above the chart: Plotly draws its toolbar over the top of the plot
    area, where a title of more than a few words ends up under it. The top margin shrinks to
    what the toolbar needs."""
    out = []
    for ident, heading, figure in figures:
        layout = dict(figure.get("layout", {}))
        title = layout.pop("title", None)
        text = title.get("text") if isinstance(title, dict) else title
        margin = dict(layout.get("margin", {}))
        margin["t"] = min(int(margin.get("t", 30)), 30)
        layout["margin"] = margin
        out.append((ident, str(text or heading), {**figure, "layout": layout}))
    return out


@cache
def plotly_js() -> str:
    """Plotly's bundled JavaScript (read once)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


#: characters that may end or change a ``<script>`` element's text (``</script>``, ``<!--``
#: with ``<script>``, which the HTML parser reads inside script text), or that some JavaScript
#: parsers take for line ends; each becomes its ``\uXXXX`` escape, which JSON reads back as the
#: same character. Outside strings, JSON holds none of them, so the result is still JSON.
_SCRIPT_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def to_json(value: Any) -> str:
    """``value`` as JSON safe to embed inside a ``<script>`` element: no ``<``, ``>``, ``&``,
    U+2028 or U+2029 in the text, and ``json.loads`` of it gives ``value`` back.

    The one helper every page and report embeds data with (the ``tojson_script`` filter), so a
    category value such as ``<!--<script>`` or ``</script>`` is data, never markup.
    """
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return text.translate(_SCRIPT_UNSAFE)


@cache
def templates(folder: Path = _TEMPLATES) -> jinja2.Environment:
    """The Jinja2 environment of the templates in ``folder`` (the reports' by default): HTML
    autoescaped, undefined names an error, the ``tojson_script`` filter (:func:`to_json`) and
    ``path_part`` (a value quoted to be one segment of a URL path, ``/`` included)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["tojson_script"] = to_json
    env.filters["path_part"] = lambda value: quote(str(value), safe="")
    return env


def render_page(template: str, **context: Any) -> str:
    """Render a template from ``reports/templates`` with Plotly's JavaScript inlined."""
    return templates().get_template(template).render(plotly_js=plotly_js(), **context)


def write_page(html: str, path: str | Path) -> Path:
    """Write ``html`` atomically to ``path`` (creating folders) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(target)
    return target
