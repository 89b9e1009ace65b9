"""bot.action_server: a catalog that is missing, corrupt or locked stops the server at start with one line (and
the Rasa server started beside it)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import servers
from bot.servers import Assistant, ServerError, free_port, start_action_server, stop

pytestmark = pytest.mark.slow


def start_error(tmp_path: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ServerError message of starting the action server on `catalog` (it must not start)."""
    monkeypatch.setenv("SHOPBOT_CATALOG", str(catalog))
    monkeypatch.setenv("SHOPBOT_STORE", str(tmp_path / "shop.db"))
    log = tmp_path / "actions.log"
    with pytest.raises(ServerError) as caught:
        stop(start_action_server(free_port(), log, timeout=120))
    assert "Traceback" not in log.read_text()
    return str(caught.value)


@pytest.fixture
def locked(tiny_catalog_path: Path) -> Iterator[Path]:
    """The tiny catalog while another connection holds an exclusive lock on it."""
    db = sqlite3.connect(tiny_catalog_path)
    db.execute("BEGIN EXCLUSIVE")
    yield tiny_catalog_path
    db.rollback()
    db.close()


def test_a_missing_catalog_is_one_line_naming_the_command_that_builds_it(tmp_path, monkeypatch) -> None:
    message = start_error(tmp_path, tmp_path / "nowhere.db", monkeypatch)
    assert message.startswith(f"Error: No catalog at {tmp_path / 'nowhere.db'}. Build it with")


def test_a_corrupt_catalog_is_one_line(tmp_path, monkeypatch) -> None:
    corrupt = tmp_path / "catalog.db"
    corrupt.write_bytes(b"this is not a database\n" * 100)
    assert start_error(tmp_path, corrupt, monkeypatch).startswith(f"Error: {corrupt} is not a SQLite catalog")


def test_a_locked_catalog_is_one_line(tmp_path, monkeypatch, locked: Path) -> None:
    message = start_error(tmp_path, locked, monkeypatch)
    assert message.startswith(f"Error: {locked} cannot be read (database is locked)")


def test_the_text_model_is_loaded_before_the_first_shopper(trained_model: Path, tmp_path: Path) -> None:
    # Lazily, the first shopper waited for it, and until then torch ran the collaborative model on
    # all cores: with the Rasa server busy beside it, 100 ms instead of 1.5 ms a call (OpenMP spinning).
    code = ("from bot.action_server import load\n"
            "from actions import services\n"
            "import torch\n"
            "load()\n"
            "encoder = services.product_search().encoder\n"
            "print(encoder.loaded, torch.get_num_threads() == encoder.num_threads)")
    # the shipped catalog, its cached vectors (nothing to encode) and collaborative model, set up
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "SHOPBOT_STORE": str(tmp_path / "shop.db")})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True"]


def test_an_assistant_whose_action_server_cannot_start_stops_its_rasa_server_too(
        trained_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both servers are spawned at once; when one fails to get ready, none is left running."""
    spawned: list[subprocess.Popen] = []
    spawn = servers._spawn
    monkeypatch.setattr(servers, "_spawn", lambda *args, **env: spawned.append(spawn(*args, **env)) or spawned[-1])
    monkeypatch.setenv("SHOPBOT_CATALOG", str(tmp_path / "nowhere.db"))
    monkeypatch.setenv("SHOPBOT_STORE", str(tmp_path / "shop.db"))
    monkeypatch.setenv("SHOPBOT_TRACKER", str(tmp_path / "conversations.db"))
    with pytest.raises(ServerError, match="No catalog"):
        with Assistant(trained_model, log_dir=tmp_path):
            pass
    assert len(spawned) == 2 and all(process.poll() is not None for process in spawned)
