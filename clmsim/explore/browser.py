"""Drive the explorer in headless Chromium (Playwright): used by the browser test and the
latency benchmark (``benchmarks/explorer_latency.py``). Needs the ``playwright`` package
and a Chromium binary (Debian: ``/usr/bin/chromium``); no browser is downloaded.

Redraw latency is measured *in the browser*: from the ``keydown`` event that moves a
slider to the second animation frame after the last document change the server sent
(by then the canvases of the updated figures have been painted).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

PROBE = """() => {
  if (window.__clmsim_probe) return true;
  const doc = Bokeh.documents[0];
  if (!doc) return false;
  window.__clmsim_probe = true;
  window.__t0 = null; window.__painted = null;
  document.addEventListener('keydown', () => { window.__t0 = performance.now(); window.__painted = null; }, true);
  doc.on_change(() => {
    requestAnimationFrame(() => requestAnimationFrame(() => { window.__painted = performance.now(); }));
  });
  return true;
}"""


def chromium_path() -> str | None:
    """The Chromium binary to drive (``CLMSIM_CHROMIUM`` or Debian's), or None."""
    for cand in (os.environ.get("CLMSIM_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return cand
    return None


@contextmanager
def running_explorer(scenario: str | Path, out_dir: str | Path | None = None, timeout: float = 60.0):
    """Run ``clmsim explore SCENARIO --no-browser`` in a subprocess; yields its URL, then stops it."""
    cmd = [sys.executable, "-m", "clmsim", "explore", str(scenario), "--no-browser"]
    if out_dir is not None:
        cmd += ["--out-dir", str(out_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + timeout
        lines = []
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"clmsim explore exited ({proc.poll()}):\n{''.join(lines)}")
            lines.append(line)
            if "clmsim explore: http" in line:
                url = line.split()[2]
            if time.monotonic() > deadline:
                raise RuntimeError("clmsim explore did not start in time:\n" + "".join(lines))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def browser_page(width: int = 1400, height: int = 1100):
    """A Playwright page in headless Chromium (``executable_path``: no browser download)."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("no Chromium found (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def open_explorer(page, url: str, timeout_ms: int = 60000) -> None:
    """Load the explorer and wait for its first figures; install the latency probe."""
    page.goto(url)
    page.wait_for_selector("#clv-value", timeout=timeout_ms)
    page.wait_for_function(PROBE, timeout=timeout_ms)


def redraw_count(page) -> int:
    return int(page.locator("#redraws").get_attribute("data-n"))


def press_slider(page, index: int, key: str = "ArrowRight", timeout_ms: int = 30000) -> float:
    """Press ``key`` on the ``index``-th slider handle, wait for the redraw; returns the latency in ms
    (keydown -> painted frame after the update)."""
    before = redraw_count(page)
    handle = page.locator(".noUi-handle").nth(index)
    handle.focus()
    handle.press(key)
    deadline = time.monotonic() + timeout_ms / 1000
    while redraw_count(page) == before:
        if time.monotonic() > deadline:
            raise TimeoutError("the explorer did not redraw")
        time.sleep(0.01)
    page.wait_for_function("() => window.__painted !== null && window.__t0 !== null", timeout=timeout_ms)
    time.sleep(0.05)  # later patches of the same update, if any, move __painted on
    return float(page.evaluate("() => window.__painted - window.__t0"))


def current_sets(page) -> list[str]:
    """The ``--set PATH=VALUE`` arguments the page reports for the current settings."""
    text = page.locator("#edits").get_attribute("data-sets") or ""
    return [s for s in text.split("\n") if s]
