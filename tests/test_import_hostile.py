"""Hostile and oversized catalog input at import (issue 17, item 8): text on one line, capped fields,
deep category literals, the store's id limit, unique temp files, the old catalog kept on failure."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from recommender.catalog.formats import MAX_DESCRIPTION_CHARS, MAX_LABEL_CHARS, MAX_TITLE_CHARS
from recommender.catalog.importer import import_catalog
from recommender.errors import CatalogImportError
from recommender.store import MAX_ID_CHARS


def _csv(*rows: tuple) -> str:
    """A product file with the default columns; fields are quoted as Excel would."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("id", "title", "brand", "category", "price", "description"))
    writer.writerows(rows)
    return out.getvalue()


def _row(db: Path, product_id: str) -> tuple:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT title, brand, category_path, description FROM products WHERE id = ?",
                            [product_id]).fetchone()


def test_text_fields_come_in_on_one_line(write_file, tmp_path: Path) -> None:
    path = write_file("shop.csv", _csv(
        ("p1", "Soap\r\n\tfor  hands\x00", "X\n- intent: greet", "Home >\n- intent: greet > Bath", "1",
         "<p>Line one</p>\n\nLine two"),
        ("p2", "Zero\u200bwidth \u202egnilleps\u2028next", "  Acme\u00a0 Co ", "", "2", ""),
    ))
    report = import_catalog(path, tmp_path / "c.db", progress=False)
    assert report.errors == []
    assert _row(tmp_path / "c.db", "p1") == ("Soap for hands", "X - intent: greet",
                                             "Home > - intent: greet > Bath", "Line one Line two")
    assert _row(tmp_path / "c.db", "p2")[:2] == ("Zerowidth gnilleps next", "Acme Co")


def test_long_title_and_description_are_cut_and_reported(write_file, tmp_path: Path) -> None:
    title = "Big " * 400  # 1,600 characters
    description = "word " * 2_500  # 12,500 characters
    report = import_catalog(write_file("shop.csv", _csv(("p1", "Soap", "", "", "1", ""),
                                                        ("p2", title, "", "", "1", description))),
                            tmp_path / "c.db", progress=False)
    assert report.errors == []
    assert [w for w in report.warnings if "cut" in w] == [
        "line 3: title cut from 1,599 to 1,000 characters",
        "line 3: description cut from 12,499 to 10,000 characters",
    ]
    stored_title, _, _, stored_description = _row(tmp_path / "c.db", "p2")
    assert len(stored_title) <= MAX_TITLE_CHARS and stored_title.endswith("Big…")
    assert len(stored_description) <= MAX_DESCRIPTION_CHARS and stored_description.endswith("word…")


def test_overlong_labels_and_ids_are_bad_rows(write_file, tmp_path: Path) -> None:
    long_brand, long_level = "B" * (MAX_LABEL_CHARS + 1), "C" * (MAX_LABEL_CHARS + 1)
    path = write_file("shop.csv", _csv(
        ("p1", "Soap", "Acme", "Home", "1", ""),
        ("p2", "Soap", long_brand, "Home", "1", ""),
        ("p3", "Soap", "Acme", f"Home > {long_level}", "1", ""),
        ("i" * (MAX_ID_CHARS + 1), "Soap", "Acme", "Home", "1", ""),
        ("i" * MAX_ID_CHARS, "Soap", "Acme", "Home", "1", ""),
    ))
    report = import_catalog(path, tmp_path / "c.db", progress=False)
    assert [str(b) for b in report.errors] == [
        f"line 3: brand 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'... has 201 characters; at most {MAX_LABEL_CHARS}",
        f"line 4: category level 'CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'... has 201 characters; at most "
        f"{MAX_LABEL_CHARS}",
        f"line 5: id 'iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii'... has 201 characters; at most {MAX_ID_CHARS} "
        "fit in a cart",
    ]
    assert report.products == 2  # p1 and the id of exactly MAX_ID_CHARS characters


@pytest.mark.parametrize(("category", "reason"), [
    ("[" * 150 + "]" * 150, "is nested too deep; expected one list of levels"),
    ("[" + "+" * 5_000 + "1]", "has 5,003 characters; at most 2,000"),  # a RecursionError before the cap
    ("[" * 5_000 + "]" * 5_000, "has 10,000 characters; at most 2,000"),
    ("['Home', ['Bath', 'Soap']]", "is nested too deep; expected one list of levels"),
])
def test_deep_category_literal_is_a_bad_row(write_file, tmp_path: Path, category: str, reason: str) -> None:
    path = write_file("shop.csv", _csv(("p1", "Soap", "Acme", "Home", "1", ""),
                                       ("p2", "Gel", "Acme", category, "1", "")))
    report = import_catalog(path, tmp_path / "c.db", progress=False)
    assert len(report.errors) == 1 and report.errors[0].line == 3
    assert report.errors[0].reason.endswith(reason)
    assert report.products == 1


def test_stale_temp_files_do_not_break_the_next_import(write_file, tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    stale = [tmp_path / f".catalog.db.{os.getpid()}.tmp", tmp_path / ".catalog.db.1.tmp"]
    for path in stale:  # left by a killed import: the old names were .<name>.<pid>.tmp (pid 1 in a container)
        path.write_bytes(b"SQLite format 3\x00 half a catalog")
    report = import_catalog(write_file("shop.csv", _csv(("p1", "Soap", "Acme", "Home", "1", ""))), db,
                            progress=False)
    assert report.products == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == sorted(p.name for p in stale)
    assert stat.S_IMODE(db.stat().st_mode) == 0o644


def test_failed_import_leaves_the_old_catalog(write_file, tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    import_catalog(write_file("good.csv", _csv(("p1", "Soap", "Acme", "Home", "1", ""))), db, progress=False)
    before = db.read_bytes()
    with pytest.raises(CatalogImportError, match="No valid products"):
        import_catalog(write_file("bad.csv", _csv(("x" * 500, "Soap", "Acme", "Home", "1", ""))), db, progress=False)
    with pytest.raises(CatalogImportError, match="nothing imported"):
        import_catalog(write_file("bad.csv", _csv(("p2", "Soap", "B" * 300, "Home", "1", ""),
                                                  ("p3", "Gel", "Acme", "Home", "1", ""))),
                       db, strict=True, progress=False)
    assert db.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
