"""Shared pytest fixtures. Keep them generic: several test modules use them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recommender.catalog import Catalog
from recommender.importer import import_catalog

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
    """Rasa servers started by tests keep their conversations in a temporary file, not in var/."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_TRACKER", str(tmp_path_factory.mktemp("conversations") / "conversations.db"))
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
