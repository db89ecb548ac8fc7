"""The HTML report: parses, embeds every image, references nothing external; files beside it;
and (when Chromium is installed) renders to a non-blank screenshot."""

import matplotlib

matplotlib.use("Agg")

import base64  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from html.parser import HTMLParser  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from plotdata import make_results  # noqa: E402

from clmsim.errors import ClmsimError  # noqa: E402
from clmsim.report import Headline, Report, ReportTable, report_from_results, write_report  # noqa: E402
from clmsim.report.html import format_pm  # noqa: E402
from clmsim.scenario import scenario_from_text  # noqa: E402

SCENARIO = """
schema_version: 1
name: tiny
time: {period: month, horizon: 12, discount_rate: 0.1}
stages:
  new:   {kind: active, revenue: 20, margin: 0.5, cost_to_serve: 2}
  loyal: {kind: active, revenue: 40, margin: 0.6, cost_to_serve: 1}
  churned: {kind: churned}
  lost:  {kind: lost}
transitions:
  new: {loyal: 0.2, churned: 0.1}
  loyal: {churned: 0.05}
  churned: {lost: 0.5}
initial_population: {new: 100, loyal: 50}
"""


class Collector(HTMLParser):
    """Every tag with its attributes, plus the text."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Collector:
    c = Collector()
    c.feed(path.read_text(encoding="utf-8"))
    c.close()
    return c


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rep = report_from_results(make_results(), scenario_from_text(SCENARIO))
    return rep, write_report(rep, out)


def test_report_is_self_contained_html_with_every_image_embedded(written):
    rep, path = written
    doc = parse(path)
    imgs = [a for t, a in doc.tags if t == "img"]
    assert len(imgs) == len(rep.figures) >= 5
    for a in imgs:
        assert a["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(a["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.get("alt")
    html = path.read_text(encoding="utf-8")
    assert "http:" not in html and "https:" not in html and "://" not in html and "file:" not in html
    for tag, attrs in doc.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed")
        for k, v in attrs.items():
            if k in ("src", "href", "srcset", "poster", "data"):
                assert v.startswith("data:"), f"<{tag} {k}={v[:40]}> references a file"
    assert "url(" not in html  # no CSS fetches


def test_report_files_beside_html(written):
    rep, path = written
    for f in rep.figures:
        assert (path.parent / f"{f.key}.png").read_bytes()[:4] == b"\x89PNG"
        if f.data is not None:
            assert len(pd.read_csv(path.parent / f"{f.key}.csv"))
    table = pd.read_csv(path.parent / "strategies.csv")
    assert list(table["strategy"]) == ["baseline", "save_more", "cut"]


def test_report_order_headlines_first_then_figures_then_scenario_and_provenance(written):
    _, path = written
    html = path.read_text(encoding="utf-8")
    pos = [html.index(s) for s in ('id="headline"', 'id="strategies"', 'id="figures"', 'id="scenario"',
                                   'id="provenance"')]
    assert pos == sorted(pos)
    text = " ".join(parse(path).text)
    assert text.count("How to read this:") == html.count("<figure>")
    assert "\u00b1" in text and "abc123" in text  # a half-width and the scenario hash


def test_headline_npv_is_mean_over_runs_with_t_half_width():
    res = make_results()
    rep = report_from_results(res)
    h = next(h for h in rep.headlines if h.label == "NPV of baseline")
    npv = res.runs[res.runs["strategy"] == "baseline"]["npv"]
    from scipy import stats

    assert h.value == pytest.approx(npv.mean())
    assert h.half_width == pytest.approx(stats.t.ppf(0.975, len(npv) - 1) * npv.std(ddof=1) / np.sqrt(len(npv)))
    best = rep.headlines[0]
    assert best.label.startswith("What to do: switch to cut")  # cut adds 100 per run, save_more 50


def test_a_plan_without_acquisitions_says_so_instead_of_blaming_the_engine():
    """Monte Carlo runs whose CLV per acquired customer is undefined (nobody is acquired): the
    headline and the list of what is missing name the reason, not a missing Monte Carlo engine."""
    res = make_results()
    res.clv_hist = pd.DataFrame()
    res.runs["clv_acquired"] = np.nan
    rep = report_from_results(res)
    h = next(h for h in rep.headlines if h.label.startswith("CLV per acquired customer"))
    assert np.isnan(h.value) and h.note == "baseline acquires no customers"
    clv = [m for m in rep.missing if "CLV distribution" in m]
    assert clv and all("acquires no customers" in m and "Monte Carlo engine" not in m for m in clv)


def test_analytic_results_report_exact_and_say_what_is_missing(tmp_path):
    rep = report_from_results(make_results(mc=False))
    assert all(h.exact for h in rep.headlines)
    assert any("CLV distribution" in m for m in rep.missing)
    assert any("scenario file was not found" in m for m in rep.missing)
    path = write_report(rep, tmp_path)
    text = " ".join(parse(path).text)
    assert "Not in this report:" in text and "exact" in text


def test_format_pm_uses_one_unit_for_value_and_half_width():
    assert format_pm(Headline("npv", 169.7e6, 2.4e5)) == ("169.70M", "\u00b1 0.24M")
    assert format_pm(Headline("roi", 0.25, 0.031, "percent")) == ("25.0%", "\u00b1 3.1%")
    assert format_pm(Headline("npv", 5.0, None, exact=True))[1] == "exact"


def test_duplicate_keys_and_unwritable_dir_are_clear_errors(tmp_path):
    t = ReportTable("x", "X", pd.DataFrame({"a": [1]}))
    with pytest.raises(ClmsimError, match="duplicate report keys: x"):
        write_report(Report("t", tables=[t, t]), tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ClmsimError, match="cannot create report directory"):
        write_report(Report("t"), blocker / "sub")


def test_text_is_escaped(tmp_path):
    rep = Report("<script>alert(1)</script>", tables=[ReportTable("t", "T", pd.DataFrame({"a": ["<b>"]}))])
    html = write_report(rep, tmp_path).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium); "
                                              ".ci/run installs it when CI=true")
def test_report_renders_in_headless_chromium_not_blank(written, tmp_path):
    from PIL import Image

    _, path = written
    shot = tmp_path / "shot.png"
    profile = tempfile.mkdtemp()
    try:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        f"--user-data-dir={profile}", "--window-size=1200,2400", "--hide-scrollbars",
                        f"--screenshot={shot}", path.resolve().as_uri()],
                       check=True, capture_output=True, timeout=90, env={**os.environ, "HOME": profile})
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (2400, 1200)
    dark = (img < 128).mean()  # text, axes and plot ink
    assert img.std() > 20 and 0.01 < dark < 0.6, (img.std(), dark)
    # the figures are drawn: rows far down the page are not blank either
    assert img[1200:].std() > 10
