"""bot.cli catalog commands, run in-process with click's CliRunner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli
from recommender import config
from tests.conftest import TINY_PRODUCTS_CSV, TINY_SEQUENCES


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_build_stats_and_keyword_search(runner: CliRunner, write_file, tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    products, sequences = write_file("shop.csv", TINY_PRODUCTS_CSV), write_file("h.txt", TINY_SEQUENCES)
    result = runner.invoke(cli, ["catalog", "build", str(products), "--interactions", str(sequences),
                                 "--db", str(db), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Imported 6 products, 3 shoppers and 7 interactions into {db} in ")
    assert result.stderr == ""

    result = runner.invoke(cli, ["catalog", "stats", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "products             6\n" in result.stdout
    assert "interactions         7\n" in result.stdout

    result = runner.invoke(cli, ["catalog", "keyword-search", "volume shampoo", "--limit", "1", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("p6 ")
    assert "Volume Shampoo ($4.25)  [volume, shampoo]" in result.stdout


def test_keyword_search_json_and_no_results(runner: CliRunner, tiny_catalog_path: Path) -> None:
    result = runner.invoke(cli, ["catalog", "keyword-search", "lipstick", "--json", "--db", str(tiny_catalog_path)])
    assert result.exit_code == 0, result.output
    assert '"id": "p2"' in result.stdout and '"brand": "L\'Oreal Paris"' in result.stdout
    result = runner.invoke(cli, ["catalog", "keyword-search", '"NEAR( OR *', "--db", str(tiny_catalog_path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == "No products match '\"NEAR( OR *'.\n"


def test_build_lists_bad_rows_with_line_numbers(runner: CliRunner, write_file, tmp_path: Path) -> None:
    rows = "id,title,brand,category,price\n" + "".join(f"b{i},Soap,Acme,Beauty,x{i}\n" for i in range(25))
    rows += "ok,Soap,Acme,Beauty,1\n"
    result = runner.invoke(cli, ["catalog", "build", str(write_file("bad.csv", rows)), "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "Skipped 25 bad rows:"
    assert lines[1] == "  bad.csv line 2: price 'x0' is not a number"
    assert lines[20] == "  bad.csv line 21: price 'x19' is not a number"
    assert lines[21] == "  ... and 5 more"
    assert "Imported 1 product, 0 shoppers and 0 interactions" in result.stdout


def test_strict_build_fails_with_one_error_line(runner: CliRunner, write_file, tiny_catalog_path: Path) -> None:
    before = tiny_catalog_path.read_bytes()
    bad = write_file("bad.csv", "id,title,brand,category,price\nx1,Soap,Acme,Beauty,-1\nx2,Soap,Acme,Beauty,1\n")
    result = runner.invoke(cli, ["catalog", "build", str(bad), "--strict", "--db", str(tiny_catalog_path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "1 bad row:",
        "  bad.csv line 2: price '-1' is negative",
        f"Error: 1 bad row in {bad} (first: line 2: price '-1' is negative); nothing imported (strict mode).",
    ]
    assert tiny_catalog_path.read_bytes() == before


def test_missing_products_file_is_one_error_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["catalog", "build", "missing.csv", "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 1
    assert result.output == "Error: Products file 'missing.csv' not found.\n"


def test_missing_catalog_is_one_error_line(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    result = runner.invoke(cli, ["catalog", "stats", "--db", str(db)])
    assert result.exit_code == 1
    assert result.output == f'Error: No catalog at {db}. Build it with "shopbot catalog build --db {db}".\n'


def test_default_catalog_path_comes_from_config(runner: CliRunner, tiny_catalog_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPBOT_CATALOG", str(tiny_catalog_path))
    assert config.catalog_path() == tiny_catalog_path
    result = runner.invoke(cli, ["catalog", "stats", "--json"])
    assert result.exit_code == 0, result.output
    assert '"products": 6' in result.stdout


def test_column_option(runner: CliRunner, write_file, tmp_path: Path) -> None:
    shop = write_file("shop.csv", "sku,title,brand,category,price\nA1,Soap,Acme,Bath,2\n")
    db = str(tmp_path / "c.db")
    result = runner.invoke(cli, ["catalog", "build", str(shop), "--column", "id=sku", "--db", db, "-q"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["catalog", "build", str(shop), "--column", "id", "--db", db])
    assert result.exit_code == 2
    assert "Invalid value for --column: 'id' is not FIELD=COLUMN, e.g. id=sku" in result.stderr
    result = runner.invoke(cli, ["catalog", "build", str(shop), "--column", "colour=c", "--db", db])
    assert result.output.startswith("Error: Unknown product field(s) ['colour']")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [(), *[p for p, _ in _commands(cli)]], ids=lambda p: " ".join(p) or "shopbot")
def test_every_command_has_help_with_an_example(runner: CliRunner, path: tuple[str, ...]) -> None:
    result = runner.invoke(cli, [*path, "-h"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    assert "Example" in result.output, f"'shopbot {' '.join(path)}' help has no example"


def test_python_dash_m_bot(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "catalog", "-h"], capture_output=True, text=True,
                            cwd=config.REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: shopbot catalog [OPTIONS] COMMAND [ARGS]...")


def test_evaluate_names_its_results_after_the_histories(tmp_path: Path) -> None:
    from bot.cli import default_report_name

    (tmp_path / "uk-gifts").mkdir()
    assert default_report_name(tmp_path / "ml-100k.inter") == "ml-100k"
    assert default_report_name(tmp_path / "uk-gifts" / "orders.csv") == "orders"
    assert default_report_name(tmp_path / "uk-gifts" / "interactions.tsv") == "uk-gifts"
    assert default_report_name(config.SHIPPED_SEQUENCES) == config.SHIPPED_SEQUENCES.parent.name
