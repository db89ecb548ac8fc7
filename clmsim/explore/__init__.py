"""``clmsim explore``: an interactive lifecycle explorer in the browser, for the classroom.

:mod:`.state` holds the session (controls, edits, validation, exact numbers from the
analytic engine) without any web library; :mod:`.app` draws it with Bokeh (a local Bokeh
server: every asset is served by the app itself, nothing is fetched from the internet);
:mod:`.server` starts the server. Bokeh is imported only here, so no other command pays
for it. See docs/classroom.md.
"""

from __future__ import annotations

__all__ = ["Explorer", "serve"]


def __getattr__(name: str):
    if name == "Explorer":
        from .state import Explorer

        return Explorer
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(name)
