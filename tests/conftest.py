"""Shared pytest fixtures. Keep them generic: several test modules use them."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from bot import build, settings
from bot.servers import Assistant
from recommender import config
from recommender.catalog.products import Catalog
from recommender.catalog.importer import import_catalog
from tests.cluster import redis_running
from tests.postgres_server import PostgresServer

# A tiny shop, readable at a glance; the rows exercise the cleaning rules (HTML entities, empty
# brand, unknown price, missing title) and the category path levels.
TINY_PRODUCTS_CSV = """\
id,title,brand,category,price
p1,Gentle Shampoo for Dry Hair,Crabtree &amp; Evelyn,Beauty > Hair Care > Shampoos,12.50
p2,Matte Lipstick Red,L&#39;Oreal Paris,Beauty > Makeup > Lips > Lipstick,8.99
p3,Hydrating Face Cream for Dry Skin,Neutrogena,Beauty > Skin Care > Face > Creams,
p4,,Neutrogena,Beauty > Skin Care > Body > Lotions,15
p5,Eau de Parfum Spray,Prada,Beauty > Fragrance > Women's > Eau de Parfum,65.86
p6,Volume Shampoo,,Beauty > Hair Care > Shampoos,4.25
"""

# One line per shopper: shopper id, then the products in the order they were bought.
TINY_SEQUENCES = """\
s1 p1 p2 p3
s2 p2 p5
s3 p1 p2
"""


@pytest.fixture(autouse=True, scope="session")
def _conversations_apart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Rasa servers started by tests keep their conversations in a temporary file, not in var/, and
    use secrets of their own, not var/secrets/."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_TRACKER", str(tmp_path_factory.mktemp("conversations") / "conversations.db"))
        for name in settings.SECRETS:
            env.setenv(name, secrets.token_urlsafe(32))
        yield


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write text to a file under tmp_path and return its path: ``write_file("shop.csv", text)``."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def tiny_catalog_path(tmp_path: Path, write_file: Callable[[str, str], Path]) -> Path:
    """A catalog file built from TINY_PRODUCTS_CSV and TINY_SEQUENCES."""
    db_path = tmp_path / "catalog.db"
    import_catalog(
        write_file("tiny.csv", TINY_PRODUCTS_CSV), db_path,
        interactions=write_file("tiny.txt", TINY_SEQUENCES), progress=False,
    )
    return db_path


@pytest.fixture
def tiny_catalog(tiny_catalog_path: Path) -> Iterator[Catalog]:
    """The tiny catalog, open for reading (6 products, 3 shoppers, 7 interactions)."""
    with Catalog.open(tiny_catalog_path) as catalog:
        yield catalog


# ---- the real assistant, for the slow end-to-end modules --------------------------------------------


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh shopper store and conversations file for the servers of one test module (carts, events
    and conversations of real runs stay apart)."""
    folder = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_STORE", str(folder / "shop.db"))
        env.setenv("SHOPBOT_TRACKER", str(folder / "conversations.db"))
        yield folder / "shop.db"


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The Rasa model after the set-up run (which trains only what changed): checked once a session."""
    for _ in build.setup(progress=False):
        pass
    return build.model_path()


@pytest.fixture(scope="session")
def shared_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the shared assistant's shopper store (``shop.db``) and conversations
    (``conversations.db``)."""
    return tmp_path_factory.mktemp("shared-state")


@pytest.fixture(scope="session")
def assistant(shared_state: Path, trained_model: Path) -> Iterator[Assistant]:
    """The action server and `rasa run` on free local ports, on the set-up's model, started once for
    every module that talks to it (each with senders of its own; a start is ~90 s of model loading).
    Their shopper store and conversations are those of ``shared_state``; their logs are in
    ``assistant.log_dir``."""
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as env:  # the servers' environment only, not the tests'
            env.setenv("SHOPBOT_STORE", str(shared_state / "shop.db"))
            env.setenv("SHOPBOT_TRACKER", str(shared_state / "conversations.db"))
            bot = stack.enter_context(Assistant(trained_model, log_dir=shared_state / "servers"))
        yield bot


@pytest.fixture(scope="module")
def catalog_db() -> Iterator[sqlite3.Connection]:
    """The shipped catalog file, read-only: what replies are checked against."""
    db = sqlite3.connect(f"file:{config.catalog_path()}?mode=ro", uri=True)
    yield db
    db.close()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """A throwaway redis-server on a free 127.0.0.1 port (no persistence, its own folder), stopped at the end."""
    if shutil.which("redis-server") is None:
        pytest.fail("Debian's redis-server is not installed: run scripts/install-debian.sh redis-server (make test does)")
    with redis_running(tmp_path_factory.mktemp("redis")) as client:
        yield client


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the session (tests/postgres_server.py); $PGPASSWORD is its password."""
    with PostgresServer.running() as server, pytest.MonkeyPatch.context() as env:
        env.setenv("PGPASSWORD", server.password)
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's shopper store lives: a new SQLite file, then (slow: it starts a server) a new PostgreSQL
    database's URL. Tests that take it run on both engines."""
    if request.param == "sqlite":
        return tmp_path / "shop.db"
    return request.getfixturevalue("postgres").database()
