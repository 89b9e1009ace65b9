"""One price vocabulary (issue 15): the NLU regex features, the actions' price parsing and the ranker's
query clean-up agree on every price phrase of a table.

For each phrase: the NLU's regexes (``nlu_regexes``, which data/nlu/prices.yml lists:
tests/test_nlu_data.py checks that the file is up to date; applied as Rasa's RegexFeaturizer does:
case-insensitive) mark each amount, with the cue of its side where the phrase names one;
``parse_price`` reads each amount as NLU would tag it; and the ranker drops the whole phrase from
the query text ("shampoo under twenty dollars" -> "shampoo"), before or after the product words.
"""

from __future__ import annotations

import re

import pytest

from actions.prices import parse_price
from recommender.ranking.prices import currency_in, format_price, nlu_regexes as price_regexes
from recommender.ranking.query import parse_query

# phrase -> the amounts in it: (side, the text NLU would tag, its value); side "any" = no cue says which
# ("20€"; the first number of "10 to 20 dollars": the action sorts two amounts into a range).
PHRASES = {
    "under $20": [("max", "$20", 20)],
    "under 20 euros": [("max", "20 euros", 20)],
    "under twenty dollars": [("max", "twenty dollars", 20)],
    "less than 15 bucks": [("max", "15 bucks", 15)],
    "no more than $40": [("max", "$40", 40)],
    "up to fifteen quid": [("max", "fifteen quid", 15)],
    "max 50": [("max", "50", 50)],
    "cheaper than twenty-five dollars": [("max", "twenty-five dollars", 25)],
    "$25 or less": [("max", "$25", 25)],
    "under 1,200 dollars": [("max", "1,200 dollars", 1200)],
    "over £30": [("min", "£30", 30)],
    "at least 25 dollars": [("min", "25 dollars", 25)],
    "above 12.50 euros": [("min", "12.50 euros", 12.5)],
    "starting at €15": [("min", "€15", 15)],
    "30 dollars or more": [("min", "30 dollars", 30)],
    "$50+": [("min", "$50", 50)],
    "between 10 and 20 dollars": [("min", "10", 10), ("max", "20 dollars", 20)],
    "between $5 and $10": [("min", "$5", 5), ("max", "$10", 10)],
    "10 to 20 dollars": [("any", "10", 10), ("max", "20 dollars", 20)],
    "$10-$20": [("any", "$10", 10), ("any", "$20", 20)],
    "20€": [("any", "20€", 20)],
    "around 30 usd": [("any", "30 usd", 30)],
    "for 20 bucks": [("any", "20 bucks", 20)],
    # other currencies: symbols, words and codes before or after the amount
    "under 1500 rupees": [("max", "1500 rupees", 1500)],
    "under ₹1500": [("max", "₹1500", 1500)],
    "below Rs. 1,299": [("max", "Rs. 1,299", 1299)],
    "rs 500 or less": [("max", "rs 500", 500)],
    "under 400 euros": [("max", "400 euros", 400)],
    "over AED 200": [("min", "AED 200", 200)],
    "between 100 and 250 dirhams": [("min", "100", 100), ("max", "250 dirhams", 250)],
    "under 20 pounds": [("max", "20 pounds", 20)],
    "30 gbp or more": [("min", "30 gbp", 30)],
    "for 20 pounds": [("any", "20", 20)],
}
# Numbers that are no price: no currency, no cue of a budget's side. The ranker keeps them.
NOT_PRICES = ["spf 50 sunscreen", "2 pack shampoo", "24 hour lipstick", "sunscreen spf 30+", "no. 5 perfume",
              "10 pound dumbbells", "55 inch tv"]


@pytest.fixture(scope="module")
def nlu_regexes() -> dict[str, list[re.Pattern]]:
    return {name: [re.compile(pattern, re.I) for pattern in patterns] for name, patterns in price_regexes().items()}


SIDES = {"max": ["price_max_cue"], "min": ["price_min_cue"], "any": ["money", "number_word"]}


@pytest.mark.parametrize("phrase", PHRASES)
def test_the_nlu_regexes_mark_each_amount_with_its_side(nlu_regexes, phrase):
    for side, tagged, _ in PHRASES[phrase]:
        start = phrase.index(tagged)
        end = start + len(tagged)
        matches = [m for name in SIDES[side] for pattern in nlu_regexes[name] for m in pattern.finditer(phrase)]
        assert any(m.start() < end and start < m.end() for m in matches), (side, tagged)


@pytest.mark.parametrize("phrase", PHRASES)
def test_the_actions_parse_each_amount(phrase):
    assert [parse_price(tagged) for _, tagged, _ in PHRASES[phrase]] == [amount for *_, amount in PHRASES[phrase]]


@pytest.mark.parametrize("phrase", PHRASES)
def test_the_ranker_drops_the_phrase_from_the_query_text(phrase):
    for query in (f"shampoo {phrase}", f"{phrase} shampoo", f"show me a shampoo {phrase.upper()} please"):
        q = parse_query(query, 300)
        assert (q.text.lower(), q.terms) == ("shampoo", ("shampoo",)), query


@pytest.mark.parametrize("query", NOT_PRICES)
def test_the_ranker_keeps_numbers_that_are_no_price(query):
    q = parse_query(query, 300)
    assert q.text == query.rstrip("+") and re.search(r"\d+", query).group() in q.terms


def test_a_price_in_another_currency_leaves_the_product_words():
    q = parse_query("a 55 inch tv under 400 euros", 300)
    assert q.text == "55 inch tv" and q.terms == ("55", "inch", "tv")
    assert parse_query("black jeans for women under 1500 rupees", 300).text == "black jeans for women"
    assert parse_query("jeans in rupees", 300).terms == ("jeans",)


@pytest.mark.parametrize("text,code", [
    ("under $20", "USD"), ("twenty bucks", "USD"), ("jeans in dollars", "USD"), ("20€", "EUR"),
    ("a 55 inch tv under 400 euros", "EUR"), ("EUR 30", "EUR"), ("over £30", "GBP"), ("up to fifteen quid", "GBP"),
    ("under 20 pounds", "GBP"), ("under 1500 rupees", "INR"), ("black jeans under ₹1500", "INR"),
    ("Rs. 1,299", "INR"), ("\u20a8 500", "INR"), ("1500 INR max", "INR"), ("under 200 dhs", "AED"),
    ("2 dirhams", "AED"), ("aed 50", "AED"), ("50 CHF or less", "CHF"), ("JPY 5000", "JPY"),
    # the first currency of a price phrase wins over a mention elsewhere
    ("dollar store mugs under £5", "GBP"),
    # no currency: bare numbers, weights, words that are no currency code away from an amount
    ("under 1500", None), ("10 pound dumbbells", None), ("top 10 lipsticks", None), ("show me rs shoes", None),
    ("size 8 all black", None), ("", None),
])
def test_currency_in_names_the_currency_a_shopper_writes(text, code):
    assert currency_in(text) == code


@pytest.mark.parametrize("value,currency,text", [
    (20, "USD", "$20"), (20.5, "USD", "$20.50"), (1200, "USD", "$1,200"), (1299, "INR", "₹1,299"),
    (12.99, "EUR", "€12.99"), (3.5, "GBP", "£3.50"), (1050, "AED", "AED 1,050"), (1050.5, "aed", "AED 1,050.50"),
    (1200, "JPY", "¥1,200"), (0.99, "USD", "$0.99"),
])
def test_format_price_in_the_catalog_currency(value, currency, text):
    assert format_price(value, currency) == text
