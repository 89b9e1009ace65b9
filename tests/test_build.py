"""bot.build: one set-up at a time per checkout."""

from __future__ import annotations

import fcntl
import threading
import time

import pytest

from bot import build
from recommender import config


def test_a_second_setup_waits_for_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """While one set-up holds var/setup.lock, another does no step until it is released."""
    ran: list[float] = []
    monkeypatch.setattr(build, "_steps", lambda progress: iter(ran.append(time.monotonic()) or ()))
    lock_path = config.REPO_ROOT / "var" / "setup.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        second = threading.Thread(target=lambda: list(build.setup(progress=False)))
        second.start()
        time.sleep(0.5)
        assert ran == [] and second.is_alive()
        released = time.monotonic()
        fcntl.flock(held, fcntl.LOCK_UN)
    second.join(timeout=10)
    assert not second.is_alive() and len(ran) == 1 and ran[0] >= released
