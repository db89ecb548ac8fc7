"""One self-contained HTML report: inline CSS, images embedded as base64 PNG, no
external references (no scripts, fonts, stylesheets or links), plus every image as a
PNG file and every figure's data and table as a CSV file beside it.

Layout, top to bottom: the headline numbers (each with its ± half-width of a 95%
interval, or marked exact), what is missing from this report (if anything), the
tables, the figures each with a short "how to read this", then the resolved
scenario and the provenance.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ClmsimError
from ..textable import human, human_pm

KINDS = ("money", "count", "percent", "number", "periods")


@dataclass
class Headline:
    """A headline number with its uncertainty.

    Attributes
    ----------
    label : str
    value : float
    half_width : float or None
        Half-width of the 95% interval; ``None`` or NaN = exact (analytic) or not available.
    kind : str
        One of :data:`KINDS`; sets the formatting.
    note : str
        One short line under the number (e.g. "vs baseline, paired, 200 runs").
    exact : bool
        The value is an exact expectation (shown as "exact" instead of a half-width).
    """

    label: str
    value: float
    half_width: float | None = None
    kind: str = "money"
    note: str = ""
    exact: bool = False


@dataclass
class ReportFigure:
    """A figure of the report: a matplotlib Figure, its caption and its data."""

    key: str
    title: str
    how_to_read: str
    figure: Any
    data: pd.DataFrame | None = None


@dataclass
class ReportTable:
    """A table shown in the report and written as ``<key>.csv``.

    ``display`` is what is shown (already formatted strings); ``data`` the raw numbers for the CSV.
    """

    key: str
    title: str
    display: pd.DataFrame
    data: pd.DataFrame | None = None
    note: str = ""


@dataclass
class Report:
    """Everything a report shows; :func:`write_report` renders it."""

    title: str
    subtitle: str = ""
    headlines: list[Headline] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)
    figures: list[ReportFigure] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    scenario_text: str = ""
    provenance: dict = field(default_factory=dict)


# ------------------------------------------------------------------ formatting
def format_value(value: float, kind: str = "money") -> str:
    """A headline value: money/count with k/M/B suffix, percent, periods."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "periods":
        return f"{value:.1f}"
    if kind == "number":
        return f"{value:.3g}"
    return human(value, 4 if kind == "money" else 3)


def format_pm(h: Headline) -> tuple[str, str]:
    """``(value text, uncertainty text)`` of a headline."""
    v = format_value(h.value, h.kind)
    if h.exact:
        return v, "exact"
    if h.half_width is None or (isinstance(h.half_width, float) and math.isnan(h.half_width)):
        return v, ""
    if h.kind in ("money", "count"):
        v, hw = human_pm(h.value, h.half_width)
        return v, (f"\u00b1 {hw}" if hw else "")
    hw = f"{h.half_width:.1%}" if h.kind == "percent" else f"{h.half_width:.2f}"
    return v, f"\u00b1 {hw}"


CSS = """
:root { --fg:#1f2328; --muted:#5c6670; --line:#d8dee4; --accent:#0072B2; --warn:#D55E00; --bg:#ffffff; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Noto Sans", "Noto Sans CJK SC", Arial, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; line-height: 1.45; }
main { max-width: 1060px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 22px 0 6px; }
.sub { color: var(--muted); margin: 0 0 18px; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-left: 5px solid var(--accent); border-radius: 6px;
        padding: 10px 14px; background: #f7fafc; }
.card .label { font-size: 13px; color: var(--muted); }
.card .value { font-size: 24px; font-weight: 700; white-space: nowrap; }
.card .pm { font-size: 15px; font-weight: 400; color: var(--muted); margin-left: 4px; }
.card .note { font-size: 12px; color: var(--muted); }
.missing { border: 1px solid var(--warn); border-left: 5px solid var(--warn); background: #fff6ef;
           border-radius: 6px; padding: 8px 14px; margin: 18px 0; font-size: 14px; }
.missing ul { margin: 4px 0 0 18px; padding: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 4px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #eef2f5; font-weight: 600; white-space: normal; vertical-align: bottom; }
.tablewrap { overflow-x: auto; max-width: 100%; }
td:first-child, th:first-child { text-align: left; }
.tnote { font-size: 12px; color: var(--muted); margin: 2px 0 0; }
figure { margin: 10px 0 6px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
.how { background: #f4f8fb; border-radius: 6px; padding: 8px 12px; font-size: 14px; margin: 6px 0; }
.how b { color: var(--accent); }
.files { font-size: 12px; color: var(--muted); }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
      font-size: 12px; overflow-x: auto; white-space: pre; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px; }
dl.prov dt { color: var(--muted); } dl.prov dd { margin: 0; word-break: break-all; }
"""


