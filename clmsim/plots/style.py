"""Readable defaults for every clmsim figure.

* A colour-blind-safe palette (Okabe & Ito 2008, "Color Universal Design"):
  eight colours distinguishable under the common colour-vision deficiencies.
* Currency and count tick formatters (``1.2M``, ``-350k``) so axes stay short.
* CJK fonts: stage names may be Chinese; :func:`ensure_cjk_font` picks an
  installed CJK font through :mod:`matplotlib.font_manager` the first time a
  label needs one (rescanning the system fonts once when matplotlib's cached list has
  none: a font installed after the cache was built), and warns once when none is
  installed; matplotlib's per-character "Glyph ... missing" warnings are then silenced. Nothing happens at
  import time: no rcParams are changed globally, the style is applied inside
  :func:`style_context` only.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.ticker import FuncFormatter

from ..textable import human

OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
"""The Okabe-Ito palette, most distinct colours first (yellow last: low contrast on white)."""

NEUTRAL = "#6E6E6E"
"""Grey for reference lines (zero, break-even, analytic overlays use black)."""

CJK_FONT_CANDIDATES = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans CJK KR",
    "Noto Serif CJK SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN",
    "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Hiragino Sans GB", "Arial Unicode MS",
)
"""Font families tried in order when a label contains CJK characters."""

RC = {
    "figure.figsize": (8.0, 4.5),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "text.parse_math": False,  # labels are names from the scenario: '$x$' is shown as written
}
"""rcParams applied by :func:`style_context`."""

_cjk_state: dict[str, object] = {"checked": False, "font": None, "warned": False, "rescanned": False}


def color(i: int) -> str:
    """The ``i``-th palette colour (cycles)."""
    return OKABE_ITO[i % len(OKABE_ITO)]


def colors_for(names: Iterable[str]) -> dict[str, str]:
    """A stable colour per name, in order of first appearance."""
    return {n: color(i) for i, n in enumerate(dict.fromkeys(names))}


KIND_COLORS = {"prospect": "#CFCFCF", "churned": "#D55E00", "lost": "#9A9A9A"}
"""Fixed colours of non-active stage kinds (active stages take the palette in order)."""


def stage_colors(names: Iterable[str], kinds: Iterable[str] | None = None) -> dict[str, str]:
    """One colour per stage, stable across figures: active stages take blue, orange, green,
    purple, sky blue... in order; churned stages vermillion, lost grey, prospects light grey.

    Parameters
    ----------
    names : iterable of str
        All stage names in scenario order.
    kinds : iterable of str, optional
        ``"prospect"``, ``"active"``, ``"churned"`` or ``"lost"`` per stage (default: all active).
    """
    names = list(names)
    kinds = list(kinds) if kinds is not None else ["active"] * len(names)
    active_palette = [c for c in OKABE_ITO if c not in ("#D55E00", "#F0E442")]
    out, k = {}, 0
    for n, kind in zip(names, kinds):
        if kind in KIND_COLORS:
            out[n] = KIND_COLORS[kind]
        else:
            out[n] = active_palette[k % len(active_palette)]
            k += 1
    return out


# ------------------------------------------------------------------ numbers
def money(x: float, currency: str = "", digits: int = 3) -> str:
    """Currency amount with k/M/B suffix and an optional symbol: ``money(-2.5e6, '¥') -> '-¥2.5M'``."""
    s = human(x, digits)
    if not currency or s == "n/a":
        return s
    return f"-{currency}{s[1:]}" if s.startswith("-") else f"{currency}{s}"


def money_formatter(currency: str = "") -> FuncFormatter:
    """Tick formatter for currency axes (see :func:`money`)."""
    return FuncFormatter(lambda x, _pos: money(x, currency))


def count_formatter() -> FuncFormatter:
    """Tick formatter for customer counts (``120k``)."""
    return FuncFormatter(lambda x, _pos: human(x))


def percent_formatter(digits: int = 0) -> FuncFormatter:
    """Tick formatter for shares in [0, 1] shown as percentages."""
    return FuncFormatter(lambda x, _pos: f"{x:.{digits}%}")


# ------------------------------------------------------------------ fonts
def has_cjk(text: str) -> bool:
    """True if ``text`` contains CJK ideographs, kana, hangul or CJK punctuation."""
    for ch in str(text):
        o = ord(ch)
        if (0x2E80 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF
                or 0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x2FA1F):
            return True
    return False


def _cjk_family(families: Iterable[str]) -> str | None:
    """The preferred CJK family among ``families`` (:data:`CJK_FONT_CANDIDATES` first, then any
    family whose name says CJK/Han/Hei/Song/Ming/Gothic)."""
    installed = set(families)
    for name in CJK_FONT_CANDIDATES:
        if name in installed:
            return name
    for name in sorted(installed):
        low = name.lower()
        if any(k in low for k in ("cjk", "han sans", "han serif", "hei", "song", "ming", "gothic")):
            return name
    return None


def _add_new_system_fonts() -> int:
    """Add to matplotlib's font list the system fonts installed after it built its cache.

    matplotlib scans the system fonts once and caches the list (``fontlist-*.json`` in
    its cache directory), so a font installed later stays invisible. This adds every
    font file :func:`matplotlib.font_manager.findSystemFonts` finds that the list lacks
    (public ``FontManager.addfont``) and rewrites the cache so the next process sees them
    at once. Returns the number of files added.
    """
    fm = font_manager.fontManager
    known = {f.fname for f in fm.ttflist}
    added = 0
    for path in font_manager.findSystemFonts():
        if path in known:
            continue
        try:
            fm.addfont(path)
            added += 1
        except (OSError, RuntimeError, ValueError):  # unreadable or not a font: skip it
            continue
    if added:
        cache = Path(mpl.get_cachedir(), f"fontlist-v{font_manager.FontManager.__version__}.json")
        try:
            font_manager.json_dump(fm, cache)
        except OSError:  # a read-only cache directory: this process still sees the fonts
            pass
    return added


def find_cjk_font(rescan: bool = True) -> str | None:
    """Family name of an installed CJK font, or None.

    Searches matplotlib's font list (:data:`CJK_FONT_CANDIDATES`, then any family whose
    name says CJK/Han/Hei/Song/Ming). When none is there and ``rescan``, the system
    fonts are rescanned once per process (a font installed after matplotlib built its
    cache, e.g. ``apt-get install fonts-wqy-microhei``) and the search repeated.
    """
    font = _cjk_family(f.name for f in font_manager.fontManager.ttflist)
    if font is None and rescan and not _cjk_state["rescanned"]:
        _cjk_state["rescanned"] = True
        if _add_new_system_fonts():
            font = _cjk_family(f.name for f in font_manager.fontManager.ttflist)
    return font


def ensure_cjk_font(labels: Iterable[str] = ()) -> str | None:
    """Make CJK labels render: when any label contains CJK characters, return the family
    to put first in ``font.sans-serif``; warn once per process if no CJK font is installed.

    Called by the plotting functions with their labels (never at import time).
    """
    if not any(has_cjk(s) for s in labels):
        return None
    if not _cjk_state["checked"]:
        _cjk_state["checked"] = True
        _cjk_state["font"] = find_cjk_font()
    font = _cjk_state["font"]
    if font is None and not _cjk_state["warned"]:
        _cjk_state["warned"] = True
        warnings.warn(CJK_WARNING, stacklevel=4)  # the clmsim plot function that drew the label
    return font  # type: ignore[return-value]


CJK_WARNING = ("labels contain Chinese/Japanese/Korean text but no CJK font is installed; they will show "
               "as boxes. Install one (e.g. Debian: apt-get install fonts-wqy-microhei, or fonts-noto-cjk); "
               "clmsim finds it in the next run.")
"""The one warning of a process that draws CJK labels without a CJK font."""

def _no_bold_cjk(record: logging.LogRecord) -> bool:
    """Drop matplotlib's "Failed to find font weight bold for <CJK font>" (most CJK fonts have one
    weight; bold titles then use the regular face, which is what we want)."""
    msg = str(record.msg)
    return not (msg.startswith("findfont: Failed to find font weight") and _cjk_state["font"] is not None
                and str(_cjk_state["font"]) in str(record.args or "") + msg)


GLYPH_MISSING_CJK = r"Glyph \d+ \(\\N\{(CJK|HIRAGANA|KATAKANA|HANGUL|FULLWIDTH|HALFWIDTH|IDEOGRAPHIC)"
"""matplotlib's per-character warning for a CJK glyph (silenced once clmsim has warned)."""


