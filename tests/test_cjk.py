"""Chinese names everywhere: terminal tables align by display width in every command (checked
against ``compare``'s table), plots find a CJK font installed after matplotlib built its cache,
and without one clmsim warns once -- no flood of matplotlib's "Glyph ... missing" warnings."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from clmsim import api
from clmsim.cli import main
from clmsim.plots import style
from clmsim.textable import display_width, format_table, pad

ROOT = Path(__file__).resolve().parent.parent
ZH = str(ROOT / "scenarios" / "textbook_zh.yaml")


def cells(line: str) -> list[str]:
    """One entry per terminal column (a wide character fills two: itself and '')."""
    out: list[str] = []
    for ch in line:
        out.append(ch)
        out.extend([""] * (display_width(ch) - 1))
    return out


def column_spans(rule: str) -> list[tuple[int, int]]:
    """Column extents ``[a, b)`` from a table's rule line ``-----  ----``."""
    spans, start = [], None
    for i, ch in enumerate(rule + " "):
        if ch == "-" and start is None:
            start = i
        elif ch != "-" and start is not None:
            spans.append((start, i))
            start = None
    return spans


def assert_aligned(table: str) -> None:
    """Every row's text (header included) lies inside the columns of the rule line and the gaps
    between columns stay blank: a cell padded by ``len`` instead of display width shifts the
    rest of its row to the right, into a gap or past the table."""
    lines = table.splitlines()
    k = next(i for i, ln in enumerate(lines) if set(ln.strip()) == {"-", " "})
    rule = lines[k]
    spans = column_spans(rule)
    inside = set()
    for a, b in spans:
        inside.update(range(a, b))
    for line in lines[k - 1:k] + lines[k + 1:]:
        c = cells(line)
        assert len(c) <= spans[-1][1], f"row runs past the table: {line!r}"
        for i, ch in enumerate(c):
            if i not in inside:
                assert ch == " ", f"text in the gap at column {i}: {line!r}"


def table_after(out: str, header_start: str, rows: int) -> str:
    """The table of ``rows`` rows whose header line starts with ``header_start``."""
    lines = out.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith(header_start))
    return "\n".join(lines[i:i + 2 + rows])


def test_pad_and_display_width_count_chinese_as_two_columns():
    assert display_width("考察期") == 6 and display_width("abc") == 3 and display_width("e\u0301") == 1
    assert pad("考察期", 8) == "考察期  " and pad("1.5", 5, right=True) == "  1.5"
    table = format_table([{"stage": "考察期", "n": 1.0}, {"stage": "exploration", "n": 22.0}])
    assert_aligned(table)


def test_compare_run_explain_and_validate_align_chinese_names_like_compare(capsys):
    # compare's table (textable.format_table) is the reference alignment; run and explain
    # print their own tables and must line up the same way
    assert main(["compare", ZH, "--engine", "analytic"]) == 0
    compare = capsys.readouterr().out
    ref = table_after(compare, "strategy", 5)
    assert_aligned(ref)
    assert main(["run", ZH]) == 0
    run = table_after(capsys.readouterr().out, "strategy", 5)
    assert_aligned(run)
    # the strategy column has the same display width in both tables
    assert column_spans(ref.splitlines()[1])[0] == column_spans(run.splitlines()[1])[0]
    names = [ln.split()[0] for ln in run.splitlines()[2:]]
    assert "获客转保留" in names and "不做保留投入" in names
    assert main(["explain", ZH]) == 0
    explain = capsys.readouterr().out
    assert_aligned(table_after(explain, "stage   kind", 5))
    assert "考察期" in explain
    assert main(["validate", ZH]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if " active " in ln or " lost " in ln]
    kind_columns = {len(cells(ln[: ln.index(" active ") if " active " in ln else ln.index(" lost ")]))
                    for ln in lines}
    assert len(kind_columns) == 1, lines  # every stage's kind starts in the same terminal column


# ----------------------------------------------------------------------------- fonts
def _cjk_font_files() -> list[str]:
    if shutil.which("fc-list") is None:
        return []
    out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True).stdout
    return [ln.split(":")[0].strip() for ln in out.splitlines() if ln.strip()]


@pytest.fixture
def fresh_font_state(monkeypatch, tmp_path):
    """A clean process-wide CJK state; matplotlib's cache writes go to ``tmp_path``."""
    monkeypatch.setattr(style, "_cjk_state", {"checked": False, "font": None, "warned": False, "rescanned": False})
    monkeypatch.setattr(style.mpl, "get_cachedir", lambda: str(tmp_path))
    return tmp_path


def test_cjk_font_installed_after_matplotlib_built_its_cache_is_found(fresh_font_state, monkeypatch):
    files = _cjk_font_files()
    if not files:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-wqy-microhei; .ci/run installs it)")
    fm = style.font_manager.fontManager
    # the cached font list as it was before the font was installed: no CJK family in it
    stale = [f for f in fm.ttflist if f.fname not in files and style._cjk_family([f.name]) is None]
    monkeypatch.setattr(fm, "ttflist", stale)
    font = style.find_cjk_font()
    assert font is not None and style._cjk_family([font]) == font
    assert list(fresh_font_state.glob("fontlist-*.json")), "the rescanned list is cached for the next run"
    assert style.find_cjk_font() == font  # rescans once per process, then reads the list


def test_without_a_cjk_font_clmsim_warns_once_and_matplotlib_not_per_glyph(fresh_font_state, monkeypatch, tmp_path):
    monkeypatch.setattr(style, "find_cjk_font", lambda rescan=True: None)
    res = api.simulate(ZH, engine="analytic", overrides=["time.horizon=6"])
    res.to_parquet(tmp_path / "zh")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["report", str(tmp_path / "zh")]) == 0
        assert main(["report", str(tmp_path / "zh")]) == 0  # a second report in the same process
    texts = [str(w.message) for w in caught]
    assert sum("no CJK font is installed" in t for t in texts) == 1, texts
    assert [t for t in texts if "Glyph" in t] == []


def test_use_cjk_font_appends_the_family_for_later_figures(fresh_font_state, monkeypatch):
    monkeypatch.setattr(style, "find_cjk_font", lambda rescan=True: "Some CJK Sans")
    with style.mpl.rc_context({"font.family": ["sans-serif"]}):
        assert style.use_cjk_font() == "Some CJK Sans"
        assert list(style.mpl.rcParams["font.family"]) == ["sans-serif", "Some CJK Sans"]
        style.use_cjk_font()  # idempotent
        assert list(style.mpl.rcParams["font.family"]) == ["sans-serif", "Some CJK Sans"]


def test_use_cjk_font_without_a_font_warns_once_and_no_glyph_flood(fresh_font_state, monkeypatch):
    monkeypatch.setattr(style, "find_cjk_font", lambda rescan=True: None)
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert style.use_cjk_font() is None
        assert style.use_cjk_font() is None
        fig = Figure()
        FigureCanvasAgg(fig)
        fig.add_subplot().set_title("考察期 形成期")
        fig.canvas.draw()
    texts = [str(w.message) for w in caught]
    assert sum("no CJK font is installed" in t for t in texts) == 1 and not [t for t in texts if "Glyph" in t]