def provenance_items(prov: dict, extra: dict | None = None) -> dict:
    """Provenance as display strings, most useful first."""
    order = ("scenario", "scenario_hash", "source", "engine", "mode", "runs", "seed", "period", "horizon",
             "convention", "clmsim_version", "customer_periods", "seconds")
    out = {k: prov[k] for k in order if k in prov}
    out.update({k: v for k, v in prov.items() if k not in out})
    out.update(extra or {})
    return {k: (json.dumps(v, default=str) if isinstance(v, (dict, list)) else v) for k, v in out.items()}


def figure_png(fig, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib Figure (Agg canvas; no pyplot, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ..plots.style import style_context

    from matplotlib.text import Text

    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    for t in fig.findobj(Text):  # names are data: '$x$' is shown as written, never as mathtext
        t.set_parse_math(False)
    buf = io.BytesIO()
    with style_context():
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _table_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>"
                   for row in df.astype(str).itertuples(index=False))
    return f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def render_html(report: Report, pngs: dict[str, bytes]) -> str:
    """The report as one HTML string; ``pngs`` maps figure keys to PNG bytes."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body><main>",
             f"<h1>{_e(report.title)}</h1>"]
    if report.subtitle:
        parts.append(f'<p class="sub">{_e(report.subtitle)}</p>')
    if report.headlines:
        parts.append('<h2 id="headline">Headline numbers</h2><div class="cards">')
        for h in report.headlines:
            v, pm = format_pm(h)
            parts.append(f'<div class="card"><div class="label">{_e(h.label)}</div>'
                         f'<div class="value">{_e(v)}<span class="pm">{_e(pm)}</span></div>'
                         + (f'<div class="note">{_e(h.note)}</div>' if h.note else "") + "</div>")
        parts.append("</div>")
        if any(not h.exact and h.half_width is not None for h in report.headlines):
            parts.append('<p class="tnote">\u00b1 = half-width of the 95% interval.</p>')
    if report.missing:
        parts.append('<div class="missing"><b>Not in this report:</b><ul>'
                     + "".join(f"<li>{_e(m)}</li>" for m in report.missing) + "</ul></div>")
    for t in report.tables:
        parts.append(f'<h2 id="{_e(t.key)}">{_e(t.title)}</h2>{_table_html(t.display)}')
        if t.note:
            parts.append(f'<p class="tnote">{_e(t.note)}</p>')
        parts.append(f'<p class="files">Data: {_e(t.key)}.csv</p>')
    if report.figures:
        parts.append('<h2 id="figures">Figures</h2>')
    for f in report.figures:
        if f.key not in pngs:
            raise ClmsimError(f"figure '{f.key}' was not rendered")
        b64 = base64.b64encode(pngs[f.key]).decode("ascii")
        files = f"{f.key}.png" + (f", {f.key}.csv" if f.data is not None else "")
        parts.append(f'<section id="fig-{_e(f.key)}"><h3>{_e(f.title)}</h3>'
                     f'<figure><img alt="{_e(f.title)}" src="data:image/png;base64,{b64}"></figure>'
                     f'<p class="how"><b>How to read this:</b> {_e(f.how_to_read)}</p>'
                     f'<p class="files">Files: {_e(files)}</p></section>')
    if report.scenario_text:
        parts.append('<h2 id="scenario">Resolved scenario</h2>'
                     f"<pre>{_e(report.scenario_text)}</pre>")
    if report.provenance:
        parts.append('<h2 id="provenance">Provenance</h2><dl class="prov">')
        for k, v in report.provenance.items():
            parts.append(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>")
        parts.append("</dl>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _atomic_write(path: Path, data: bytes) -> None:
    from ..safeio import atomic_write

    atomic_write(path, data)  # temporary name, fsync, rename; a failure names the path


def write_report(report: Report, out_dir: str | Path, name: str = "report.html", dpi: int = 110) -> Path:
    """Render ``report`` into ``out_dir``: ``report.html`` plus ``<key>.png`` per figure and
    ``<key>.csv`` per table and per figure with data. Returns the HTML path.

    Files are written atomically (temporary name, then rename).
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClmsimError(f"cannot create report directory {out}: {exc.strerror}") from None
    keys = [f.key for f in report.figures] + [t.key for t in report.tables]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ClmsimError(f"duplicate report keys: {', '.join(sorted(dup))}")
    pngs = {}
    for f in report.figures:
        pngs[f.key] = figure_png(f.figure, dpi)
        _atomic_write(out / f"{f.key}.png", pngs[f.key])
        if f.data is not None:
            _atomic_write(out / f"{f.key}.csv", f.data.to_csv(index=False).encode("utf-8"))
    for t in report.tables:
        data = t.data if t.data is not None else t.display
        _atomic_write(out / f"{t.key}.csv", data.to_csv(index=False).encode("utf-8"))
    path = out / name
    _atomic_write(path, render_html(report, pngs).encode("utf-8"))
    return path
