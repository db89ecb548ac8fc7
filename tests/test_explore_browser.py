"""``clmsim explore`` in a real browser: headless Debian Chromium driven by Playwright.

Starts the command on a bundled scenario, moves a slider with the keyboard and checks the
displayed CLV against the analytic engine for the new setting; pushes a row above 1 and
checks validate's message appears beside the slider (and the app recovers); writes the
settings as YAML and validates it; every request stays on 127.0.0.1. A screenshot for
humans goes to results/screenshots/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clmsim.api import explain
from clmsim.cli import main
from clmsim.explore.browser import (browser_page, chromium_path, current_sets, open_explorer, press_slider,
                                    running_explorer)

ROOT = Path(__file__).resolve().parent.parent
TEXTBOOK = ROOT / "scenarios" / "textbook.yaml"
SHOTS = ROOT / "results" / "screenshots"

pytestmark = [
    pytest.mark.skipif(chromium_path() is None, reason="no Chromium at /usr/bin/chromium (Debian: apt-get install "
                                                        "chromium; .ci/run installs it when CI=true)"),
]
playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                                "(pip install -e '.[test]')")


def expected_clv(sets: list[str], stage: str = "exploration") -> str:
    info = explain(TEXTBOOK, overrides=sets, cohort_stage=stage)
    row = info["clv"].set_index(["segment", "stage"]).loc[("all", stage)]
    return f"{row['clv_infinite']:,.2f}"


def test_explorer_in_chromium_slider_moves_clv_to_the_analytic_value(tmp_path, capsys):
    with running_explorer(TEXTBOOK, out_dir=tmp_path) as url, browser_page() as page:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        open_explorer(page, url)
        assert page.locator("#clv-value").inner_text() == expected_clv([])

        # the first slider is exploration -> formation (0.40, step 0.005)
        latency = [press_slider(page, 0, "ArrowRight") for _ in range(2)]
        sets = current_sets(page)
        assert sets == ["transitions.exploration.formation=0.41"]
        assert page.locator("#clv-value").inner_text() == expected_clv(sets)

        # to the end of the slider: 1.0 + 0.1 > 1 -> validate's message beside the slider, no crash
        press_slider(page, 0, "End")
        assert page.locator("#clv-state").get_attribute("data-ok") == "0"
        assert main(["validate", str(TEXTBOOK), "--set", "transitions.exploration.formation=1"]) == 2
        message = capsys.readouterr().err.splitlines()[0]
        shown = page.locator(".clmsim-msg").filter(has_text="transition probabilities sum to")
        assert shown.count() >= 1 and message in shown.first.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "explore_invalid_row.png"), full_page=True)

        # back to a valid row: the message goes, the CLV follows the engine again
        press_slider(page, 0, "Home")
        press_slider(page, 0, "ArrowRight")
        sets = current_sets(page)
        assert sets == ["transitions.exploration.formation=0.005"]
        assert page.locator("#clv-state").get_attribute("data-ok") == "1"
        assert page.locator(".clmsim-msg").filter(has_text="sum to").count() == 0
        assert page.locator("#clv-value").inner_text() == expected_clv(sets)
        page.screenshot(path=str(SHOTS / "explore_textbook.png"), full_page=True)

        # the button writes YAML that validate accepts, reproducing the numbers shown
        page.get_by_role("button", name="Write scenario YAML").click()
        saved = tmp_path / "textbook_explored.yaml"
        for _ in range(200):
            if saved.exists():
                break
            page.wait_for_timeout(50)
        assert main(["validate", str(saved)]) == 0
        assert capsys.readouterr().out.rstrip().endswith("valid")

        host = url.rstrip("/")
        assert requests and all(r.startswith(host) or r.startswith(host.replace("127.0.0.1", "localhost"))
                                for r in requests), [r for r in requests if not r.startswith(host)]
    print(f"redraw latency (keydown -> painted frame): {', '.join(f'{x:.0f}' for x in latency)} ms; "
          f"screenshots in {SHOTS}")
