"""Variants: rows of a product file that share a parent id become one product with options.

A shop's export lists each variant (a size, a colour) on its own row with the id of the product it is a
variant of (``--column parent_id=Handle``) and the option columns it differs in (``--option size=Size``).
``group_variants`` folds them into one product per parent id, which search, vectors and filters see,
and one ``variants`` row per variant, which the cart and checkout use:

- a row whose id is the parent id gives the product's own fields; otherwise the first variant row does,
  and every empty field is taken from the first variant that has it;
- the product's price is its lowest variant price; its stock is the sum of its variants' counts (None,
  "not tracked", when a variant does not track stock), so the product is in stock when one variant is;
- a variant without an option value, or with the same options as another variant of its product, is a
  bad row (its line named); so is a row that is a variant and the parent of other rows.

``pick_variants`` reads a shopper's answer to "Which size: S, M or L?" against the options offered.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Variant", "group_variants", "option_label", "pick_variants", "totals"]

_FIRST_FILLED = ("title", "brand", "category_path", "description", "image_url", "rating", "review_count",
                 "sales_rank")


@dataclass(frozen=True)
class Variant:
    """One variant of a product: its id (what goes in a cart), its options and its own price and stock."""

    id: str
    options: tuple[tuple[str, str], ...]  # (option name, value as the shop wrote it): ("size", "M")
    price: float | None
    stock: int | None  # None: not tracked; 0: out of stock

    @property
    def in_stock(self) -> bool:
        return self.stock != 0

    @property
    def label(self) -> str:
        """The option values, "M / Black"."""
        return option_label(self.options)


def option_label(options: Sequence[tuple[str, str]]) -> str:
    """(name, value) pairs as shoppers read them: "M / Black"."""
    return " / ".join(value for _, value in options)


def group_variants(products: list[dict[str, Any]], lines: dict[str, int]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[int, str]]]:
    """Fold variant rows into their products.

    Args:
        products: product dicts of ``formats.parse_product`` (with ``parent_id`` and ``options``), in file order.
        lines: product id -> the line it is on, for the bad rows.

    Returns:
        The products (one per parent, plain products as they were, without the variant keys), the
        variant rows (id, product_id, position, options as JSON, price, stock) and the bad rows as
        (line, reason).
    """
    parents = {p["parent_id"] for p in products if p.get("parent_id") and p["parent_id"] != p["id"]}
    members: dict[str, list[dict[str, Any]]] = {}
    own: dict[str, dict[str, Any]] = {}
    bad: list[tuple[int, str]] = []
    order: list[str] = []
    for p in products:
        parent = p.get("parent_id") or p["id"]
        if parent != p["id"] and p["id"] in parents:
            bad.append((lines[p["id"]], f"{p['id']!r} is a variant of {parent!r} and the parent of other rows"))
            continue
        if parent not in members:
            members[parent] = []
            order.append(parent)
        if parent == p["id"]:
            own[parent] = p
        else:
            members[parent].append(p)
    out, variant_rows = [], []
    for parent in order:
        variants = _valid_variants(parent, members[parent], lines, bad)
        base = own.get(parent)
        if not variants:
            if base is not None:
                out.append(_plain(base))
            continue
        out.append(_parent(parent, base, variants))
        variant_rows += [{"id": v["id"], "product_id": parent, "position": i,
                          "options": json.dumps(v["options"], ensure_ascii=False),
                          "price": v["price"], "stock": v["stock"]} for i, v in enumerate(variants)]
    return out, variant_rows, sorted(bad)


def _valid_variants(parent: str, rows: list[dict[str, Any]], lines: dict[str, int],
                    bad: list[tuple[int, str]]) -> list[dict[str, Any]]:
    seen: dict[tuple, str] = {}
    kept = []
    for v in rows:
        key = tuple((name, value.casefold()) for name, value in v["options"])
        if not key:
            bad.append((lines[v["id"]], f"variant {v['id']!r} of {parent!r} has no option value (map the columns "
                                        "its variants differ in with --option, e.g. --option size=Size)"))
        elif key in seen:
            bad.append((lines[v["id"]], f"variant {v['id']!r} of {parent!r} has the same options as "
                                        f"{seen[key]!r} (line {lines[seen[key]]})"))
        else:
            seen[key] = v["id"]
            kept.append(v)
    return kept


def _plain(p: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in p.items() if k not in ("parent_id", "options")}


def _parent(parent: str, base: dict[str, Any] | None, variants: list[dict[str, Any]]) -> dict[str, Any]:
    product = _plain(base if base is not None else variants[0]) | {"id": parent}
    for name in _FIRST_FILLED:
        if not product.get(name):
            product[name] = next((v[name] for v in variants if v.get(name)), product.get(name))
    product["facets"] = tuple(dict.fromkeys(f for row in (product, *variants) for f in row.get("facets", ())))
    price, product["stock"] = totals([(v["price"], v["stock"]) for v in variants])
    product["price"] = price if price is not None else product.get("price")
    dates = [d for d in (product.get("dated"), *(v.get("dated") for v in variants)) if d is not None]
    product["dated"] = max(dates) if dates else None
    return product


def totals(variants: Sequence[tuple[float | None, int | None]]) -> tuple[float | None, int | None]:
    """A product's price and stock from its variants' (price, stock): the lowest price, the summed
    stock (None, not tracked, when one variant does not track it)."""
    prices = [price for price, _ in variants if price is not None]
    stocks = [stock for _, stock in variants]
    return min(prices) if prices else None, None if None in stocks else sum(stocks)


# -- the shopper's answer -------------------------------------------------------------------------

# Size letters shops write and the words shoppers type for them, both ways round.
_SIZE_WORDS = {"xs": "extra small", "s": "small", "m": "medium", "l": "large", "xl": "extra large",
               "xxl": "extra extra large"}
_SIZE_WORDS |= {word: letter for letter, word in _SIZE_WORDS.items()}
_WORD = re.compile(r"\w+(?:[.,'’-]\w+)*")


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _phrases(value: str) -> list[list[str]]:
    """The word sequences a shopper may type for an option value: itself, and a size letter's word."""
    words = _words(value)
    other = _SIZE_WORDS.get(" ".join(words))
    return [words] + ([other.split()] if other else [])


