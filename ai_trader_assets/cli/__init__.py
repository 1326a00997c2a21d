"""The ``ai-trader`` command line (``main.app``)."""

from ai_trader_assets.cli.main import app, main

__all__ = ["app", "main"]
