"""The action server: rasa-sdk serving the `actions` package, after loading everything the actions use.

Loading at start (catalog, product embeddings, encoder, collaborative model, shopper store) means a
missing, corrupt or locked catalog stops the server with one `Error: ...` line instead of a failure
in the middle of a chat, and the first shopper does not wait for the loading.

Only the Rasa server may call it: every request but ``GET /health`` and the shop's orders API
(`bot/orders_api.py`, under ``/orders/``, which needs ``$SHOPBOT_ORDERS_TOKEN`` instead) needs the header
``Authorization: Bearer $SHOPBOT_ACTION_TOKEN`` (endpoints.yml sends it), else 403 and no action runs.
`bot.servers` starts it with that token; by hand (unset, the token is generated once into
var/secrets/SHOPBOT_ACTION_TOKEN, where the Rasa server's start in `bot.servers` finds it too):

    SANIC_HOST=127.0.0.1 .venv/bin/python -m bot.action_server --port 5055

rasa-sdk runs the actions on its event loop: one that blocks (a lock, a socket) stops every request, so a loop
that does not come round for ``BLOCKED_LOOP_S`` has every thread's stack written to the log (``BlockedLoopDump``).
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import sqlite3
import sys
from typing import Any, TextIO

import click
import pluggy
from sanic import Sanic, response
from sanic.request import Request

from actions import services
from bot import identity, orders_api, retention, settings
from recommender import ShopbotError

logger = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("rasa_sdk")
BLOCKED_LOOP_S = 20.0  # an event loop blocked this long is logged with the stacks (the Rasa server's turn limit: 60 s)


class RequireToken:
    """A rasa-sdk plugin: every request but ``/health`` must carry ``Authorization: Bearer <token>``.

    Without it, or with another token, the answer is 403 and no action runs. The tokens are compared
    in constant time (`identity.bearer_matches`). Paths under ``/orders/`` are the orders API's, which
    checks its own token (`bot.orders_api`): Sanic routes a request before this check, so such a path
    reaches that API's routes or none.
    """

    def __init__(self, token: str) -> None:
        self.token = token

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        """rasa-sdk's hook, called by `rasa_sdk.endpoint.run` once the app is made."""
        app.register_middleware(self.check, "request")

    async def check(self, request: Request) -> Any:
        if request.path == "/health" or request.path.startswith(orders_api.PREFIX):
            return None
        if identity.bearer_matches(request.headers.get("Authorization"), self.token):
            return None
        logger.warning("a request to %s was refused: missing or wrong action token", request.path)
        return response.json({"error": "A valid 'Authorization: Bearer <action token>' header is required."},
                             status=403)


class BlockedLoopDump:
    """A rasa-sdk plugin: when the server's event loop does not come round for ``seconds`` (an action blocking
    it: rasa-sdk runs our actions on the loop), every thread's Python stack is written to ``file`` (the log),
    once per block: file, line and function names only, never values. (The PostgreSQL failover test once saw
    an action server silent for 60 s; this says where it was.)"""

    def __init__(self, seconds: float, file: TextIO = sys.stderr) -> None:
        self.seconds, self.file = seconds, file

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        app.add_task(self.watch())

    async def watch(self) -> None:
        """Re-arm faulthandler's timer several times within ``seconds`` while the loop runs; cancel it at the end."""
        try:
            while True:
                faulthandler.dump_traceback_later(self.seconds, exit=False, file=self.file)
                await asyncio.sleep(self.seconds / 4)
        finally:
            faulthandler.cancel_dump_traceback_later()


def load() -> None:
    """Load the services the actions share, and apply the retention period to the shopper store
    (`bot.retention`); raise ShopbotError (one line) when one cannot be loaded."""
    try:
        search = services.product_search()
        search.warm_up()  # load the text models (bounding torch's threads) and measure the relevance floor's reference
        services.vocabulary()
        retention.expire_store(services.store(), settings.retention_days())  # what is past the period goes
    except ShopbotError:
        raise
    except (sqlite3.Error, OSError, ValueError, RuntimeError, ImportError) as e:  # unreadable files, models
        raise ShopbotError(f"could not load the shop's data: {e}. Run 'shopbot setup'.") from e
    if search.recommender is None:
        logger.warning("no collaborative model for this catalog: rankings are not personal (run 'shopbot setup')")
    logger.info("loaded %d products; serving the actions", len(search.embeddings))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--port", type=int, default=5055, show_default=True, help="Port (the interface is $SANIC_HOST).")
@click.option("--debug", is_flag=True, help="Log at DEBUG level (rasa-sdk then logs the actions' events and slots).")
def main(port: int, debug: bool) -> None:
    """Load the shop's data, then serve the custom actions to the Rasa server.

    Example:

        SANIC_HOST=127.0.0.1 python -m bot.action_server --port 5055
    """
    from rasa_sdk.endpoint import run
    from rasa_sdk.plugin import plugin_manager

    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        plugin_manager().register(RequireToken(settings.secret("SHOPBOT_ACTION_TOKEN")))
        plugin_manager().register(orders_api.OrdersApi(settings.secret("SHOPBOT_ORDERS_TOKEN")))
        plugin_manager().register(BlockedLoopDump(BLOCKED_LOOP_S))
        load()
    except ShopbotError as e:
        raise click.ClickException(str(e)) from e
    run("actions", port=port, cors_origins=None)  # no CORS: only the Rasa server calls it


if __name__ == "__main__":
    main()
