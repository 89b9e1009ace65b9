"""The servers' logs carry no message text and no sender id at the default log level (issue 6).

A real assistant (trained model, action server, `rasa run`) gets messages with a made-up marker word
from a made-up sender: a search, details, the cart, an off-topic request, a message too long for the
guard. Then neither log file (`rasa.log`, `actions.log`) may contain the marker or the sender. With
the debug flag (`shopbot serve --debug`, `Assistant(debug=True)`) Rasa's own DEBUG lines do name them.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from bot.channels import TOO_LONG, Limits
from bot.servers import Assistant

pytestmark = pytest.mark.slow

MARKER = f"zzq{secrets.token_hex(3)}"  # a word no log line has for another reason
SENDER = f"privacy-probe-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def logs(assistant: Assistant) -> dict[str, str]:
    """The text of both logs of the shared assistant after a conversation that names MARKER, sent as SENDER."""
    search = assistant.send(SENDER, f"show me {MARKER} shampoo under $10")
    assert any((r.get("custom") or {}).get("products") for r in search), search  # a real search ran
    for text in ("tell me about the second one", "add the first one to my cart", "what's in my cart?",
                 f"can you book me a flight to {MARKER}?", f"I love {MARKER}"):
        assert assistant.send(SENDER, text), text
    too_long = assistant.send(SENDER, f"{MARKER} " * 120)  # refused by the guard (bot/channels.py)
    assert too_long[0]["text"] == TOO_LONG.format(max_chars=Limits().max_chars), too_long
    return {name: (assistant.log_dir / name).read_text(errors="replace") for name in ("rasa.log", "actions.log")}


def test_the_logs_are_the_servers_own(logs: dict[str, str]) -> None:
    assert "Starting Rasa server" in logs["rasa.log"]
    assert re.search(r"message refused: \d+ characters \(cap 500\)", logs["rasa.log"])  # the guard's line
    assert "serving the actions" in logs["actions.log"]


@pytest.mark.parametrize("name", ["rasa.log", "actions.log"])
def test_no_log_names_the_message_text_or_the_sender(logs: dict[str, str], name: str) -> None:
    leaks = [line for line in logs[name].splitlines() if MARKER in line or SENDER in line]
    assert not leaks, "\n".join(leaks[:5])


def test_the_debug_flag_is_what_puts_message_texts_in_the_log(tmp_path: Path, trained_model: Path) -> None:
    marker, sender = f"zzq{secrets.token_hex(3)}", f"debug-probe-{secrets.token_hex(4)}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_STORE", str(tmp_path / "shop.db"))
        env.setenv("SHOPBOT_TRACKER", str(tmp_path / "conversations.db"))
        with Assistant(trained_model, log_dir=tmp_path / "servers", debug=True) as bot:
            assert bot.send(sender, f"show me {marker} shampoo")
    rasa_log = (tmp_path / "servers" / "rasa.log").read_text(errors="replace")
    assert marker in rasa_log and sender in rasa_log
    assert " DEBUG " in (tmp_path / "servers" / "actions.log").read_text(errors="replace")
