"""The shop's own systems read and set an order's status over HTTP, on the action server.

A rasa-sdk plugin (like `bot.action_server.RequireToken`, which leaves these paths to it):

    GET  /orders/<order_id>          -> {"order_id": 12, "status": "shipped", "history": [{"status", "at", "note"}]}
    POST /orders/<order_id>/status   {"status": "shipped", "note": "UPS 1Z999..."} -> the same

Every request needs ``Authorization: Bearer $SHOPBOT_ORDERS_TOKEN`` (else 401); a body that is not
such JSON, an unknown status or a note over 500 characters is 400, an unknown order 404, a move the
order's status does not allow 409 (docs/store.md), each with ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import services
from bot import identity
from recommender import InvalidOrderChange, InvalidStoreValue, Order, OrderNotFound

logger = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("rasa_sdk")

PREFIX = "/orders/"  # the paths this plugin answers and guards itself
BODY_KEYS = {"status", "note"}
BODY_EXAMPLE = '{"status": "shipped", "note": "optional text"}'


def error(message: str, status: int) -> HTTPResponse:
    """The API's one error shape: ``{"error": message}``."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return response.json({"error": message}, status=status, headers=headers)


def order_json(order: Order) -> dict[str, Any]:
    """An order's status and history, as the API answers them."""
    return {"order_id": order.order_id, "status": order.status,
            "history": [{"status": c.status, "at": c.at.isoformat(), "note": c.note} for c in order.history]}


def parse_body(body: bytes) -> tuple[str, str | None]:
    """(status, note) from a request body; ValueError (the 400's message) when it is not such JSON."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"The body must be JSON like {BODY_EXAMPLE}") from None
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise ValueError(f"The body must be a JSON object with a \"status\" string, like {BODY_EXAMPLE}")
    if unknown := sorted(set(data) - BODY_KEYS):
        raise ValueError(f"Unknown field {', '.join(map(repr, unknown))}: the body has \"status\" and \"note\" only")
    if not isinstance(data.get("note"), (str, type(None))):
        raise ValueError("\"note\" must be a string or null")
    return data["status"], data.get("note")


class OrdersApi:
    """A rasa-sdk plugin adding the orders API; its requests need ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self.token = token

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        """rasa-sdk's hook, called by `rasa_sdk.endpoint.run` once the app is made."""
        app.add_route(self.show, PREFIX + "<order_id:int>", methods=["GET"], name="shopbot_order")
        app.add_route(self.set_status, PREFIX + "<order_id:int>/status", methods=["POST"],
                      name="shopbot_order_status")

    def _refused(self, request: Request) -> HTTPResponse | None:
        """A 401 unless the request carries the orders token (compared in constant time)."""
        if identity.bearer_matches(request.headers.get("Authorization"), self.token):
            return None
        logger.warning("a request to %s was refused: missing or wrong orders token", request.path)
        return error("A valid 'Authorization: Bearer <orders token>' header is required.", 401)

    async def show(self, request: Request, order_id: int) -> HTTPResponse:
        """GET /orders/<order_id>: the order's status and history."""
        if refused := self._refused(request):
            return refused
        order = services.store().shop_order(order_id)
        if order is None:
            return error(f"There is no order #{order_id}", 404)
        return response.json(order_json(order))

    async def set_status(self, request: Request, order_id: int) -> HTTPResponse:
        """POST /orders/<order_id>/status: move the order to the body's status."""
        if refused := self._refused(request):
            return refused
        try:
            status, note = parse_body(request.body)
        except ValueError as e:
            return error(str(e), 400)
        try:
            order = services.store().set_order_status(order_id, status, note)
        except OrderNotFound as e:
            return error(str(e), 404)
        except InvalidOrderChange as e:
            return error(str(e), 409)
        except InvalidStoreValue as e:  # a status not in ORDER_STATUSES, a note too long
            return error(str(e), 400)
        return response.json(order_json(order))
