"""Shared by the benchmarks that time this checkout against another one (``--against TREE``):
the command line and the order of the trees, alternating round by round so that neither tree
always runs on the warmer or the quieter machine."""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse(doc: str, rounds: int) -> tuple[argparse.Namespace, dict[str, str]]:
    """``--rounds`` and ``--against`` for a benchmark described by ``doc``; the trees to time,
    ``{"new": this checkout, "old": TREE}`` (no ``old`` without ``--against``)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=rounds, help=f"rounds (default {rounds})")
    ap.add_argument("--against", metavar="TREE", help="another checkout, timed interleaved")
    args = ap.parse_args()
    trees = {"new": str(ROOT)}
    if args.against:
        trees["old"] = str(Path(args.against).resolve())
    return args, trees


def in_turn(trees: dict[str, str], r: int) -> list[tuple[str, str]]:
    """The trees of round ``r``, the order reversed every other round."""
    items = list(trees.items())
    return items if r % 2 == 0 else items[::-1]
