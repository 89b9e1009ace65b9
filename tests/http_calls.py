"""Real HTTP calls for the tests of our Sanic plugins: a GET or POST and its JSON answer, and an app served
on a free local port while calls are made to it. Its own module: a test module imported by another is
imported twice (as a test and as ``tests.<name>``), and rasa-sdk would register its actions twice."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from sanic import Sanic

from bot.servers import HOST


def call(url: str, body: bytes | None = None, authorization: str | None = None) -> tuple[int, Any]:
    """(status, JSON answer) of a GET (no body) or POST to `url`."""
    headers = {"Content-Type": "application/json", **({"Authorization": authorization} if authorization else {})}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def served(app: Sanic, calls: Callable[[str], list[tuple[int, Any]]], listeners: bool = False
           ) -> list[tuple[int, Any]]:
    """Serve ``app`` on a real Sanic server on a free local port; what ``calls(its URL)`` got from it. With
    ``listeners``, the app's server-start and -stop listeners run too (its tasks added before it started)."""
    async def run() -> list[tuple[int, Any]]:
        sock = socket.socket()
        sock.bind((HOST, 0))
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await server.startup()
        if listeners:
            await server.before_start()
            await server.after_start()
        try:
            return await asyncio.to_thread(calls, f"http://{HOST}:{sock.getsockname()[1]}")
        finally:
            if listeners:
                await server.before_stop()
            server.close()
            await server.wait_closed()
            if listeners:
                await server.after_stop()

    return asyncio.run(run())


def action_call(action: str, sender: str) -> bytes:
    """The body Rasa posts to the action server to run ``action`` for ``sender`` (Rasa's own format)."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

    from recommender import config

    domain = Domain.load(str(config.REPO_ROOT / "domain.yml"))
    tracker = DialogueStateTracker(sender, domain.slots)
    return json.dumps({"next_action": action, "sender_id": sender, "version": "3.6.21",
                       "tracker": tracker.current_state(EventVerbosity.ALL), "domain": domain.as_dict()}).encode()
