"""A crashed server is started again; a `kill -9` of the action server during a burst loses nothing
(issue 17, item 12).

The fast tests drive `bot.servers.supervise` with real short-lived processes: the waits of `Restarts`,
a crashed process started again, and one that keeps crashing ending the supervisor with one line.
The slow test is `bench/action_crash.py`'s drill on the real `shopbot serve` and the trained model:
8 conversations at once, the action server killed with SIGKILL after a quarter of the replies;
`shopbot serve` starts it again, every conversation goes on to its cart view, every message got a
reply or the apology, and every cart holds exactly what its conversation added.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bench.action_crash import drill
from bot import build
from bot.servers import Restarts, ServerError, stop, supervise
from tests.test_guard import Clock


def test_restarts_wait_longer_each_time_and_give_up_after_the_limit_within_the_window() -> None:
    clock = Clock()
    restarts = Restarts(limit=4, window=600, first_delay=1, max_delay=5, clock=clock)
    assert [restarts.next_delay() for _ in range(5)] == [1, 2, 4, 5, None]
    clock.now += 599
    assert restarts.next_delay() is None                          # still four restarts in the last 10 minutes
    clock.now += 2
    assert restarts.next_delay() == 1                             # a quiet window: short waits again


def process(code: int | None) -> subprocess.Popen:
    """A real process that exits with `code` at once, or (None) runs until stopped."""
    script = "import time; time.sleep(600)" if code is None else f"raise SystemExit({code})"
    return subprocess.Popen([sys.executable, "-c", script], start_new_session=True)


def quick(limit: int = 3) -> Restarts:
    return Restarts(limit=limit, first_delay=0.01, max_delay=0.01)


def test_a_crashed_server_is_started_again_and_one_that_keeps_crashing_stops_the_supervisor(
        caplog: pytest.LogCaptureFixture) -> None:
    running, crashing = process(None), process(9)
    processes, started = [running, crashing], []

    def start(i: int) -> subprocess.Popen:
        started.append(i)
        return process(9)

    caplog.set_level(logging.WARNING, "bot.servers")
    try:
        with pytest.raises(ServerError) as error:
            supervise(processes, start, ["Rasa server", "action server"], lambda: quick(3), poll=0.05)
        assert started == [1, 1, 1]                                # three restarts, then it gives up
        assert processes[0] is running and running.poll() is None  # the other server is left running
        assert str(error.value) == ("the action server keeps stopping (exit code 9; 3 restarts within 10 min): "
                                    "not starting it again")
        assert caplog.messages.count("the action server stopped (exit code 9); starting it again in 0 s") == 3
    finally:
        for p in (running, *processes):
            stop(p)


def test_a_server_that_fails_to_start_again_counts_as_another_restart(caplog: pytest.LogCaptureFixture) -> None:
    processes = [process(1)]

    def start(i: int) -> subprocess.Popen:
        raise ServerError("Error: could not load the shop's data (log: actions.log)")

    caplog.set_level(logging.WARNING, "bot.servers")
    with pytest.raises(ServerError, match="keeps stopping"):
        supervise(processes, start, ["action server"], lambda: quick(2), poll=0.05)
    assert caplog.messages.count("the action server did not start again: "
                                 "Error: could not load the shop's data (log: actions.log)") == 2


@pytest.mark.slow
def test_a_kill_9_of_the_action_server_during_a_burst_loses_no_turn_and_no_cart_line(tmp_path: Path) -> None:
    assert build.model_path().exists(), "no trained model: run 'shopbot setup' first"
    outcome = drill(tmp_path, conversations=8)
    figures = outcome.figures()
    print(figures)                                                 # the figures, for the closing note
    assert outcome.serve_error is None, outcome.serve_error         # `shopbot serve` ran until told to stop
    assert outcome.replies_before_kill and outcome.restarted, figures
    assert figures["apologies"] > 0, figures                       # the kill was felt mid-burst ...
    assert figures["lost"] == 0 and figures["unexpected replies"] == 0, figures
    for conversation in outcome.conversations:                     # ... and nothing was lost or doubled
        assert conversation.cart is not None, conversation
        assert sorted(conversation.cart.items()) == sorted((pid, 1) for pid in conversation.added), conversation
        assert len(conversation.added) == 2, conversation
    assert figures["replies"] == 8 * 5                             # each turn answered once, re-sends aside
    assert outcome.serve_exit == 0                                 # and `shopbot serve` still stops cleanly
