"""Start the explorer: a Bokeh server on 127.0.0.1 serving one scenario.

Bokeh's server serves BokehJS and every other asset from its own ``/static`` route
(resources mode ``server``), so the page works without internet access.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from ..errors import ClmsimError

ADDRESS = "127.0.0.1"


def free_port(address: str = ADDRESS) -> int:
    """A port the OS reports free on ``address`` (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def make_server(scenario: str | Path, port: int | None = None, out_dir: str | Path | None = None):
    """A started-but-not-running Bokeh :class:`~bokeh.server.server.Server` for ``scenario``.

    The scenario is loaded (and validated) once here so a bad file fails before any browser opens.
    """
    from bokeh.application import Application
    from bokeh.application.handlers.function import FunctionHandler
    from bokeh.server.server import Server

    from .state import Explorer

    Explorer(scenario)  # raises ScenarioError for a bad file: reported by the CLI, exit 2
    port = free_port() if not port else int(port)
    origins = [f"{ADDRESS}:{port}", f"localhost:{port}"]
    from .app import make_document

    app = Application(FunctionHandler(make_document(scenario, out_dir)))
    try:
        server = Server({"/": app}, address=ADDRESS, port=port, allow_websocket_origin=origins,
                        num_procs=1, check_unused_sessions_milliseconds=5000,
                        unused_session_lifetime_milliseconds=15000)
    except OSError as exc:
        raise ClmsimError(f"cannot listen on {ADDRESS}:{port}: {exc.strerror or exc}") from None
    server.start()
    return server


def serve(scenario: str | Path, port: int | None = None, open_browser: bool = True,
          out_dir: str | Path | None = None) -> None:
    """Serve the explorer until interrupted (Ctrl-C)."""
    server = make_server(scenario, port, out_dir)
    url = f"http://{ADDRESS}:{server.port}/"
    print(f"clmsim explore: {url}  (Ctrl-C stops it)", flush=True)
    if open_browser:
        server.io_loop.add_callback(server.show, "/")
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        print("clmsim explore: stopped", file=sys.stderr)
    finally:
        server.stop()
