"""The explorer's page: Bokeh widgets and figures drawn from :class:`~clmsim.explore.state.Explorer`.

One Bokeh document per browser tab. Every control change runs :meth:`Explorer.compute`
(analytic engine, exact) and replaces the data of four figures -- stage flow of a cohort,
its survival curve, CLV per stage, NPV versus baseline -- and the plain-words text.
Sliders report on release (``value_throttled``), so a drag costs one evaluation.
Problems never escape a callback: invalid settings show ``clmsim validate``'s message
beside the slider; anything unexpected shows as a message on the page.
"""

from __future__ import annotations

import gc
import html
import logging
import time
import traceback
from pathlib import Path

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (Button, ColumnDataSource, Div, FactorRange, NumeralTickFormatter, Range1d, Select,
                          Slider, TextInput)
from bokeh.plotting import figure
from jinja2 import Template

from ..model.compiled import ACTIVE, KIND_CODES
from ..plots.style import stage_colors
from .state import Control, Explorer

log = logging.getLogger("clmsim.explore")

KINDS = {code: name for name, code in KIND_CODES.items()}


TEMPLATE = Template("""{% extends base %}
{% block contents %}
<div style="display:flex; gap:16px; align-items:flex-start">
  <div>{{ embed(roots.controls) }}</div>
  <div>{{ embed(roots.title) }}{{ embed(roots.headline) }}{{ embed(roots.figures) }}{{ embed(roots.words) }}</div>
</div>
{% endblock %}""")
"""Page layout: the controls beside the title, headline, figures and plain words (one Bokeh root each)."""


def _e(x) -> str:
    return html.escape(str(x))


def _money(x: float) -> str:
    from ..textable import human

    return human(float(x), 4)


