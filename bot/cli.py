"""The ``shopbot`` command line: the group, its small commands and ``evaluate``; the catalog commands
are in ``bot/cli_catalog.py``, the ones that start servers (chat, serve, web) in ``bot/cli_servers.py``,
``retention`` in ``bot/cli_retention.py``, ``orders`` in ``bot/cli_orders.py`` and ``watches`` in
``bot/cli_watches.py``.

Run it as ``.venv/bin/shopbot``, ``python -m bot`` or ``python -m bot.cli``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bot import cli_catalog, cli_orders, cli_retention, cli_servers, cli_watches
from bot.cli_store import opened, store_option
from recommender import ShopbotError, config

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ShopbotGroup(click.Group):
    """A click group that turns library errors (ShopbotError) into one ``Error: ...`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShopbotError as e:
            raise click.ClickException(str(e)) from e


@click.group(cls=ShopbotGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option("0.1.0", "-V", "--version", prog_name="shopbot")
def cli() -> None:
    """Shopbot: a conversational shopping assistant.

    Example:

        shopbot catalog build
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@cli.group(cls=ShopbotGroup)
def catalog() -> None:
    """Build and inspect the product catalog (a SQLite file).

    Example:

        shopbot catalog stats
    """


for _command in (cli_catalog.build, cli_catalog.update, cli_catalog.stats, cli_catalog.keyword_search):
    catalog.add_command(_command)
for _command in (cli_servers.chat, cli_servers.serve, cli_servers.web):
    cli.add_command(_command)
cli.add_command(cli_retention.retention)
cli.add_command(cli_orders.orders)
cli.add_command(cli_watches.watches)


@cli.command("search")
@click.argument("query", default="")
@click.option("--category", help="Only this category (the leaf or any level of the category path).")
@click.option("--brand", help="Only this brand.")
@click.option("--price-min", type=float, help="Lowest price, in the catalog's currency.")
@click.option("--price-max", type=float, help="Highest price, in the catalog's currency.")
@click.option("-n", "--limit", type=click.IntRange(1, 50), default=5, show_default=True,
              help="Number of results.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON lines.")
@click.option("--shopper", metavar="ID", help="Personalise for this shopper's history (e.g. a shipped shopper id).")
@click.option("--liked", metavar="PRODUCT_ID", multiple=True,
              help="A product this session liked (repeatable): personalises like a conversation does.")
def search(query: str, category: str | None, brand: str | None, price_min: float | None,
           price_max: float | None, limit: int, as_json: bool, shopper: str | None, liked: tuple[str, ...]) -> None:
    """Search the catalog by meaning and keywords, with hard filters, and say why each result.

    Examples (on the shipped demo catalog):

        shopbot search "shampoo for dry hair" --price-max 10

        shopbot search mascara --brand Maybelline

        shopbot search "" --category Nails --shopper A1YJEY40YUW4SE
    """
    from recommender import Filters, ProductSearch, format_price

    filters = Filters(category=category, brand=brand, price_min=price_min, price_max=price_max)
    finder = ProductSearch.from_paths(progress=sys.stderr.isatty())
    outcome = finder.search(query, filters, n=limit, shopper_id=shopper, session_items=liked)
    if not outcome.results:
        hint = f" Try without --{outcome.relax.replace('_', '-')}." if outcome.relax else ""
        click.echo(f"No products match.{hint}", err=True)
    for rank, hit in enumerate(outcome.results, 1):
        p = hit.product
        if as_json:
            click.echo(json.dumps({"id": p.id, "score": round(hit.score, 4), "title": p.display_title,
                                   "brand": p.brand, "price": p.price, "reasons": list(hit.reasons)}))
            continue
        price = format_price(p.price, finder.catalog.currency()) if p.price is not None else "price unknown"
        click.echo(f"{rank}. {p.display_title} ({p.brand or 'no brand'}, {price})  score {hit.score:.3f}")
        click.echo(f"   {'; '.join(hit.reasons)}")


@cli.command("metrics")
@click.option("--by", type=click.Choice(["day", "source"]), default="day", show_default=True,
              help="One row per UTC day or per recommendation source (search, recommend, similar, ...).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only events on or after this UTC day.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def metrics(by: str, since: datetime | None, store: str | None, as_json: bool) -> None:
    """Print the online metrics of the products the assistant showed, per day or per source.

    CTR = clicked / shown, add-to-cart rate = added / shown, conversion = ordered / shown, counted
    in events (one per product); "-" when nothing was shown. See docs/store.md.

    Examples:

        shopbot metrics

        shopbot metrics --by source --since 2024-05-01 --json
    """
    from dataclasses import asdict

    with opened(store) as shop:
        rows = shop.metrics(by=by, since=since.date() if since else None)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        click.echo(f"No events{f' since {since:%Y-%m-%d}' if since else ''}.", err=True)
        return
    pct = lambda rate: "-" if rate is None else f"{rate:.1%}"  # noqa: E731
    table = [(by, "shown", "clicked", "added", "ordered", "CTR", "add-to-cart", "conversion")]
    table += [(r.key, f"{r.shown:,}", f"{r.clicked:,}", f"{r.added:,}", f"{r.ordered:,}", pct(r.ctr),
               pct(r.add_to_cart_rate), pct(r.conversion)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        click.echo("  ".join(cells))


@cli.command("setup")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def setup_command(quiet: bool) -> None:
    """Build what the assistant needs: catalog, embeddings, collaborative model, NLU lookups, Rasa model.

    Each step is skipped when its inputs did not change. `make chat` and `make test` run it.

    Example:

        shopbot setup
    """
    from bot import build

    logging.getLogger("bot").setLevel(logging.INFO)
    logging.getLogger("recommender").setLevel(logging.INFO)
    for step in build.setup(progress=not quiet and sys.stderr.isatty()):
        click.echo(f"{step.name:<12} {step.seconds:7.1f} s  {step.detail}")


@cli.command("nlu-lookups")
def nlu_lookups_command() -> None:
    """Regenerate data/nlu/lookups.yml (brand and category lookups, synonyms) from the catalog.

    Example:

        shopbot nlu-lookups && shopbot setup
    """
    from bot import build

    click.echo(build.ensure_lookups())


@cli.command("translations")
@click.argument("language")
def translations_command(language: str) -> None:
    """Write recommender/i18n/locale/LANGUAGE.po with every text of the replies to translate.

    LANGUAGE is a language code ("de", "zh"). Translations already in the file are kept, new texts
    are added untranslated and texts no longer used are dropped; edit the file with any gettext tool
    (Poedit, Weblate, a text editor). A text left untranslated is sent in English.

    Example:

        shopbot translations de
    """
    from babel import Locale, UnknownLocaleError

    from recommender.i18n.catalogs import update

    try:
        Locale.parse(language)
    except (ValueError, UnknownLocaleError) as e:
        raise click.BadParameter(f"{language!r} is not a language code Babel knows, like de or zh") from e
    texts, missing = update(language)
    click.echo(f"recommender/i18n/locale/{language}.po: {texts} texts, {missing} to translate")


GENERIC_HISTORY_NAMES = frozenset({"user_sequence", "interactions", "histories", "data", "train"})


def default_report_name(interactions: Path) -> str:
    """Result files are named after the histories: "ml-100k.inter" -> "ml-100k"; a generic file name
    ("user_sequence.txt") takes its folder's ("amazon-beauty")."""
    stem = interactions.name.split(".")[0]
    return interactions.resolve().parent.name if stem.lower() in GENERIC_HISTORY_NAMES else stem


def _benchmark_option(parse_name: str) -> Any:
    """A click callback running ``recommender.<parse_name>`` on the value; errors are usage errors."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        import recommender

        if value is None:
            return None
        try:
            return getattr(recommender, parse_name)(value)
        except ShopbotError as e:
            raise click.BadParameter(str(e), ctx=ctx, param=param) from e

    return callback


@cli.command("evaluate", epilog="""\b
Interactions files (the first line tells which; docs/interactions-format.md):
  <shopper> <item> <item> ...          one line per shopper, oldest first
  shopper_id<TAB>item_id<TAB>order     TSV with a header; order: a number or
                                       ISO date (or a timestamp column);
                                       RecBole user_id:token headers work too
""")
@click.option("--interactions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=config.SHIPPED_SEQUENCES, show_default="the shipped demo histories",
              help="Shopper histories to evaluate on.")
@click.option("--name", default=None, show_default="the file's name, or its folder's for a generic file name",
              help="Base name of the result files (the committed demo results: --name beauty).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the result files. Default: bench/results/.")
@click.option("--models", callback=_benchmark_option("parse_models"),
              help="Comma-separated models to run. Default: all of popularity, itemknn, als, bpr, mf, sasrec, "
                   "sasrec-text, sasrec-text-x3 (three sasrec-text models, their log-probabilities averaged).")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              callback=_benchmark_option("parse_overrides"),
              help="Override a CFConfig/TrainConfig field for our models (repeatable).")
@click.option("--max-minutes", type=float, default=18.0, show_default=True,
              help="Cap on the training budget of each of our models (wall clock, validation included; "
                   "presets: mf 6, sasrec 14, sasrec-text 18, sasrec-text-x3 19.5 for its three).")
@click.option("--text/--no-text", default=True, show_default=True,
              help="Give text-fused models the catalog's product embeddings (needs the catalog of these items).")
@click.option("--grid/--no-grid", default=True, show_default=True,
              help="Tune implicit's ALS/BPR on validation NDCG@10 over a small grid.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=2, show_default=True, help="CPU threads for training.")
@click.option("--save-models/--no-save-models", default=False, show_default=True,
              help="Save our trained models under <cache>/cf/<name>/.")
def evaluate(interactions: Path, name: str | None, out_dir: Path | None, models: list[str] | None,
             overrides: tuple[dict[str, Any], dict[str, Any]], max_minutes: float, text: bool, grid: bool,
             seed: int, threads: int, save_models: bool) -> None:
    """Evaluate the recommenders offline against baselines: leave-one-out, every item ranked.

    Writes <name>.json (every metric, both stages, configs, training logs), <name>.md (the table),
    <name>_metrics_at_k.png and <name>_training.png. See bench/README.md for the protocol.

    Examples:

    \b
        shopbot evaluate                          # the shipped demo histories, every model
        shopbot evaluate --models popularity,itemknn,als,bpr --threads 1
        shopbot evaluate --interactions ml-100k.inter --name ml-100k --no-text
        shopbot evaluate --models sasrec-text --set dropout=0.2 --max-minutes 5
        shopbot evaluate --models sasrec-text-x3 --max-minutes 19.5 --seed 3   # the ensemble, 3 x 6.5 min
    """
    from recommender import BenchmarkConfig, run_benchmark, write_report

    logging.getLogger("recommender").setLevel(logging.INFO)
    name = name or default_report_name(interactions)
    cfg = BenchmarkConfig(
        interactions=interactions, name=name, models=models or BenchmarkConfig.models,
        model_overrides=overrides[0], train_overrides=overrides[1], max_minutes=max_minutes, text=text,
        grid=grid, seed=seed, threads=threads,
        save_dir=config.cache_dir() / "cf" / name if save_models else None)
    report = run_benchmark(cfg)
    for model, r in report["models"].items():
        click.echo(f"{model:<12} test HR@10 {r['test']['hr@10']:.4f}  NDCG@10 {r['test']['ndcg@10']:.4f}  "
                   f"fit {r['fit_seconds']:.0f} s")
    for path in write_report(report, out_dir):
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    # Run the canonical bot.cli module's group (not this __main__ copy), so commands that other
    # modules register on bot.cli.cli are present under `python -m bot.cli` too.
    from bot.cli import cli as _cli

    _cli(prog_name="shopbot")
