"""``rustrnn demo NAME``: the demonstrations of :mod:`rustrnn.demos`."""

from __future__ import annotations

import argparse
import importlib

DEMOS = ("sentiment", "generate", "forecast", "g2p", "layers")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train on built-in data and show the held-out results",
                       description="Train on built-in data with sensible defaults and show the held-out results.")
    demo_sub = p.add_subparsers(dest="demo", required=True, metavar="{" + ",".join(DEMOS) + "}")
    for name in DEMOS:
        module = importlib.import_module(f"rustrnn.demos.{name}")
        d = demo_sub.add_parser(name, help=module.HELP, description=module.__doc__.splitlines()[0])
        module.add_arguments(d)
        d.set_defaults(run=module.main)
