"""``python -m bot``: the shopbot command line."""

from __future__ import annotations

from bot.cli import cli

if __name__ == "__main__":
    cli(prog_name="shopbot")
