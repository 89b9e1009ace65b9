"""Loading histories (the catalog's one reader of history files) and the leave-one-out split (issue 3)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.catalog.importer import import_catalog
from recommender.catalog.products import Catalog
from recommender.cf.sequences import from_histories, leave_one_out, load_histories
from recommender.errors import InteractionsFormatError
from tests.conftest import TINY_PRODUCTS_CSV

HISTORIES = [("alice", ["p1", "p2", "p3", "p4"]), ("bob", ["p2", "p5"]), ("carol", ["p3"]),
             ("dave", ["p5", "p1", "p2"])]


def test_sequence_file_round_trip(tmp_path):
    path = tmp_path / "user_sequence.txt"
    path.write_text("".join(f"{s} {' '.join(items)}\n" for s, items in HISTORIES) + "\n")
    assert load_histories(path) == HISTORIES


def test_tsv_sorted_by_order_ties_keep_file_order(tmp_path):
    path = tmp_path / "inter.tsv"
    path.write_text("shopper_id\titem_id\torder\n"
                    "alice\tp3\t3\nbob\tp9\t2024-01-02T10:00:00\nalice\tp1\t1\nalice\tp2\t1\n"
                    "bob\tp8\t2024-01-01\n")
    assert load_histories(path) == [("alice", ["p1", "p2", "p3"]), ("bob", ["p8", "p9"])]


def test_tsv_accepts_recbole_header(tmp_path):
    path = tmp_path / "x.inter"
    path.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\nu\tb\t5\t20\nu\ta\t4\t10\n")
    assert load_histories(path) == [("u", ["a", "b"])]


def test_tsv_errors_name_the_problem(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("shopper_id\titem_id\torder\nalice\tp1\tyesterday\n")
    with pytest.raises(InteractionsFormatError, match="line 2: order 'yesterday' is neither a number nor an ISO 8601"):
        load_histories(path)
    path.write_text("shopper_id\titem_id\twhen\nalice\tp1\t1\n")
    with pytest.raises(InteractionsFormatError, match="has no order column .*; expected one of order, position"):
        load_histories(path)


def test_from_histories_maps_ids_and_drops_empty():
    inter = from_histories(HISTORIES + [("erin", [])])
    assert inter.item_ids == ["p1", "p2", "p3", "p4", "p5"]
    assert inter.shopper_ids == ["alice", "bob", "carol", "dave"]
    assert inter.sequences[3].tolist() == [4, 0, 1]
    assert inter.n_interactions == 10
    assert inter.item_counts().tolist() == [2, 3, 2, 1, 2]


def test_from_histories_with_catalog_ids_rejects_unknown_items():
    inter = from_histories(HISTORIES, item_ids=["p5", "p4", "p3", "p2", "p1", "p0"])
    assert inter.sequences[0].tolist() == [4, 3, 2, 1]
    with pytest.raises(InteractionsFormatError, match="item 'p5', which is not in the catalog"):
        from_histories(HISTORIES, item_ids=["p1", "p2", "p3", "p4"])
    with pytest.raises(InteractionsFormatError, match="appears twice"):
        from_histories([("a", ["p1"]), ("a", ["p2"])])


def test_leave_one_out_invariants():
    inter = from_histories(HISTORIES)
    split = leave_one_out(inter)
    for s, seq in enumerate(inter.sequences):
        rebuilt = np.concatenate([split.train[s], [t for t in (split.valid[s], split.test[s]) if t >= 0]])
        assert rebuilt.tolist() == seq.tolist()          # train + valid + test == all, in order
        if len(seq) >= 2:
            assert split.test[s] == seq[-1]
        if len(seq) >= 3:
            assert split.valid[s] == seq[-2]
    assert split.valid.tolist() == [2, -1, -1, 0]
    assert split.test.tolist() == [3, 4, -1, 1]


def test_split_inputs_per_stage():
    split = leave_one_out(from_histories(HISTORIES))
    shoppers, histories, targets = split.inputs("valid")
    assert shoppers.tolist() == [0, 3] and targets.tolist() == [2, 0]
    assert [h.tolist() for h in histories] == [[0, 1], [4]]
    shoppers, histories, targets = split.inputs("test")
    assert shoppers.tolist() == [0, 1, 3] and targets.tolist() == [3, 4, 1]
    assert [h.tolist() for h in histories] == [[0, 1, 2], [1], [4, 0]]   # test input = train + valid item


def test_a_shopper_on_two_lines_is_reported_with_both_line_numbers(tmp_path):
    path = tmp_path / "seq.txt"
    path.write_text("alice p1 p2\nbob p3\n\nalice p4\n")
    with pytest.raises(InteractionsFormatError, match=r"line 4: shopper 'alice' is already on line 1"):
        load_histories(path)


@pytest.mark.parametrize("row, reason", [
    ("alice\t\t1", "line 3: missing product id"),
    ("\tp2\t1", "line 3: missing shopper id"),
    ("alice\tp2\t", "line 3: missing order"),
    ("alice\tp2\t1\textra", "line 3: expected 3 columns, found 4"),
])
def test_tsv_rows_the_importer_rejects_stop_the_evaluation(tmp_path, row, reason):
    path = tmp_path / "bad.tsv"
    path.write_text(f"shopper_id\titem_id\torder\nalice\tp1\t1\n{row}\n")
    with pytest.raises(InteractionsFormatError, match=f"^{path}, {reason}$"):
        load_histories(path)


def test_a_byte_order_mark_is_not_part_of_the_first_id(tmp_path):
    path = tmp_path / "seq.txt"
    path.write_text("\ufeffalice p1 p2\n", encoding="utf-8")
    assert load_histories(path) == [("alice", ["p1", "p2"])]
    path.write_text("\ufeffuser_id\titem_id\ttime\nu\tb\t2\nu\ta\t1\n", encoding="utf-8")
    assert load_histories(path) == [("u", ["a", "b"])]


def test_the_evaluation_and_the_importer_read_a_table_alike(tmp_path):
    path = tmp_path / "inter.tsv"
    path.write_text("shopper_id\titem_id\ttimestamp\ns2\tp5\t2024-03-02\ns1\tp3\t20\ns1\tp1\t10\ns2\tp2\t1709251200\n")
    products = tmp_path / "p.csv"
    products.write_text(TINY_PRODUCTS_CSV)
    report = import_catalog(products, tmp_path / "c.db", interactions=path, progress=False)
    with Catalog.open(report.db_path) as cat:
        assert sorted(load_histories(path)) == list(cat.iter_histories()) == [("s1", ["p1", "p3"]),
                                                                           ("s2", ["p2", "p5"])]
