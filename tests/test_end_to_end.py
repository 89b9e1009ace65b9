"""End to end: the trained Rasa model, the action server and `rasa run`, over real HTTP.

The module fixture runs the set-up (catalog, embeddings, lookups, `rasa train`, each skipped when
its inputs did not change), starts both servers on free local ports, and stops them by PID.
Replies are checked against the SQLite catalog file, not against the code's own output.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
import yaml

from bot import build
from bot.servers import Assistant
from recommender import config
from recommender.search import format_price

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    for _ in build.setup(progress=False):
        pass
    with Assistant(build.model_path(), log_dir=tmp_path_factory.mktemp("servers")) as bot:
        yield bot


@pytest.fixture(scope="module")
def catalog_db() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"file:{config.catalog_path()}?mode=ro", uri=True)
    yield db
    db.close()


def shown_products(replies: list[dict]) -> list[dict]:
    """The product cards of the replies' custom payloads."""
    return [p for reply in replies for p in (reply.get("custom") or {}).get("products", [])]


def reply_text(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def test_shampoo_under_10_names_real_cheap_shampoos(assistant: Assistant,
                                                    catalog_db: sqlite3.Connection) -> None:
    replies = assistant.send("e2e-shampoo", "show me shampoo under $10")
    products = shown_products(replies)
    text = reply_text(replies)
    assert 1 <= len(products) <= 5, replies
    for card in products:
        row = catalog_db.execute("SELECT title, category, price FROM products WHERE id = ?",
                                 (card["id"],)).fetchone()
        assert row is not None, f"{card['id']} is not in the catalog"
        title, category, price = row
        assert category == "Shampoos", (title, category)
        assert price is not None and price <= 10, (title, price)
        assert format_price(price) in text
        assert title[:40] in text, f"reply does not name {title!r}:\n{text}"
        assert card["reasons"], card


def domain_texts(*responses: str) -> set[str]:
    domain = yaml.safe_load((config.REPO_ROOT / "domain.yml").read_text())
    return {variant["text"] for name in responses for variant in domain["responses"][name]}


def test_greeting_and_off_topic_request_get_the_domain_replies(assistant: Assistant) -> None:
    assert reply_text(assistant.send("e2e-chat", "hello there")) in domain_texts("utter_greet")
    off_topic = reply_text(assistant.send("e2e-chat", "can you book me a flight to Paris?"))
    assert off_topic in domain_texts("utter_out_of_scope", "utter_please_rephrase")
