"""The ``shopbot`` command line: build and inspect the catalog (more commands join this group).

Run it as ``.venv/bin/shopbot``, ``python -m bot`` or ``python -m bot.cli``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from recommender import (
    FORMATS, INTERACTION_FORMATS, PRESETS, BadRow, Catalog, CatalogImportError, ImportReport, ShopbotError,
    config, import_catalog, plural,
)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
MAX_SHOWN = 20  # bad rows / warnings listed before "... and N more"


class ShopbotGroup(click.Group):
    """A click group that turns library errors (ShopbotError) into one ``Error: ...`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShopbotError as e:
            raise click.ClickException(str(e)) from e


def db_option(func: Any) -> Any:
    """The ``--db PATH`` option shared by the catalog commands."""
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Catalog file. Default: $SHOPBOT_CATALOG or var/catalog.db.",
    )(func)


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


def _list_to_stderr(title: str, items: list[BadRow] | list[str]) -> None:
    if not items:
        return
    click.echo(title, err=True)
    for item in items[:MAX_SHOWN]:
        where = f"{Path(item.source).name} " if isinstance(item, BadRow) else ""
        click.echo(f"  {where}{item}", err=True)
    if len(items) > MAX_SHOWN:
        click.echo(f"  ... and {len(items) - MAX_SHOWN:,} more", err=True)


def _parse_columns(columns: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for item in columns:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise click.BadParameter(f"{item!r} is not FIELD=COLUMN, e.g. id=sku", param_hint="--column")
        parsed[field.strip()] = column.strip()
    return parsed


@catalog.command("build")
@click.argument("products", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--interactions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Shopper histories: 'shopper item1 item2 ...' lines (.txt) or a shopper/product/order table. "
                   "Default: the shipped Beauty sequences when PRODUCTS is omitted, else none.")
@click.option("--interactions-format", type=click.Choice(INTERACTION_FORMATS), default=None,
              help="Interactions file format. Default: from the extension (.txt = sequences).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Products file format. Default: from the extension (.csv, .tsv/.item, .jsonl).")
@click.option("--mapping", type=click.Choice(sorted(PRESETS)), default=None,
              help="Column mapping preset. Default: recbole for .item files, else default "
                   "(columns id,title,brand,category,price).")
@click.option("--column", "columns", multiple=True, metavar="FIELD=COLUMN",
              help="Map one product field to your column, e.g. --column id=sku (repeatable).")
@db_option
@click.option("--strict", is_flag=True, help="Fail on any bad row instead of skipping it; the old catalog stays.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no warnings (bad rows are still listed).")
def build(products: Path | None, interactions: Path | None, interactions_format: str | None, fmt: str | None,
          mapping: str | None, columns: tuple[str, ...], db_path: Path | None, strict: bool, quiet: bool) -> None:
    """Import PRODUCTS (and shopper histories) into a new catalog file.

    Without PRODUCTS, builds the shipped Amazon Beauty catalog. The old catalog is replaced only
    when the import succeeds. Bad rows are skipped and listed with their line numbers.

    Examples:

        shopbot catalog build

        shopbot catalog build shop.csv --interactions orders.csv --db var/shop.db

        shopbot catalog build items.tsv --column id=sku --column category=department --strict
    """
    if products is None:
        products = config.SHIPPED_PRODUCTS
        interactions = interactions or config.SHIPPED_SEQUENCES
    mapping = mapping or ("recbole" if products.suffix.lower() == ".item" else "default")
    col_map = PRESETS[mapping].with_columns(**_parse_columns(columns)) if columns else PRESETS[mapping]
    db_path = db_path or config.catalog_path()
    try:
        report = import_catalog(products, db_path, interactions=interactions, format=fmt, mapping=col_map,
                                interactions_format=interactions_format,
                                strict=strict, progress=not quiet and sys.stderr.isatty())
    except CatalogImportError as e:
        _list_to_stderr(f"{plural(len(e.bad_rows), 'bad row')}:", e.bad_rows)
        raise
    _print_report(report, quiet)


def _print_report(report: ImportReport, quiet: bool) -> None:
    _list_to_stderr(f"Skipped {plural(len(report.errors), 'bad row')}:", report.errors)
    if not quiet:
        _list_to_stderr(f"{plural(len(report.warnings), 'warning')}:", report.warnings)
    click.echo(
        f"Imported {plural(report.products, 'product')}, {plural(report.shoppers, 'shopper')} and "
        f"{plural(report.interactions, 'interaction')} into {report.db_path} in {report.duration:.1f} s."
    )


@catalog.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def stats(db_path: Path | None, as_json: bool) -> None:
    """Print counts of products, shoppers, interactions, brands and categories.

    Example:

        shopbot catalog stats --db var/catalog.db
    """
    with Catalog.open(db_path or config.catalog_path()) as cat:
        numbers = cat.stats()
    if as_json:
        click.echo(json.dumps(numbers, indent=2))
        return
    width = max(len(k) for k in numbers)
    for key, value in numbers.items():
        shown = f"{value:,}" if isinstance(value, int) else (value or "-")
        click.echo(f"{key:<{width}}  {shown}")


@catalog.command("keyword-search")
@click.argument("query")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Number of results.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON lines.")
def keyword_search(query: str, limit: int, db_path: Path | None, as_json: bool) -> None:
    """Full-text (keyword) search of titles, brands and categories; any word may match.

    Example:

        shopbot catalog keyword-search "shampoo for dry hair" --limit 5
    """
    with Catalog.open(db_path or config.catalog_path()) as cat:
        hits = cat.keyword_search(query, limit=limit)
        products = {p.id: p for p in cat.get_products([h[0] for h in hits])}
    if not hits:
        click.echo(f"No products match {query!r}.", err=True)
        return
    for product_id, score, terms in hits:
        p = products[product_id]
        if as_json:
            click.echo(json.dumps({"id": p.id, "score": round(score, 4), "matched": list(terms),
                                   "title": p.display_title, "brand": p.brand, "price": p.price}))
            continue
        price = f"${p.price:,.2f}" if p.price is not None else "price unknown"
        brand = f"{p.brand}, " if p.brand else ""
        click.echo(f"{p.id}  {score:6.2f}  {p.display_title} ({brand}{price})  [{', '.join(terms)}]")


@cli.command("search")
@click.argument("query", default="")
@click.option("--category", help="Only this category (leaf or any level, e.g. Shampoos, Hair Care).")
@click.option("--brand", help="Only this brand, e.g. Neutrogena.")
@click.option("--price-min", type=float, help="Lowest price in USD.")
@click.option("--price-max", type=float, help="Highest price in USD.")
@click.option("-n", "--limit", type=click.IntRange(1, 50), default=5, show_default=True,
              help="Number of results.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON lines.")
@click.option("--shopper", metavar="ID", help="Personalise for this shopper's history (e.g. a shipped shopper id).")
@click.option("--liked", metavar="PRODUCT_ID", multiple=True,
              help="A product this session liked (repeatable): personalises like a conversation does.")
def search(query: str, category: str | None, brand: str | None, price_min: float | None,
           price_max: float | None, limit: int, as_json: bool, shopper: str | None, liked: tuple[str, ...]) -> None:
    """Search the catalog by meaning and keywords, with hard filters, and say why each result.

    Examples:

        shopbot search "shampoo for dry hair" --price-max 10

        shopbot search mascara --brand Maybelline

        shopbot search "" --category Nail --shopper A1YJEY40YUW4SE
    """
    from recommender import Filters, ProductSearch

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
        price = f"${p.price:,.2f}" if p.price is not None else "price unknown"
        click.echo(f"{rank}. {p.display_title} ({p.brand or 'no brand'}, {price})  score {hit.score:.3f}")
        click.echo(f"   {'; '.join(hit.reasons)}")


@cli.command("metrics")
@click.option("--by", type=click.Choice(["day", "source"]), default="day", show_default=True,
              help="One row per UTC day or per recommendation source (search, recommend, similar, ...).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only events on or after this UTC day.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Shopper store file. Default: $SHOPBOT_STORE or var/shop.db.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def metrics(by: str, since: datetime | None, store_path: Path | None, as_json: bool) -> None:
    """Print the online metrics of the products the assistant showed, per day or per source.

    CTR = clicked / shown, add-to-cart rate = added / shown, conversion = ordered / shown, counted
    in events (one per product); "-" when nothing was shown. See docs/store.md.

    Examples:

        shopbot metrics

        shopbot metrics --by source --since 2024-05-01 --json
    """
    from dataclasses import asdict

    from recommender import ShopStore

    path = store_path or config.store_path()
    if not path.is_file():
        raise click.ClickException(f"No shopper store at {path}; the assistant creates it on first use. "
                                   "Pass --store or set SHOPBOT_STORE.")
    with ShopStore.open(path) as store:
        rows = store.metrics(by=by, since=since.date() if since else None)
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


def _trained_model() -> Path:
    from bot import build

    model = build.model_path()
    if not model.exists():
        raise click.ClickException(f"No trained model at {model}. Run 'shopbot setup' first.")
    return model


@cli.command("chat")
@click.option("--sender", default=None, metavar="ID",
              help="Shopper (sender) id: your cart, likes and orders are kept under it; a shipped shopper id "
                   "(data/products/amazon-beauty/user_sequence.txt) personalises from their history. "
                   "Default: a new random one.")
def chat(sender: str | None) -> None:
    """Chat with the assistant in this terminal; starts and stops the action server.

    Type /stop to end the chat.

    Examples:

        shopbot chat

        shopbot chat --sender A1YJEY40YUW4SE     # act as a shipped shopper with a purchase history
    """
    import tempfile
    import uuid

    from bot import servers
    from bot.credentials import write_active

    model = _trained_model()
    log_dir = Path(tempfile.mkdtemp(prefix="shopbot-chat-"))
    action_port = servers.free_port()
    click.echo(f"Starting the action server (log: {log_dir / 'actions.log'}) ...", err=True)
    actions = servers.start_action_server(action_port, log_dir / "actions.log")
    try:
        endpoints = servers.endpoints_for(action_port, log_dir)
        args = [servers.RASA, "shell", "--model", str(model), "--endpoints", str(endpoints),
                "--credentials", str(write_active(log_dir)),
                "--interface", servers.HOST, "--port", str(servers.free_port()),
                "--conversation-id", sender or uuid.uuid4().hex, "--quiet"]
        subprocess.run(args, env=servers.rasa_env(), cwd=config.REPO_ROOT)
    finally:
        servers.stop(actions)
        click.echo("Action server stopped.", err=True)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface of the Rasa server. Only change it behind a proxy you trust.")
@click.option("--port", type=int, default=5005, show_default=True, help="Rasa server port.")
@click.option("--action-port", type=int, default=5055, show_default=True,
              help="Action server port (always on 127.0.0.1).")
@click.option("--enable-api", is_flag=True,
              help="Also turn on Rasa's HTTP API (conversations, events), every call needing "
                   "?token=$SHOPBOT_API_TOKEN.")
@click.option("--debug", is_flag=True,
              help="Log at DEBUG level. The logs then hold what shoppers write and their ids: "
                   "for finding a bug, not for serving shoppers.")
def serve(host: str, port: int, action_port: int, enable_api: bool, debug: bool) -> None:
    """Run the assistant as an HTTP server: Rasa's REST channel plus the action server.

    Every REST call needs the header `Authorization: Bearer $SHOPBOT_REST_TOKEN` (unset, a token is
    generated once into var/secrets/SHOPBOT_REST_TOKEN). Stop it with Ctrl-C; both processes are stopped.

    Example:

        shopbot serve --port 5005

        curl -s localhost:5005/webhooks/rest/webhook -H "Authorization: Bearer $(cat var/secrets/SHOPBOT_REST_TOKEN)" \
          -d '{"sender": "me", "message": "shampoo under $10"}'
    """
    from bot.servers import Assistant

    with Assistant(_trained_model(), host=host, rasa_port=port, action_port=action_port,
                   log_dir=config.cache_dir() / "logs", enable_api=enable_api, debug=debug) as bot:
        click.echo(f"REST channel: POST {bot.rest_url} with the bearer token $SHOPBOT_REST_TOKEN (unset: "
                   f"{config.cache_dir() / 'secrets' / 'SHOPBOT_REST_TOKEN'})"
                   f"{'; HTTP API on' if enable_api else ''}{'; DEBUG logs' if debug else ''}"
                   f"  (logs in {bot.log_dir}; Ctrl-C stops)")
        _run_until_stopped(bot)


def _run_until_stopped(bot: Any) -> None:
    """Wait for Ctrl-C while every server of ``bot`` (a bot.servers.Assistant) runs."""
    import time

    try:
        while all(p.poll() is None for p in bot.processes):
            time.sleep(1)
        raise click.ClickException(f"A server stopped; see the logs in {bot.log_dir}")
    except KeyboardInterrupt:
        click.echo("Stopping.", err=True)


@cli.command("web")
@click.option("--port", type=int, default=8000, show_default=True, help="Port of the demo shop page.")
@click.option("--rasa-port", type=int, default=5005, show_default=True,
              help="Rasa server port (its socket.io channel serves the widget).")
@click.option("--action-port", type=int, default=5055, show_default=True, help="Action server port.")
def web(port: int, rasa_port: int, action_port: int) -> None:
    """Serve a demo shop page with the chat widget, plus the assistant it talks to.

    Starts the action server, the Rasa server (its CORS allowing the page's origin) and the page
    server, all on 127.0.0.1, and prints the page's URL. Ctrl-C stops all three.

    Example:

        shopbot web --port 8000        # then open http://127.0.0.1:8000/
    """
    from bot.servers import HOST, Assistant
    from bot.webpage import PageServer

    with PageServer(rasa_url=f"http://{HOST}:{rasa_port}", port=port) as page, \
            Assistant(_trained_model(), rasa_port=rasa_port, action_port=action_port, cors=(page.origin,),
                      log_dir=config.cache_dir() / "logs") as bot:
        click.echo(f"Demo shop with the chat widget: {page.url}  (logs in {bot.log_dir}; Ctrl-C stops)")
        _run_until_stopped(bot)


def _benchmark_option(parse_name: str) -> Any:
    """A click callback running ``recommender.evaluate.runner.<parse_name>`` on the value; errors are usage errors."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from recommender.evaluate import runner as benchmark

        if value is None:
            return None
        try:
            return getattr(benchmark, parse_name)(value)
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
              default=config.SHIPPED_SEQUENCES, show_default="the shipped Beauty histories",
              help="Shopper histories to evaluate on.")
@click.option("--name", default="beauty", show_default=True, help="Base name of the result files.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the result files. Default: bench/results/.")
@click.option("--models", callback=_benchmark_option("parse_models"),
              help="Comma-separated models to run. Default: all of popularity, itemknn, als, bpr, mf, sasrec, "
                   "sasrec-text.")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              callback=_benchmark_option("parse_overrides"),
              help="Override a CFConfig/TrainConfig field for our models (repeatable).")
@click.option("--max-minutes", type=float, default=18.0, show_default=True,
              help="Cap on the training budget of each of our models (wall clock, validation included; "
                   "presets: mf 6, sasrec 14, sasrec-text 18).")
@click.option("--text/--no-text", default=True, show_default=True,
              help="Give text-fused models the catalog's product embeddings (needs the catalog of these items).")
@click.option("--grid/--no-grid", default=True, show_default=True,
              help="Tune implicit's ALS/BPR on validation NDCG@10 over a small grid.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=2, show_default=True, help="CPU threads for training.")
@click.option("--save-models/--no-save-models", default=False, show_default=True,
              help="Save our trained models under <cache>/cf/<name>/.")
def evaluate(interactions: Path, name: str, out_dir: Path | None, models: list[str] | None,
             overrides: tuple[dict[str, Any], dict[str, Any]], max_minutes: float, text: bool, grid: bool,
             seed: int, threads: int, save_models: bool) -> None:
    """Evaluate the recommenders offline against baselines: leave-one-out, every item ranked.

    Writes <name>.json (every metric, both stages, configs, training logs), <name>.md (the table),
    <name>_metrics_at_k.png and <name>_training.png. See bench/README.md for the protocol.

    Examples:

    \b
        shopbot evaluate                          # Beauty, every model
        shopbot evaluate --models popularity,itemknn,als,bpr --threads 1
        shopbot evaluate --interactions ml-100k.inter --name ml-100k --no-text
        shopbot evaluate --models sasrec-text --set dropout=0.2 --max-minutes 5
    """
    from recommender.evaluate import runner as benchmark

    logging.getLogger("recommender").setLevel(logging.INFO)
    cfg = benchmark.BenchmarkConfig(
        interactions=interactions, name=name, models=models or benchmark.MODELS, model_overrides=overrides[0],
        train_overrides=overrides[1], max_minutes=max_minutes, text=text, grid=grid, seed=seed, threads=threads,
        save_dir=config.cache_dir() / "cf" / name if save_models else None)
    report = benchmark.run_benchmark(cfg)
    for model, r in report["models"].items():
        click.echo(f"{model:<12} test HR@10 {r['test']['hr@10']:.4f}  NDCG@10 {r['test']['ndcg@10']:.4f}  "
                   f"fit {r['fit_seconds']:.0f} s")
    for path in benchmark.write_report(report, out_dir or benchmark.DEFAULT_OUT_DIR):
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    # Run the canonical bot.cli module's group (not this __main__ copy), so commands that other
    # modules register on bot.cli.cli are present under `python -m bot.cli` too.
    from bot.cli import cli as _cli

    _cli(prog_name="shopbot")
