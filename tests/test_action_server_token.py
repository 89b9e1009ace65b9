"""Only the Rasa server may run actions (issue 17, item 6).

The action server used to run any action for anyone who reached it, with any tracker (so as any
shopper). Now every request but ``GET /health`` needs ``Authorization: Bearer $SHOPBOT_ACTION_TOKEN``,
which endpoints.yml makes Rasa send; without it: 403, and no action runs.

The first test serves rasa-sdk's own app with our plugin on a real Sanic server and an action that
records its runs; the slow one starts the real action server process and calls a real action.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from rasa.utils.endpoints import read_endpoint_config
from rasa_sdk import Action
from rasa_sdk.endpoint import create_app
from sanic import Sanic

from bot.action_server import RequireToken
from bot.servers import HOST, endpoints_for, free_port, start_action_server, stop
from tests.http_calls import action_call, call, served

TOKEN = "a-test-action-token"
RUNS: list[str] = []


class ActionRecordRun(Action):
    """Records the sender of every run: the proof that an action ran, or did not."""

    def name(self) -> str:
        return "action_record_run_for_the_token_test"

    def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[dict]:
        RUNS.append(tracker.sender_id)
        return []


REFUSED = [None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"]


def test_only_a_caller_with_the_token_runs_an_action() -> None:
    Sanic.test_mode = True
    app = create_app(__name__, cors_origins=None)
    RequireToken(TOKEN).attach_sanic_app_extensions(app)
    body = action_call("action_record_run_for_the_token_test", "alice")
    requests = [*[("/webhook", body, auth) for auth in REFUSED],
                ("/actions", None, None), ("/health", None, None), ("/webhook", body, f"Bearer {TOKEN}")]

    RUNS.clear()
    answers = served(app, lambda url: [call(url + path, data, auth) for path, data, auth in requests])

    assert [status for status, _ in answers] == [403] * 5 + [403, 200, 200]
    assert all("Authorization: Bearer" in body["error"] for _, body in answers[:6])
    assert RUNS == ["alice"]                                          # the authorised call only
    assert answers[-1][1] == {"events": [], "responses": []}


def test_rasa_reads_the_token_header_from_the_endpoints_copy(tmp_path: Path, monkeypatch) -> None:
    # this process has imported Rasa, whose YAML loader expands ${...}: the copy must keep the variable
    monkeypatch.setenv("SHOPBOT_ACTION_TOKEN", TOKEN)
    path = endpoints_for(5055, tmp_path, tmp_path / "conversations.db")
    assert TOKEN not in path.read_text() and "Bearer ${SHOPBOT_ACTION_TOKEN}" in path.read_text()

    endpoint = read_endpoint_config(str(path), "action_endpoint")          # as `rasa run` reads it
    assert endpoint.url == "http://127.0.0.1:5055/webhook"
    assert endpoint.headers == {"Authorization": f"Bearer {TOKEN}"}
    assert read_endpoint_config(str(path), "tracker_store").kwargs["db"] == str(tmp_path / "conversations.db")


@pytest.mark.slow
def test_the_real_action_server_refuses_callers_without_the_token(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPBOT_STORE", str(tmp_path / "shop.db"))
    token = os.environ["SHOPBOT_ACTION_TOKEN"]          # the tests' own (conftest), handed to the server
    port = free_port()
    process = start_action_server(port, tmp_path / "actions.log")
    try:
        url = f"http://{HOST}:{port}"
        body = action_call("action_view_cart", "bob")
        refused = [call(f"{url}/webhook", body, auth) for auth in (None, "Bearer wrong", f"Bearer {token[:-1]}")]
        assert [status for status, _ in refused] == [403, 403, 403]
        assert call(f"{url}/health")[0] == 200
        status, answer = call(f"{url}/webhook", body, f"Bearer {token}")
        assert status == 200 and [r.get("response") for r in answer["responses"]] == ["utter_cart_empty"]
    finally:
        stop(process)
    log = (tmp_path / "actions.log").read_text()
    assert log.count("refused: missing or wrong action token") == 3 and token not in log
