"""Named exceptions of the recommender package; the CLI and the actions turn them into one clean line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recommender.store.pricing import CartSummary


class ShopbotError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidSetting(ShopbotError):
    """An environment variable holds a value the shop cannot use."""


# --- catalog (recommender/catalog/products.py, recommender/catalog/importer.py) -------------------


@dataclass(frozen=True)
class BadRow:
    """One rejected input row: the file, its 1-based line number and the reason."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class CatalogNotFound(ShopbotError):
    """The catalog file is missing or is not a shopbot catalog."""


class ProductNotFound(ShopbotError, KeyError):
    """No product with this id in the catalog."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class CatalogImportError(ShopbotError):
    """An import failed; the previous catalog file was left untouched."""

    def __init__(self, message: str, bad_rows: list[BadRow] | None = None) -> None:
        super().__init__(message)
        self.bad_rows: list[BadRow] = list(bad_rows or [])


# --- shopper-state store (recommender/store/) -----------------------------------------------------


class StoreError(ShopbotError):
    """The store file is not a shopbot store, or was written by another schema version."""


class InvalidStoreValue(ShopbotError, ValueError):
    """An id, quantity, event kind, source, time, grouping, order status, note or order line not allowed."""


class NotInCart(ShopbotError, KeyError):
    """The product is not in this shopper's cart."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class EmptyCart(ShopbotError):
    """Checkout of an empty cart."""


class CheckoutRefused(ShopbotError):
    """Checkout refused: a cart product has no known price, is out of stock or is no longer in the catalog;
    ``cart`` is the priced cart that was refused."""

    def __init__(self, message: str, cart: CartSummary | None = None) -> None:
        super().__init__(message)
        self.cart = cart


class PricesChanged(CheckoutRefused):
    """Checkout refused because a price changed since the shopper was shown it (``cart.repriced``); the cart now
    holds today's prices as shown, so the next checkout orders at them."""


class OrderNotFound(ShopbotError, KeyError):
    """No order with this id (for a shopper: none of theirs; whose it is, is never said)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InvalidOrderChange(ShopbotError):
    """A status change, cancellation or return the order's status (or return window) does not allow."""


# --- shopper histories, collaborative model, offline evaluation (recommender/cf/, evaluate/) ------


class InteractionsFormatError(ShopbotError):
    """An interactions file is not in one of the documented formats."""


class CatalogMismatch(ShopbotError):
    """A saved model was trained on a different catalog than the one in use."""


class ModelNotFitted(ShopbotError):
    """The recommender was used before fit() or load()."""


class UnknownModel(ShopbotError):
    """A model name the benchmark does not know."""


class BadOverride(ShopbotError):
    """A ``FIELD=VALUE`` override that names no config field or has a value of the wrong type."""
