"""``clmsim explore SCENARIO``: the interactive lifecycle explorer (a local web app).

Bokeh is imported only when this command runs, so other commands start as fast as before.
"""

from __future__ import annotations

from ..errors import ClmsimError


def _port(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def add_parsers(sub) -> None:
    p = sub.add_parser("explore", help="interactive lifecycle explorer in the browser (for teaching)",
                       description="Start a local web app (127.0.0.1) with sliders for the selected "
                                   "segment's transition probabilities, stage economics, discount rate, "
                                   "programme and channel spend, and live figures computed exactly by the "
                                   "analytic engine. See docs/classroom.md.")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--port", type=_port, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab; print the address only")
    p.add_argument("--out-dir", default=None, metavar="DIR",
                   help="default folder of the 'write scenario YAML' button (default: the current folder)")
    p.set_defaults(func=cmd_explore)


def cmd_explore(args) -> int:
    try:
        from ..explore.server import serve
    except ModuleNotFoundError as exc:  # bokeh missing from a partial installation
        raise ClmsimError(f"clmsim explore needs {exc.name}: pip install 'bokeh>=3.4'") from None
    serve(args.file, port=args.port or None, open_browser=not args.no_browser, out_dir=args.out_dir)
    return 0