def use_cjk_font() -> str | None:
    """Let every later figure of this process show Chinese/Japanese/Korean text (opt-in).

    The plot functions handle CJK labels themselves, but text that matplotlib lays out later
    -- tick labels of an ``ax`` you created, titles you set, a notebook's inline display --
    uses the global font settings. Call this once (e.g. at the top of a notebook with Chinese
    stage names): it appends the CJK family found by :func:`find_cjk_font` to
    ``rcParams["font.family"]`` (Latin text keeps its font; CJK glyphs fall back to it) and
    returns the family. Without a CJK font it warns once and silences matplotlib's
    per-character "Glyph ... missing" warnings for CJK text instead. Changes process-wide
    settings by design; nothing else in clmsim does.
    """
    font = ensure_cjk_font(["\u4e2d"])
    if font is None:
        warnings.filterwarnings("ignore", message=GLYPH_MISSING_CJK, category=UserWarning)
        return None
    family = mpl.rcParams["font.family"]
    family = [family] if isinstance(family, str) else list(family)
    if font not in family:
        mpl.rcParams["font.family"] = family + [font]
    logging.getLogger("matplotlib.font_manager").addFilter(_no_bold_cjk)  # bold titles: regular CJK face
    return font


@contextmanager
def style_context(labels: Iterable[str] = ()) -> Iterator[None]:
    """Apply :data:`RC` (and a CJK font when ``labels`` need one) inside a ``with`` block.

    Draw (and preferably save) inside the block: tick labels are laid out at draw time.
    """
    rc = dict(RC)
    font = ensure_cjk_font(labels)
    if font:
        # a family list gives per-glyph fallback (matplotlib >= 3.6): Latin text keeps the
        # default face, CJK glyphs come from ``font``; stored on each Text, so it holds at save time
        rc["font.family"] = ["DejaVu Sans", font]
    fm_log = logging.getLogger("matplotlib.font_manager")
    with warnings.catch_warnings(), mpl.rc_context(rc):
        if _cjk_state["warned"]:  # the user was told once: no "Glyph ... missing" per character
            warnings.filterwarnings("ignore", message=GLYPH_MISSING_CJK, category=UserWarning)
        fm_log.addFilter(_no_bold_cjk)
        try:
            yield
        finally:
            fm_log.removeFilter(_no_bold_cjk)


def new_axes(ax=None, figsize: tuple[float, float] | None = None):
    """Return ``ax`` or a fresh Axes on a new Figure (created with the object API, not pyplot,
    so no global figure manager is touched and nothing needs closing)."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize or mpl.rcParams["figure.figsize"], layout="constrained")
    return fig.add_subplot()
