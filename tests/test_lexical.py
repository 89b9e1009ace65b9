"""BM25 over a few texts in memory (recommender/text/lexical.py), as policy answers use it."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.text.lexical import Bm25, terms

SECTIONS = ["Returns: you can return most items within 30 days; returned items are refunded.",
            "Payment: we accept cards and PayPal.",
            "退货：签收后30天内可以退货。"]


def test_terms_drop_stop_words_strip_suffixes_and_pair_chinese_characters():
    assert terms("What are the Returns policies?") == ["return", "policy"]
    assert terms("returned, returning") == ["return", "return"]
    assert terms("退货期限") == ["退货", "货期", "期限"]


def test_a_query_scores_the_texts_that_have_its_terms_from_0_to_1():
    index = Bm25(SECTIONS)
    scores = index.scores("how do I return something")
    assert scores.argmax() == 0 and scores[1] == 0.0 and 0 < scores[0] <= 1
    assert index.scores("退货期限是多久").argmax() == 2
    assert index.scores("paypal").argmax() == 1
    np.testing.assert_array_equal(index.scores("the a of"), np.zeros(3))       # only stop words
    np.testing.assert_array_equal(index.scores("bitcoin"), np.zeros(3))        # a term no text has


def test_a_term_no_text_has_lowers_the_score_of_those_that_match_the_rest():
    index = Bm25(SECTIONS)
    alone, with_unknown = index.scores("paypal")[1], index.scores("paypal bitcoin")[1]
    idf = np.log(1 + (3 - 1 + 0.5) / 1.5), np.log(1 + 3.5 / 0.5)  # paypal's, and an unknown term's (the highest)
    assert with_unknown == pytest.approx(alone * idf[0] / (idf[0] + idf[1]))
