"""Rasa's command line, with the HTTP API's token taken from the environment, never from the command line.

`rasa run --enable-api --auth-token <token>` shows the token to everyone on the machine who lists the
processes (`ps`, /proc/<pid>/cmdline). `bot.servers` runs ``python -m bot.rasa_server run ... --enable-api``
instead, with $SHOPBOT_API_TOKEN in the environment: this adds ``--auth-token`` to the arguments Rasa's
own parser reads inside the process (`sys.argv`, which /proc does not show), then runs Rasa's CLI with our
patches to Rasa in place (`bot.rasa_patches`: the model loads in seconds, not a minute). `shopbot chat` runs
its `shell` command the same way.
"""

from __future__ import annotations

import sys

from bot import settings
from recommender import ShopbotError


def rasa_arguments(args: list[str]) -> list[str]:
    """`args` of a Rasa command plus the API token when they turn the HTTP API on."""
    # one argument: a generated token may start with "-", which Rasa's parser would take for an option
    return [*args, f"--auth-token={settings.secret('SHOPBOT_API_TOKEN')}"] if "--enable-api" in args else args


def main() -> None:
    """Rasa's CLI; a setting it cannot use (a secret, the retention period its tracker store applies at
    start) stops it first with one line, not a traceback from inside Rasa."""
    try:
        settings.retention_days()
        args = rasa_arguments(sys.argv[1:])
    except ShopbotError as e:
        sys.exit(f"Error: {e}")
    from rasa.__main__ import main as rasa_main

    from bot import rasa_patches

    rasa_patches.apply()
    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
