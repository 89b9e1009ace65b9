"""The name of every slot the actions read or set (declared in domain.yml under ``slots``)."""

from __future__ import annotations

# constraints on the listing; Filters has a field of the same name for each
CATEGORY = "category"
BRAND = "brand"
PRICE_MIN = "price_min"
PRICE_MAX = "price_max"
FACETS = "facets"  # {facet name: value}, e.g. {"colour": "black"}; None when there are none
FILTERS = (CATEGORY, BRAND, PRICE_MIN, PRICE_MAX, FACETS)
ENTITY_FILTERS = (CATEGORY, BRAND, PRICE_MIN, PRICE_MAX)  # the filters NLU tags as entities of the same name
# False when the shopper asked for products out of stock too ("including out of stock"); None: in stock only
IN_STOCK = "in_stock"
CONSTRAINTS = (*FILTERS, IN_STOCK)  # what a listing is constrained by: its filters and the stock choice

QUERY = "query"  # the words of the current search
UNCLEAR = "unclear_text"  # a message the NLU was unsure of, until a clarifying button says what it meant
LISTING = "listing"  # what the products last shown came from: {"kind": ..., "product_id": ...}
SHOWN = "shown_product_ids"  # the page last shown, in order
SEEN = "seen_product_ids"  # every product of the listing shown so far
REASONS = "shown_reasons"  # product id -> the reasons it was shown with
FOCUS = "focus_product_id"  # the product the conversation is about ("add it")
VARIANT_QUESTION = "variant_question"  # "Which size?" asked, until answered (actions/variants.py)
LANGUAGE = "language"  # the conversation's language ("en", "zh", ...), set by the NLU from each message
ORDER = "order_number"  # the shopper's order last talked about ("cancel it"), its number as text
ORDER_CHANGE = "order_change"  # a cancel or return asked for: {"kind": "cancel" | "return", "order", "positions"}