def _contains(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(words[i:i + n] == phrase for i in range(len(words) - n + 1))


def _typed(words: list[str], phrase: list[str]) -> bool:
    """A whole word sequence of the answer, or, in text without spaces (Chinese), part of it."""
    compact, joined = "".join(words), "".join(phrase)
    return _contains(words, phrase) or (len(joined) > 1 and not compact.isascii() and joined in compact)


def _named(words: list[str], values: set[str]) -> set[str]:
    """The values (casefolded) the answer names; "extra large" names XL, not L as well."""
    hits = {value: max((p for p in _phrases(value) if _typed(words, p)), key=len, default=None) for value in values}
    hits = {value: phrase for value, phrase in hits.items() if phrase}
    return {value.casefold() for value, phrase in hits.items()
            if not any(len(other) > len(phrase) and _contains(other, phrase) for other in hits.values())}


def pick_variants(text: str, options: Sequence[Sequence[Sequence[str]]], position: int | None = None) -> list[int]:
    """Which of the offered variants an answer names, as indexes into ``options``.

    Args:
        text: the shopper's answer ("medium", "the black one in M", "M please", "黑色").
        options: each offered variant's (option name, value) pairs, in the order offered.
        position: a position the answer names ("the second one": 1), counted in the order offered.

    Returns:
        The one variant at ``position``, else the variants having, for every option the answer names a
        value of, one of the values named ("M" of three variants in S, M and M: the two in M); [] when
        the answer names none.
    """
    if position is not None:
        return [position] if 0 <= position < len(options) else []
    named = _named(_words(text), {value for pairs in options for _, value in pairs})
    if not named:
        return []
    wanted: dict[str, set[str]] = {}
    for pairs in options:
        for name, value in pairs:
            if value.casefold() in named:
                wanted.setdefault(name, set()).add(value.casefold())
    return [i for i, pairs in enumerate(options)
            if all(dict(pairs).get(name, "").casefold() in values for name, values in wanted.items())]
