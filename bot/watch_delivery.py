"""Watches reach the shopper through Rasa: ``POST /conversations/<id>/trigger_intent`` (Rasa's HTTP API).

The intent ``watch_fired`` enters the shopper's own conversation with the product and the kind of
watch as entities; its rule runs ``action_watch_fired``, which words the news in the conversation's
language, and Rasa sends it on the output channel the watch was asked on (``callback``, ``telegram``:
the channels whose ``get_output_channel`` can reach a shopper who is not writing). The Rasa server must
run with its API on (``shopbot serve --enable-api``); the token is $SHOPBOT_API_TOKEN.

The web widget cannot be reached when nobody has it open: its watches are sent by the Rasa server itself
when the shopper next connects (``deliver_on_return``, called by the socket.io channel), the same intent
triggered through the server's own agent, API or not. So are Messenger's that Meta refused (more than 24
hours after the shopper's last message), when the shopper next writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot import settings
from recommender import Catalog, Product, ShopStore, config
from recommender.store import exists as store_exists
from recommender.store.watches import Watch
from recommender.watches import ON_RETURN_CHANNELS, Fired, WatchNotSent, fire_due

if TYPE_CHECKING:  # the CLI imports this module without Rasa's channels
    from rasa.core.channels.channel import OutputChannel

logger = logging.getLogger(__name__)

FIRED_INTENT = "watch_fired"
TIMEOUT_S = 30.0  # Rasa runs the action before it answers
PATH_SAFE = ":@!$&'()*+,;=-._~"  # what a path segment holds unencoded (RFC 3986): "telegram:1001" as it is


def rasa_sender(url: str, token: str, timeout: float = TIMEOUT_S) -> Callable[[Watch, Product], None]:
    """A sender for ``fire_due``: triggers ``watch_fired`` in the watch's conversation on the Rasa server at
    ``url``; raises WatchNotSent when the server refuses or does not answer."""

    def send(watch: Watch, product: Product) -> None:
        conversation = urllib.parse.quote(watch.shopper_id, safe=PATH_SAFE)
        if conversation != watch.shopper_id:  # Rasa reads the id in the path as it is, undecoded
            raise WatchNotSent(f"the conversation's id has characters Rasa's API cannot take in a path "
                               f"({watch.shopper_id[:40]!r})")
        query = urllib.parse.urlencode({"output_channel": watch.channel, "token": token})
        target = f"{url.rstrip('/')}/conversations/{conversation}/trigger_intent"
        body = {"name": FIRED_INTENT, "entities": _entities(watch, product)}
        request = urllib.request.Request(f"{target}?{query}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                pass
        except urllib.error.HTTPError as e:
            why = "is its API on, with this token? shopbot serve --enable-api" if e.code in (401, 403, 404) else \
                _channel_refusal(e) or "see its log"
            raise WatchNotSent(f"the assistant at {url} refused it (HTTP {e.code}: {why})") from None
        except (urllib.error.URLError, OSError) as e:
            raise WatchNotSent(f"the assistant at {url} did not answer ({getattr(e, 'reason', e)}); "
                               "start it with shopbot serve --enable-api") from None

    return send


def _channel_refusal(error: urllib.error.HTTPError) -> str | None:
    """What failed, in the channel's words, when Rasa's answer names it ("An unexpected error occurred.
    Error: Messenger refused it: ..."), else None."""
    try:
        message = json.loads(error.read() or b"{}").get("message")
    except (ValueError, AttributeError, OSError):
        return None
    said = str(message or "").partition("Error: ")[2]
    return said[:300] or None


def fire_watches(catalog: Catalog, store: ShopStore) -> Fired:
    """Send every due watch through the Rasa server of $SHOPBOT_RASA_URL (``recommender.watches.fire_due``)."""
    return fire_due(store, catalog, rasa_sender(settings.rasa_url(), settings.secret("SHOPBOT_API_TOKEN")))


def _entities(watch: Watch, product: Product) -> dict[str, str]:
    """The entities ``watch_fired`` carries: the product and the kind of watch."""
    return {"product_id": product.id, "watch_kind": watch.kind}


def agent_sender(agent: Any, output: OutputChannel, loop: asyncio.AbstractEventLoop,
                 timeout: float = TIMEOUT_S) -> Callable[[Watch, Product], None]:
    """A sender for ``fire_due`` run in a worker thread of the Rasa server: triggers ``watch_fired`` in the
    watch's conversation through the server's own ``agent`` (as its API does), on its event ``loop``, the
    replies going to ``output``; raises WatchNotSent when that fails."""

    async def trigger(watch: Watch, product: Product) -> None:
        async with agent.lock_store.lock(watch.shopper_id):
            tracker = await agent.processor.fetch_tracker_and_update_session(watch.shopper_id)
            await agent.trigger_intent(FIRED_INTENT, _entities(watch, product), output, tracker)

    def send(watch: Watch, product: Product) -> None:
        try:
            asyncio.run_coroutine_threadsafe(trigger(watch, product), loop).result(timeout)
        except Exception as e:  # the turn failed: the watch is given back, sent at the next connection
            raise WatchNotSent(f"the assistant could not send it ({type(e).__name__}: {e})") from None

    return send


async def deliver_on_return(agent: Any, shopper_id: str, output: OutputChannel) -> Fired:
    """Send the watches ``shopper_id`` asked on the web widget or Messenger that came true while they could not
    be messaged, each once, through the Rasa server's ``agent`` to ``output`` (the returning shopper's channel).
    Nothing without a shopper store; a failure is logged, never raised: the shopper is connecting or writing."""
    loop = asyncio.get_running_loop()

    def fire() -> Fired:
        where = config.store_target()
        if not store_exists(where):
            return Fired()
        with ShopStore.open(where) as store:
            if not any(w.channel in ON_RETURN_CHANNELS for w in store.watches(shopper_id)):
                return Fired()  # most connections: nothing kept for the widget, the catalog is not opened
            with Catalog.open(config.catalog_path()) as catalog:
                return fire_due(store, catalog, agent_sender(agent, output, loop), ON_RETURN_CHANNELS, shopper_id)

    try:
        fired = await asyncio.to_thread(fire)  # the store and the catalog are read off the event loop
    except Exception:
        logger.exception("watches of a returning shopper could not be checked")
        return Fired()
    for _, why in fired.failed:
        logger.warning("a watch of a returning shopper was not sent: %s", why)
    return fired