class Page:
    """The widgets and figures of one tab, bound to one :class:`Explorer`."""

    def __init__(self, doc, scenario: str | Path, out_dir: str | Path | None = None):
        self.doc = doc
        self.ex = Explorer(scenario)
        self.out_dir = Path(out_dir) if out_dir is not None else Path.cwd()
        self.redraws = 0
        self.busy = False
        model = self.ex.baseline["model"]
        self.model = model
        self.colors = stage_colors(model.stage_names, [KINDS[int(k)] for k in model.stage_kind])
        self._build()
        self._run(self.redraw)

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        ex, m = self.ex, self.model
        self.title = Div(text=f"<h2 style='margin:4px 0'>{_e(m.name)}</h2>"
                              f"<div style='color:#555'>{_e(self.ex.path)} · one period = one {m.period} · "
                              f"{m.horizon} {m.period}s · exact values (analytic engine)</div>",
                         sizing_mode="stretch_width")
        self.strategy = Select(title="Start from strategy", value=ex.strategy, options=list(ex.editor.strategy_names),
                               width=330)
        self.strategy.on_change("value", self._guard(self._on_strategy))
        self.segment = Select(title="Segment (whose transitions the sliders set)", value=ex.segment,
                              options=ex.segments, width=330, visible=len(ex.segments) > 1)
        self.segment.on_change("value", self._guard(self._on_segment))
        self.stage = Select(title="Explain a customer entering stage", value=ex.stage, options=ex.stages, width=330)
        self.stage.on_change("value", self._guard(self._on_stage))
        self.reset = Button(label="Reset to the strategy's settings", width=330)
        self.reset.on_click(self._guard_click(self._on_reset))
        self.controls_box = column(width=350)
        self.general = Div(text="", width=330, styles={"color": "#B00020"})
        self.save_path = TextInput(title="Save the current settings as scenario YAML",
                                   value=str(self.out_dir / f"{Path(ex.path).stem}_explored.yaml"), width=330)
        self.save = Button(label="Write scenario YAML", button_type="primary", width=330)
        self.save.on_click(self._guard_click(self._on_save))
        self.save_status = Div(text="", width=330)
        left = column(self.strategy, self.segment, self.stage, self.reset, self.save_path, self.save,
                      self.save_status, self.general, self.controls_box, width=360)

        # fixed sizes: a text change then needs no new layout of the page (measured: ~20 ms each)
        # two text blocks, fixed sizes: each text change costs the browser a layout pass (~20 ms)
        self.headline = Div(text="", width=950, height=84, disable_math=True)
        self.words = Div(text="", width=950, height=300, disable_math=True)
        self._figures()
        grid = column(row(self.f_flow, self.f_surv), row(self.f_clv, self.f_npv), name="figures")
        self._fill_controls()
        # separate roots placed by the template: a text change re-lays out its own small root,
        # not the page with its dozens of sliders (measured: the largest share of a redraw)
        left.name = "controls"
        self.title.name, self.headline.name, self.words.name = "title", "headline", "words"
        for root in (left, self.title, self.headline, grid, self.words):
            self.doc.add_root(root)
        self.doc.template = TEMPLATE
        self.doc.title = f"clmsim explore: {m.name}"

    def _figures(self) -> None:
        m = self.model
        per = m.period
        names = list(m.stage_names)
        H = m.horizon
        # one source for both time figures (one update message): stage shares and survival
        # stacked bands computed here (lo/hi per stage): no stacking transforms for the browser to rerun
        ones = np.ones(H + 1)
        self.src_time = ColumnDataSource({"period": np.arange(H + 1, dtype=float), "base": ones,
                                          **self._time_data(ones, None)})
        self._base_stage = None  # the stage whose baseline survival the source holds
        f = figure(title="Where a cohort of new customers is (share per stage)", width=470, height=300,
                   x_axis_label=f"{per}s after joining", x_range=Range1d(0, H), y_range=Range1d(0, 1),
                   tools="save", toolbar_location=None)
        for k, n in enumerate(names):  # stage k fills the band between cumulative shares k and k + 1
            f.varea(x="period", y1=f"c{k}", y2=f"c{k + 1}", source=self.src_time, color=self.colors[n],
                    legend_label=n, alpha=0.9)
        f.legend.location = "bottom_left"
        f.legend.label_text_font_size = "9pt"
        f.legend.background_fill_alpha = 0.6
        f.yaxis.formatter = NumeralTickFormatter(format="0%")
        self.f_flow = f

        f = figure(title="Survival: chance the cohort's customer is still active", width=470, height=300,
                   x_axis_label=f"{per}s after joining", x_range=Range1d(0, H), y_range=Range1d(0, 1.02),
                   tools="save", toolbar_location=None)
        f.line("period", "base", source=self.src_time, color="#6E6E6E", line_dash="dashed", line_width=2,
               legend_label="file's baseline")
        f.line("period", "now", source=self.src_time, color="#0072B2", line_width=3, legend_label="your settings")
        f.yaxis.formatter = NumeralTickFormatter(format="0%")
        f.legend.location = "top_right"
        self.f_surv = f

        act = [n for n, k in zip(m.stage_names, m.stage_kind) if int(k) == ACTIVE]
        self.src_clv = ColumnDataSource({"stage": act, "now": np.zeros(len(act)), "base": np.zeros(len(act)),
                                         "color": [self.colors[n] for n in act]})
        self._base_segment = None  # the segment whose baseline CLV the source holds
        f = figure(title="CLV of a customer entering each stage (for ever)", x_range=FactorRange(*act),
                   y_range=Range1d(0, 1), width=470, height=300, tools="save", toolbar_location=None)
        f.vbar(x="stage", top="now", width=0.7, source=self.src_clv, color="color", legend_label="your settings")
        f.scatter(x="stage", y="base", source=self.src_clv, marker="dash", size=40, color="black", line_width=3,
                  legend_label="file's baseline")
        f.yaxis.formatter = NumeralTickFormatter(format="0,0")
        f.legend.location = "top_left"
        f.legend.label_text_font_size = "9pt"
        self.f_clv = f

        rows = ["ΔNPV", "your settings", "file's baseline"]
        self.src_npv = ColumnDataSource({"what": rows, "npv": [0.0] * 3, "color": ["#009E73", "#0072B2", "#6E6E6E"],
                                         "label": [""] * 3, "at": [0.0] * 3, "ink": ["white"] * 3})
        f = figure(title="NPV of the plan versus the file's baseline", y_range=rows,
                   x_range=Range1d(0, 1), width=470, height=300, tools="save", toolbar_location=None)
        f.hbar(y="what", right="npv", height=0.6, source=self.src_npv, color="color")
        f.text(x="at", y="what", text="label", source=self.src_npv, x_offset=5, text_baseline="middle",
               text_color="ink", text_font_size="11pt", text_font_style="bold")
        f.xaxis.formatter = NumeralTickFormatter(format="0.0a")
        self.f_npv = f

    def _time_data(self, now, occ) -> dict:
        """Columns of the time figures that change with the settings: survival ``now`` and the
        cumulative stage shares ``c0 .. cS`` (the stacked bands: no stacking for the browser to
        redo)."""
        H, names = self.model.horizon, self.model.stage_names
        shares = np.zeros((H + 1, len(names))) if occ is None else occ[list(names)].to_numpy(dtype=float)
        cum = np.zeros((H + 1, len(names) + 1))
        np.cumsum(shares, axis=1, out=cum[:, 1:])
        data = {"now": np.asarray(now, dtype=float)}
        data.update({f"c{k}": cum[:, k].copy() for k in range(len(names) + 1)})
        return data

    def _fill_controls(self) -> None:
        """(Re)build the sliders of the current strategy and segment, grouped, each with a message line."""
        self.sliders: dict[str, tuple[Control, Slider, Div]] = {}
        children = []
        group = None
        for c in self.ex.controls():
            if c.group != group:
                group = c.group
                children.append(Div(text=f"<b>{_e(group)}</b>", width=330))
            end = max(c.end, c.value)
            s = Slider(title=c.label, start=c.start, end=end, step=c.step, value=c.value, width=320,
                       format="0[.][000]")
            s.on_change("value_throttled", self._guard(self._slider_cb(c)))
            msg = Div(text="", width=320, visible=False, styles={"color": "#B00020", "font-size": "12px"})
            children.append(s)
            if c.note:
                children.append(Div(text=f"<i>{_e(c.note)}</i>", width=320, styles={"font-size": "11px"}))
            children.append(msg)
            self.sliders[c.path] = (c, s, msg)
        self.controls_box.children = children

    # ------------------------------------------------------------- callbacks
    def _run(self, fn, *args) -> None:
        """Run a callback: an unexpected error shows on the page and in the log, never kills the app."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 -- the page must survive anything
            log.error("explorer callback failed:\n%s", traceback.format_exc())
            self.general.text = f"<b>Unexpected error</b> ({_e(type(exc).__name__)}): {_e(exc)}"

    def _guard(self, fn):
        """``fn(attr, old, new)`` wrapped by :meth:`_run` (Bokeh checks the signature)."""
        def on_change(attr, old, new):
            self._run(fn, attr, old, new)
        return on_change

    def _guard_click(self, fn):
        """``fn()`` wrapped by :meth:`_run`, for buttons."""
        def on_click():
            self._run(fn)
        return on_click

    def _slider_cb(self, c: Control):
        def cb(attr, old, new):
            self.ex.set(c.keys, new)
            self.redraw()
        return cb

    def _on_strategy(self, attr, old, new) -> None:
        self.ex.select_strategy(new)
        self._fill_controls()
        self.redraw()

    def _on_segment(self, attr, old, new) -> None:
        self.ex.select_segment(new)
        self._fill_controls()
        self.redraw()

    def _on_stage(self, attr, old, new) -> None:
        self.ex.select_stage(new)
        self.redraw()

    def _on_reset(self) -> None:
        self.ex.reset()
        self._fill_controls()
        self.redraw()

    def _on_save(self) -> None:
        from ..scenario import ScenarioError

        target = Path(self.save_path.value).expanduser()
        try:
            path = self.ex.save(target)
        except ScenarioError as exc:
            self.save_status.text = ("<span style='color:#B00020'>Not written: the settings are invalid.<br>"
                                     + "<br>".join(_e(d) for d in exc.diagnostics) + "</span>")
            return
        except OSError as exc:
            self.save_status.text = f"<span style='color:#B00020'>Cannot write {_e(target)}: {_e(exc)}</span>"
            return
        self.save_status.text = (f"Wrote <code>{_e(path)}</code>. Check it with <code>clmsim validate "
                                 f"{_e(path)}</code>; <code>clmsim run {_e(path)} --strategy explored</code> "
                                 "gives the numbers shown here.")

    # ---------------------------------------------------------------- redraw
    def redraw(self) -> None:
        """Recompute and update the page in one message to the browser (``hold("combine")``)."""
        self.doc.hold("combine")
        try:
            self._redraw()
        finally:
            self.doc.unhold()

    def _redraw(self) -> None:
        self._t0 = time.perf_counter()
        out = self.ex.compute()
        wanted = {} if out["ok"] else {p: "<div class='clmsim-msg'>" + "<br>".join(_e(x) for x in lines) + "</div>"
                                       for p, lines in out["messages"].items()}
        for path, (_, _, msg) in self.sliders.items():  # touch only what changes: each change costs a relayout
            text = wanted.pop(path, "")
            if msg.text != text:
                msg.text, msg.visible = text, bool(text)
        general = "<br>".join(wanted.values())
        if self.general.text != general:
            self.general.text = general
        if not out["ok"]:
            self.headline.text = ("<div id='clv-state' data-ok='0' style='color:#B00020;font-size:16px'>"
                                  "<b>These settings are not a valid scenario</b> (the message beside the slider is "
                                  "what <code>clmsim validate</code> says). The figures still show the last valid "
                                  "settings.</div>" + self._status_html(ok=False))
            return
        self._draw(out)

    def _status_html(self, ok: bool) -> str:
        self.redraws += 1
        ms = (time.perf_counter() - self._t0) * 1000
        return (f"<div style='color:#777;font-size:11px'><span id='redraws' data-n='{self.redraws}' "
                f"data-ok='{int(ok)}'>update {self.redraws}: computed in {ms:.0f} ms on the server</span></div>")

    def _draw(self, out: dict) -> None:
        info, ex, m = out["info"], self.ex, self.model
        per = m.period
        occ = info["cohort"]
        base_surv = self.ex.baseline["survival"]
        nan = np.full(m.horizon + 1, np.nan)
        now = info["survival"][ex.stage].to_numpy(dtype=float) if ex.stage in info["survival"] else nan
        cols = self._time_data(now, occ)
        if self._base_stage != ex.stage:  # the baseline's curve changes only with the stage
            cols["base"] = base_surv[ex.stage].to_numpy(dtype=float) if ex.stage in base_surv else nan
            self._base_stage = ex.stage
        # only the changed columns travel, as JSON lists: one websocket frame (numpy arrays would
        # travel as one binary frame per column, measured slower for these few hundred numbers)
        self.src_time.data.update({k: v.tolist() for k, v in cols.items()})
        self.f_flow.title.text = f"Stage of a customer who joined in {ex.stage}"
        self.f_surv.title.text = f"Survival: chance a customer who joined in {ex.stage} is still active"
        act = list(self.src_clv.data["stage"])
        cols = {"now": out["rows"]["clv_infinite"].reindex(act).to_numpy(dtype=float)}
        if self._base_segment != out["segment_row"]:  # the baseline's bars change only with the segment
            bt = self.ex.baseline["clv"]
            brows = bt[bt["segment"] == out["segment_row"]].set_index("stage")
            cols["base"] = brows["clv_infinite"].reindex(act).to_numpy(dtype=float)
            self._base_segment = out["segment_row"]
        self.src_clv.data.update({k: v.tolist() for k, v in cols.items()})
        _fit(self.f_clv.y_range, [*self.src_clv.data["now"], *self.src_clv.data["base"]])
        seg = "" if m.n_segments == 1 else (" (all segments)" if out["segment_row"] == "all"
                                             else f" (segment {out['segment_row']})")
        self.f_clv.title.text = f"CLV of a customer entering each stage{seg}"
        sign = "+" if out["d_npv"] >= 0 else "−"
        dnpv = f"{sign}{_money(abs(out['d_npv']))}"
        vals = [out["d_npv"], out["npv"], out["npv_baseline"]]
        span = max(max(vals), 0.0) - min(min(vals), 0.0) or 1.0
        inside = [v > 0.35 * span for v in vals]  # a long positive bar holds its label in white
        self.src_npv.data.update({
            "npv": vals, "color": ["#009E73" if out["d_npv"] >= 0 else "#D55E00", "#0072B2", "#6E6E6E"],
            "label": [dnpv, _money(out["npv"]), _money(out["npv_baseline"])],
            "at": [0.0 if i else max(v, 0.0) for v, i in zip(vals, inside)],
            "ink": ["white" if i else "#222222" for i in inside]})
        _fit(self.f_npv.x_range, vals + [max(vals) + 0.3 * span])  # room for labels past a bar
        self.headline.text = (
            f"<div id='clv-state' data-ok='1' style='font-size:16px'>CLV of a customer entering <b>{_e(ex.stage)}</b>"
            f"{_e(seg)}: <b style='font-size:22px'><span id='clv-value'>{out['clv']:,.2f}</span></b> "
            f"<span style='color:#555'>(first margin one {per} after joining; "
            f"{out['clv_entry_margin']:,.2f} with the first margin at joining; {out['clv_horizon']:,.2f} over "
            f"{m.horizon} {per}s)</span> · lifetime {out['lifetime']:,.2f} {per}s, margins paid "
            f"{out['margins_paid']:,.2f} · NPV <span id='npv-value'>{_money(out['npv'])}</span>, "
            f"ΔNPV <span id='dnpv-value'>{dnpv}</span></div>" + self._status_html(ok=True))
        sets = self.ex.editor.set_arguments(self.ex.strategy, self.ex.edits)
        start = "" if self.ex.strategy == "baseline" else f"strategy {self.ex.strategy} + "
        edits = _e(start) + (" ".join(f"--set {_e(s)}" for s in sets) if sets else "as in the file")
        self.words.text = ("<div style='font-size:14px;line-height:1.45;max-width:940px'><b>In plain words</b>"
                           + "".join(f"<p style='margin:6px 0'>{_e(p)}</p>" for p in out["text"])
                           + f"<p style='font-family:monospace;font-size:12px'>Your settings: {edits}"
                           + f"<span id='edits' data-sets='{_e(chr(10).join(sets))}'></span></p></div>")


def _fit(rng: Range1d, values) -> None:
    """Set a numeric range to hold 0 and ``values`` with 8% headroom (set with the data: one message)."""
    vals = [float(v) for v in values if v == v and abs(v) != float("inf")]
    lo, hi = min([0.0, *vals]), max([0.0, *vals])
    pad = 0.08 * (hi - lo or 1.0)
    rng.start, rng.end = (lo - pad if lo < 0 else 0.0), hi + pad


def make_document(scenario: str | Path, out_dir: str | Path | None = None):
    """A Bokeh application handler: ``doc -> None`` filling one tab with a :class:`Page`."""
    def build(doc) -> None:
        Page(doc, scenario, out_dir)
        settle_heap()
    return build


def settle_heap() -> None:
    """Collect, then freeze what lives now (modules, the server, the pages) out of the garbage
    collector's sight (:func:`gc.freeze`): a full collection otherwise walks that whole heap,
    measured at about 0.3 s every 20 or so redraws of the telecom scenario -- the slowest
    redraws' largest share. Garbage of later redraws is still collected."""
    gc.collect()
    gc.freeze()
