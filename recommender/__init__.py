"""The recommender: product catalog, text search, hybrid ranking and the collaborative model.

A plain Python package, usable without Rasa. This is its public face: actions, the CLI and other
callers import these names from ``recommender`` itself, e.g. ``from recommender import ProductSearch``.
Each name loads its module on first use, so ``import recommender`` stays cheap: a process that needs
only ``recommender.config`` (the Rasa server) never loads the ranker, sqlite-utils or torch.

Sub-packages, one job each: ``catalog`` (SQLite catalog, keyword index, formats, importer),
``text`` (encoder, embeddings, vector index), ``ranking`` (ranker, query, prices, filters, CF bridge, top-k, reasons),
``cf`` (collaborative model), ``evaluate`` (offline benchmark); ``store`` keeps shoppers' carts,
orders, likes and events.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the module that defines it
_EXPORTS = {
    # catalog
    "Catalog": "recommender.catalog.products",
    "ShopProfile": "recommender.catalog.products",
    "OrderRules": "recommender.catalog.order_lines",
    "REPEATED_IDS": "recommender.catalog.order_lines",
    "parse_not_products": "recommender.catalog.order_lines",
    "InteractionMapping": "recommender.catalog.histories",
    "INTERACTION_PRESETS": "recommender.catalog.histories",
    "Product": "recommender.catalog.products",
    "forget_shoppers": "recommender.catalog.writer",
    "ForgottenShoppers": "recommender.store.forgotten",
    "import_catalog": "recommender.catalog.importer",
    "ImportReport": "recommender.catalog.importer",
    "plural": "recommender.catalog.importer",
    "FORMATS": "recommender.catalog.formats",
    "INTERACTION_FORMATS": "recommender.catalog.histories",
    "PRESETS": "recommender.catalog.formats",
    # text
    "TextEncoder": "recommender.text.encoder",
    "ProductEmbeddings": "recommender.text.embeddings",
    # ranking
    "ProductSearch": "recommender.ranking.ranker",
    "SearchConfig": "recommender.ranking.ranker",
    "SearchOutcome": "recommender.ranking.ranker",
    "ScoredProduct": "recommender.ranking.ranker",
    "Filters": "recommender.ranking.filters",
    "RELAX_ORDER": "recommender.ranking.filters",
    "AUDIENCE_FACETS": "recommender.ranking.filters",
    "format_price": "recommender.ranking.prices",
    "CURRENCY": "recommender.ranking.prices",
    "NUMBER_WORDS": "recommender.ranking.prices",
    "currency_in": "recommender.ranking.prices",
    "parse_query": "recommender.ranking.query",
    "singular_key": "recommender.catalog.types",
    # collaborative model
    "CFRecommender": "recommender.cf.recommender",
    "Recommendation": "recommender.cf.recommender",
    "CFConfig": "recommender.cf.model",
    "TrainConfig": "recommender.cf.train",
    # offline evaluation (shopbot evaluate)
    "BenchmarkConfig": "recommender.evaluate.runner",
    "parse_models": "recommender.evaluate.runner",
    "parse_overrides": "recommender.evaluate.runner",
    "run_benchmark": "recommender.evaluate.runner",
    "write_report": "recommender.evaluate.report",
    # shopper store
    "ShopStore": "recommender.store.shop",
    "CartSummary": "recommender.store.pricing",
    "price_cart": "recommender.store.pricing",
    "to_money": "recommender.store.pricing",
    "Order": "recommender.store.orders",
    "StatusChange": "recommender.store.orders",
    "ORDER_STATUSES": "recommender.store.values",
    # errors
    "ShopbotError": "recommender.errors",
    "BadRow": "recommender.errors",
    "CatalogImportError": "recommender.errors",
    "CatalogNotFound": "recommender.errors",
    "ProductNotFound": "recommender.errors",
    "CheckoutRefused": "recommender.errors",
    "PricesChanged": "recommender.errors",
    "EmptyCart": "recommender.errors",
    "NotInCart": "recommender.errors",
    "InvalidOrderChange": "recommender.errors",
    "InvalidStoreValue": "recommender.errors",
    "OrderNotFound": "recommender.errors",
    "StoreError": "recommender.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load ``name``'s module on first use (PEP 562) and keep the name here."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'recommender' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from recommender.catalog.formats import FORMATS, PRESETS
    from recommender.catalog.histories import INTERACTION_FORMATS
    from recommender.catalog.importer import ImportReport, import_catalog, plural
    from recommender.catalog.products import Catalog, ShopProfile, Product
    from recommender.catalog.writer import forget_shoppers
    from recommender.cf.model import CFConfig
    from recommender.cf.recommender import CFRecommender, Recommendation
    from recommender.cf.train import TrainConfig
    from recommender.evaluate.report import write_report
    from recommender.evaluate.runner import BenchmarkConfig, parse_models, parse_overrides, run_benchmark
    from recommender.errors import (BadRow, CatalogImportError, CatalogNotFound, CheckoutRefused, EmptyCart,
                                    InvalidOrderChange, InvalidStoreValue, NotInCart, OrderNotFound,
                                    PricesChanged, ProductNotFound, ShopbotError, StoreError)
    from recommender.ranking.filters import AUDIENCE_FACETS, RELAX_ORDER, Filters
    from recommender.ranking.prices import CURRENCY, NUMBER_WORDS, currency_in, format_price
    from recommender.catalog.types import singular_key
    from recommender.ranking.query import parse_query
    from recommender.ranking.ranker import ProductSearch, ScoredProduct, SearchConfig, SearchOutcome
    from recommender.store.orders import Order, StatusChange
    from recommender.store.pricing import CartSummary, price_cart, to_money
    from recommender.store.values import ORDER_STATUSES
    from recommender.store.forgotten import ForgottenShoppers
    from recommender.store.shop import ShopStore
    from recommender.text.embeddings import ProductEmbeddings
    from recommender.text.encoder import TextEncoder
