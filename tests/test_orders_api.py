"""The orders API on the action server (bot/orders_api.py, issue 21 item 3): the shop's systems read and
set an order's status over real HTTP, with their own token; the action token does not open it, and
its token does not open the actions.

rasa-sdk's own app with both plugins on a real Sanic server (as tests/test_action_server_token.py),
over a real store file in tmp_path.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.endpoint import create_app
from sanic import Sanic

from actions import services
from bot.action_server import RequireToken
from bot.orders_api import OrdersApi
from recommender.catalog.products import Catalog
from recommender.store import ShopStore
from tests.http_calls import call, served

ACTION_TOKEN = "a-test-action-token"
ORDERS_TOKEN = "a-test-orders-token"
SHOP = f"Bearer {ORDERS_TOKEN}"


@pytest.fixture
def store(tmp_path: Path, tiny_catalog: Catalog) -> Iterator[ShopStore]:
    """The store the API serves, with order #1 (placed) of shopper s1; the actions' services use it."""
    with ShopStore.open(tmp_path / "shop.db") as opened:
        opened.add_to_cart("s1", "p2", 3)
        opened.checkout("s1", tiny_catalog)
        services.use(None, opened)
        try:
            yield opened
        finally:
            services.use(None)


def raw_call(url: str, path: str) -> tuple[int, Any]:
    """(status, JSON answer) of a POST to `path` sent exactly as written (no client normalises it)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("POST", path, body=b"{}", headers={"Authorization": SHOP})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def serve(requests: list[tuple[str, bytes | None, str | None]], raw: tuple[str, ...] = ()) -> list[tuple[int, Any]]:
    """Serve rasa-sdk's app with both plugins on a free port; the answers to these (path, body, authorization)
    calls, then to the orders token's POSTs to the ``raw`` paths."""
    Sanic.test_mode = True
    app = create_app(__name__, cors_origins=None)
    RequireToken(ACTION_TOKEN).attach_sanic_app_extensions(app)
    OrdersApi(ORDERS_TOKEN).attach_sanic_app_extensions(app)
    return served(app, lambda url: [call(url + path, body, auth) for path, body, auth in requests]
                  + [raw_call(url, path) for path in raw])


def status_body(status: str, note: str | None = None) -> bytes:
    return json.dumps({"status": status, "note": note}).encode()


def test_only_the_orders_token_reads_or_sets_a_status(store: ShopStore, caplog: pytest.LogCaptureFixture) -> None:
    shipped = status_body("shipped", "UPS 1Z999")
    refused = [None, "Bearer wrong", f"Bearer {ACTION_TOKEN}", ORDERS_TOKEN, f"Bearer {ORDERS_TOKEN}x"]
    with caplog.at_level(logging.WARNING, logger="bot.orders_api"):
        answers = serve([*[("/orders/1/status", shipped, auth) for auth in refused],
                         *[("/orders/1", None, auth) for auth in refused],
                         ("/orders/1", None, SHOP), ("/orders/1/status", shipped, SHOP),
                         ("/webhook", b"{}", SHOP)], raw=("/orders/1/../../webhook",))
    assert [status for status, _ in answers[:10]] == [401] * 10
    assert all(body == {"error": "A valid 'Authorization: Bearer <orders token>' header is required."}
               for _, body in answers[:10])
    read, changed, webhook, traversal = answers[10:]
    at = read[1]["history"][0]["at"]
    assert read == (200, {"order_id": 1, "status": "placed", "history": [{"status": "placed", "at": at, "note": None}]})
    assert changed[0] == 200 and changed[1]["status"] == "shipped"
    assert changed[1]["history"][1] == {"status": "shipped", "at": changed[1]["history"][1]["at"], "note": "UPS 1Z999"}
    assert webhook[0] == 403        # the orders token opens no action
    # a path under /orders/ reaches the orders routes or none: the router, not the webhook, answers this one
    assert traversal[1]["error"] == "Requested URL /orders/1/../../webhook not found"
    order = store.order("s1", 1)
    assert [(c.status, c.note) for c in order.history] == [("placed", None), ("shipped", "UPS 1Z999")]
    assert caplog.text.count("refused: missing or wrong orders token") == 10
    assert ORDERS_TOKEN not in caplog.text and ACTION_TOKEN not in caplog.text


def test_errors_are_404_409_and_400_with_one_message(store: ShopStore) -> None:
    answers = serve([
        ("/orders/99", None, SHOP),
        ("/orders/99/status", status_body("shipped"), SHOP),
        ("/orders/1/status", status_body("returned"), SHOP),
        ("/orders/1/status", b"shipped", SHOP),
        ("/orders/1/status", b"[\"shipped\"]", SHOP),
        ("/orders/1/status", b"{\"status\": 3}", SHOP),
        ("/orders/1/status", b"{\"status\": \"shipped\", \"by\": \"me\"}", SHOP),
        ("/orders/1/status", b"{\"status\": \"shipped\", \"note\": 7}", SHOP),
        ("/orders/1/status", status_body("lost"), SHOP),
        ("/orders/1/status", status_body("shipped", "x" * 501), SHOP),
    ])
    assert answers == [
        (404, {"error": "There is no order #99"}),
        (404, {"error": "There is no order #99"}),
        (409, {"error": "Order #1 is placed: it can only become shipped, delivered or cancelled, not returned"}),
        (400, {"error": 'The body must be JSON like {"status": "shipped", "note": "optional text"}'}),
        (400, {"error": 'The body must be a JSON object with a "status" string, like '
                        '{"status": "shipped", "note": "optional text"}'}),
        (400, {"error": 'The body must be a JSON object with a "status" string, like '
                        '{"status": "shipped", "note": "optional text"}'}),
        (400, {"error": "Unknown field 'by': the body has \"status\" and \"note\" only"}),
        (400, {"error": '"note" must be a string or null'}),
        (400, {"error": "Order status 'lost' is not one of placed, shipped, delivered, cancelled, returned"}),
        (400, {"error": "A note must be at most 500 characters, got 501"}),
    ]
    assert store.order("s1", 1).status == "placed"   # nothing changed
