"""bot.action_server.BlockedLoopDump: rasa-sdk runs our actions on its event loop, so one action blocking it stops
every request; when the loop does not come round for the plugin's seconds, every thread's stack is written to the
log, once per block. Served by rasa-sdk's own app on a real Sanic server, with an action that blocks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rasa_sdk import Action
from rasa_sdk.endpoint import create_app
from sanic import Sanic

from bot.action_server import BlockedLoopDump
from tests.http_calls import action_call, call, served

BLOCK_S, LIMIT_S = 3.0, 1.0  # room for a loaded machine's slow loop


class ActionBlockingTheLoop(Action):
    def name(self) -> str:
        return "action_blocking_the_loop"

    def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[dict]:
        time.sleep(BLOCK_S)  # as a synchronous call that waits (a lock, a socket) would
        return []


def test_an_action_blocking_the_loop_is_logged_with_the_stacks_once(tmp_path: Path) -> None:
    Sanic.test_mode = True
    app = create_app(__name__, cors_origins=None)
    log = tmp_path / "actions.log"
    with open(log, "w") as file:
        BlockedLoopDump(LIMIT_S, file).attach_sanic_app_extensions(app)

        def calls(url: str) -> list[tuple[int, Any]]:
            time.sleep(2 * LIMIT_S)                       # the loop idles: nothing is written
            quiet = log.read_text()
            answers = [call(url + "/webhook", action_call("action_blocking_the_loop", "alice"), None)]
            time.sleep(2 * LIMIT_S)                       # and idles again after the block
            return [(0, quiet), *answers]

        (_, quiet), (status, _) = served(app, calls, listeners=True)
    dumped = log.read_text()
    assert quiet == "" and status == 200
    assert dumped.startswith("Timeout (0:00:01)!") and dumped.count("Timeout (") == 1, dumped  # one block, one dump
    assert f'{Path(__file__).name}", line' in dumped and " in run" in dumped   # where the loop was held
