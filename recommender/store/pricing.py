"""Pricing a cart with today's catalog, exact to the cent; no SQL of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from recommender.catalog.products import Catalog, Product
from recommender.store.carts import CartLine
from recommender.store.values import CENT



@dataclass(frozen=True)
class PricedLine:
    """A cart line with its catalog product; prices are None when the catalog has none."""

    product: Product
    quantity: int
    unit_price: Decimal | None
    line_total: Decimal | None
    shown_price: Decimal | None = None  # the unit price the shopper was shown for it (None: not known)

    @property
    def repriced(self) -> bool:
        """True when today's price differs from the one the shopper was shown."""
        return None not in (self.shown_price, self.unit_price) and self.shown_price != self.unit_price


@dataclass(frozen=True)
class CartSummary:
    """A priced cart. ``total`` sums the priced lines only, exact to the cent."""

    lines: list[PricedLine]  # products still in the catalog, in the order added
    total: Decimal
    unpriced: list[Product]  # in ``lines`` but without a price (not in the total)
    missing: list[str]  # product ids no longer in the catalog (neither in lines nor total)

    @property
    def complete(self) -> bool:
        """True when every line is in the catalog and priced, so ``total`` is the cart's price."""
        return not self.unpriced and not self.missing

    @property
    def sold_out(self) -> list[Product]:
        """The products of ``lines`` now marked out of stock (they cannot be ordered)."""
        return [line.product for line in self.lines if not line.product.in_stock]

    @property
    def repriced(self) -> list[PricedLine]:
        """The lines whose price changed since the shopper was shown it."""
        return [line for line in self.lines if line.repriced]

    @property
    def orderable(self) -> bool:
        """True when the cart can be checked out: complete, and nothing in it out of stock."""
        return self.complete and not self.sold_out


def to_money(price: float | Decimal) -> Decimal:
    """A catalog price as an exact Decimal rounded to the cent (half up): 8.99 -> Decimal('8.99')."""
    return Decimal(str(price)).quantize(CENT, rounding=ROUND_HALF_UP)


def price_cart(lines: Sequence[CartLine], catalog: Catalog) -> CartSummary:
    """Price cart lines with today's catalog; products gone from it are reported in ``missing``."""
    products = {p.id: p for p in catalog.get_products([line.product_id for line in lines])}
    priced: list[PricedLine] = []
    missing: list[str] = []
    for line in lines:
        product = products.get(line.product_id)
        if product is None:
            missing.append(line.product_id)
            continue
        unit = to_money(product.price) if product.price is not None else None
        total = unit * line.quantity if unit is not None else None
        priced.append(PricedLine(product, line.quantity, unit, total, line.price))
    return CartSummary(
        lines=priced,
        total=sum((p.line_total for p in priced if p.line_total is not None), Decimal("0.00")),
        unpriced=[p.product for p in priced if p.unit_price is None],
        missing=missing,
    )


def refusal(summary: CartSummary) -> str:
    """Why a cart that is not ``orderable`` cannot be checked out, naming each product to remove."""
    problems = [f"{p.display_title} ({p.id}) has no price" for p in summary.unpriced]
    problems += [f"{p.display_title} ({p.id}) is out of stock" for p in summary.sold_out]
    problems += [f"product {pid!r} is no longer in the catalog" for pid in summary.missing]
    return f"Cannot check out: {'; '.join(problems)}. Remove {'it' if len(problems) == 1 else 'them'} first."
