"""Watches reach the shopper through Rasa: ``POST /conversations/<id>/trigger_intent`` (Rasa's HTTP API).

The intent ``watch_fired`` enters the shopper's own conversation with the product and the kind of
watch as entities; its rule runs ``action_watch_fired``, which words the news in the conversation's
language, and Rasa sends it on the output channel the watch was asked on (``callback``, ``telegram``:
the channels whose ``get_output_channel`` can reach a shopper who is not writing). The Rasa server must
run with its API on (``shopbot serve --enable-api``); the token is $SHOPBOT_API_TOKEN.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from bot import settings
from recommender import Catalog, Product, ShopStore
from recommender.store.watches import Watch
from recommender.watches import Fired, WatchNotSent, fire_due

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
        body = {"name": FIRED_INTENT, "entities": {"product_id": product.id, "watch_kind": watch.kind}}
        request = urllib.request.Request(f"{target}?{query}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                pass
        except urllib.error.HTTPError as e:
            why = "is its API on, with this token? shopbot serve --enable-api" if e.code in (401, 403, 404) else \
                "see its log"
            raise WatchNotSent(f"the assistant at {url} refused it (HTTP {e.code}: {why})") from None
        except (urllib.error.URLError, OSError) as e:
            raise WatchNotSent(f"the assistant at {url} did not answer ({getattr(e, 'reason', e)}); "
                               "start it with shopbot serve --enable-api") from None

    return send


def fire_watches(catalog: Catalog, store: ShopStore) -> Fired:
    """Send every due watch through the Rasa server of $SHOPBOT_RASA_URL (``recommender.watches.fire_due``)."""
    return fire_due(store, catalog, rasa_sender(settings.rasa_url(), settings.secret("SHOPBOT_API_TOKEN")))
