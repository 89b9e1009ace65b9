"""Chinese phrases that English writes as separate words: references to listed products and "cheaper".

Chinese has no spaces, so the NLU's entity model (whitespace tokens) cannot tag these; the NLU step
bot/chinese_entities.py tags them with what this module reads, in the forms the actions already
understand:

- ``ordinals``: "第二个" -> "2", "前两个" -> "first 2", "最后一个" -> "last", "最后两个" -> "last 2",
  "倒数第二个" -> "2 to last", "这两个" / "这俩" -> "both", "3号" -> "3" (actions/references.py);
- ``relative_price``: "便宜一点" -> "lower", "贵一点的" -> "higher" (the entity relative_price);
- ``order_numbers``: "12号订单", "订单12", "订单号 1043", "#345" -> "12", "12", "1043", "345" (the entity
  order_number); a number so used is not a position;
- prices are read with the price vocabulary: ``recommender.ranking.prices.zh_prices``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recommender.ranking.prices import zh_number

__all__ = ["Mention", "order_numbers", "ordinals", "relative_price"]

_NUMERAL = r"(?:\d+|[一二两三四五六七八九十]+)"
# Measure words after a position: "第二个", "第3款", "前两件".
_MEASURE = r"[个款件种条本双台瓶支只套盒把张部]"
_ORDINAL = re.compile(
    rf"倒数第(?P<from_end>{_NUMERAL}){_MEASURE}?"
    rf"|第(?P<position>{_NUMERAL}){_MEASURE}?"
    rf"|(?:前|头)(?P<first>{_NUMERAL}){_MEASURE}"
    rf"|(?:最后|后)(?P<last>{_NUMERAL}){_MEASURE}"
    rf"|最后(?:一|那)(?:{_MEASURE})"
    rf"|(?P<both>这两{_MEASURE}|那两{_MEASURE}|这俩|那俩|两{_MEASURE}都)"
    rf"|(?<![\d.])(?P<number>\d{{1,2}})号(?!订单)")
_ORDER_NUMBER = re.compile(r"(?<![\d.])(\d{1,9})\s*号订单|订单(?:号|编号)?\s*(?:是|为)?\s*[#＃]?\s*(\d{1,9})|[#＃]\s*(\d{1,9})")
LOWER = ("便宜", "实惠", "划算", "低价", "平价", "太贵", "不要这么贵", "别这么贵")
HIGHER = ("贵一点", "贵点", "贵些", "更贵", "高端", "高档", "好一点", "档次高")
_SOLD_OUT = r"(?:缺货|售罄|卖完了?|没货|无货)"
# "including out of stock": a word for it with a cue of inclusion before ("包括缺货的") or after ("缺货的也给我看看")
_OUT_OF_STOCK_TOO = re.compile(rf"(?:包括|包含|加上|算上|连)(?:那些)?{_SOLD_OUT}|{_SOLD_OUT}的?(?:商品|东西)?(?:也|都)")
_LOWER = re.compile("|".join(LOWER))
_HIGHER = re.compile("|".join(HIGHER))


@dataclass(frozen=True)
class Mention:
    """A phrase of the text, its span and the value the actions read."""

    value: str
    start: int
    end: int


def _count(numeral: str) -> int | None:
    n = zh_number(numeral)
    return int(n) if n is not None and n >= 1 else None


def ordinals(text: str) -> list[Mention]:
    """The references to listed products in a Chinese text, in order.

    >>> [m.value for m in ordinals("第二个加入购物车，还有前两个、最后一个和倒数第二个")]
    ['2', 'first 2', 'last', '2 to last']
    """
    found = []
    for match in _ORDINAL.finditer(text):
        groups = match.groupdict()
        kind = next((k for k in ("from_end", "position", "first", "last") if groups[k]), None)
        n = _count(groups[kind]) if kind else None
        if kind and n is None:
            continue
        if groups["both"]:
            value = "both"
        elif groups["number"]:
            value = groups["number"]
        elif kind == "from_end":
            value = f"{n} to last"
        elif kind == "first":
            value = f"first {n}"
        elif kind == "last" and n > 1:
            value = f"last {n}"
        elif kind == "position":
            value = str(n)
        else:
            value = "last"
        found.append(Mention(value, match.start(), match.end()))
    return found


def relative_price(text: str) -> Mention | None:
    """"lower" for a cheaper one ("便宜一点", "太贵了"), "higher" for a pricier one ("贵一点的"), else None.

    >>> [m and m.value for m in (relative_price(t) for t in ("再便宜点", "太贵了", "来个贵一点的", "第二个"))]
    ['lower', 'lower', 'higher', None]
    """
    for pattern, value in ((_LOWER, "lower"), (_HIGHER, "higher")):
        if match := pattern.search(text):
            return Mention(value, match.start(), match.end())
    return None


def out_of_stock_too(text: str) -> Mention | None:
    """"stock" (drop_filter's value: show the products out of stock too) when the text asks for them, else None.

    >>> [m and m.value for m in (out_of_stock_too(t) for t in ("包括缺货的", "没货的也列出来吧", "第一个缺货吗"))]
    ['stock', 'stock', None]
    """
    match = _OUT_OF_STOCK_TOO.search(text)
    return Mention("stock", match.start(), match.end()) if match else None


def order_numbers(text: str) -> list[Mention]:
    """The order numbers a Chinese text names.

    >>> [m.value for m in order_numbers("12号订单到哪了？订单号 1043 呢，还有#7")]
    ['12', '1043', '7']
    """
    return [Mention(next(g for g in m.groups() if g), m.start(), m.end()) for m in _ORDER_NUMBER.finditer(text)]
