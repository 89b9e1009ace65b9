"""Likes and dislikes, and the products that personalise a shopper's next recommendations."""

from __future__ import annotations

from dataclasses import dataclass

from recommender.store.connection import StoreFile
from recommender.store.values import check_id


@dataclass(frozen=True)
class Feedback:
    """A shopper's current opinions, oldest first; the latest like or dislike of a product wins."""

    liked: list[str]
    disliked: list[str]


class Likes(StoreFile):
    """The ``feedback`` table: one opinion per shopper and product."""

    def like(self, shopper_id: str, product_id: str) -> None:
        """Record that the shopper likes the product (replaces an earlier dislike)."""
        self._set_opinion(shopper_id, product_id, "like")

    def dislike(self, shopper_id: str, product_id: str) -> None:
        """Record that the shopper dislikes the product (replaces an earlier like)."""
        self._set_opinion(shopper_id, product_id, "dislike")

    def _set_opinion(self, shopper_id: str, product_id: str, opinion: str) -> None:
        check_id(shopper_id, "Shopper id")
        check_id(product_id, "Product id")
        now = self._now()
        with self._write():  # deleted and inserted again: the row moves to the end of the time order
            self._execute("DELETE FROM feedback WHERE shopper_id = ? AND product_id = ?", [shopper_id, product_id])
            self._execute("INSERT INTO feedback (shopper_id, product_id, opinion, at) VALUES (?, ?, ?, ?)",
                          [shopper_id, product_id, opinion, now])

    def forget_opinion(self, shopper_id: str, product_id: str) -> str | None:
        """Delete the shopper's like or dislike of the product; returns which it was ("like", "dislike"),
        None when there was none."""
        with self._write():
            rows = self._rows("DELETE FROM feedback WHERE shopper_id = ? AND product_id = ? RETURNING opinion",
                              [shopper_id, product_id])
        return rows[0][0] if rows else None

    def feedback(self, shopper_id: str) -> Feedback:
        """The shopper's liked and disliked products, each oldest first."""
        rows = self._rows("SELECT product_id, opinion FROM feedback WHERE shopper_id = ? ORDER BY at, rowid",
                          [shopper_id])
        return Feedback(liked=[p for p, o in rows if o == "like"], disliked=[p for p, o in rows if o == "dislike"])

    def session_items(self, shopper_id: str) -> list[str]:
        """The products that personalise this shopper's next recommendations, oldest first.

        Liked products, products in the cart and ordered products, each placed at the time it was
        liked, first added or ordered (a product appears once, at its earliest time), minus the
        products the shopper currently dislikes.
        """
        rows = self._rows(
            "SELECT product_id FROM ("
            "  SELECT product_id, at, 0 AS k, rowid AS r FROM feedback WHERE shopper_id = :s AND opinion = 'like'"
            "  UNION ALL SELECT product_id, added_at, 1, rowid FROM cart WHERE shopper_id = :s"
            "  UNION ALL SELECT i.product_id, o.created_at, 2, i.position"
            "    FROM order_items i JOIN orders o USING (order_id) WHERE o.shopper_id = :s"
            ") AS mine WHERE product_id NOT IN"
            "  (SELECT product_id FROM feedback WHERE shopper_id = :s AND opinion = 'dislike')"
            " ORDER BY at, k, r", {"s": shopper_id})
        return list(dict.fromkeys(r[0] for r in rows))
