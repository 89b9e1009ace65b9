"""One price vocabulary (issue 15): the NLU regex features, the actions' price parsing and the ranker's
query clean-up agree on every price phrase of a table.

For each phrase: the NLU's regexes (data/nlu/prices.yml, as Rasa's RegexFeaturizer applies them:
case-insensitive) mark each amount, with the cue of its side where the phrase names one;
``parse_price`` reads each amount as NLU would tag it; and the ranker drops the whole phrase from
the query text ("shampoo under twenty dollars" -> "shampoo"), before or after the product words.
"""

from __future__ import annotations

import re

import pytest
import yaml

from actions.prices import parse_price
from recommender import config
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
}
# Numbers that are no price: no currency, no cue of a budget's side. The ranker keeps them.
NOT_PRICES = ["spf 50 sunscreen", "2 pack shampoo", "24 hour lipstick", "sunscreen spf 30+", "no. 5 perfume"]


@pytest.fixture(scope="module")
def nlu_regexes() -> dict[str, list[re.Pattern]]:
    data = yaml.safe_load((config.REPO_ROOT / "data" / "nlu" / "prices.yml").read_text(encoding="utf-8"))
    return {item["regex"]: [re.compile(line[2:], re.I) for line in item["examples"].splitlines()]
            for item in data["nlu"]}


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
