"""`dist`: the platform's command line.

dist run [--kafka K]     embedded PostgreSQL + broker, every process, demo company (make run);
                         --kafka apache runs Apache Kafka's own broker instead of Tansu
dist migrate             create schemas and tables; rebuild a read model the code reads
                         differently (another shape or version) from the topics
dist serve PROCESS       one process: orders | inventory | finance | identity | warnings |
                         query | console (the web console, an HTTP client of the others)
dist seed URL...         post the demo company through the HTTP APIs
dist export-schemas      write the integration events' JSON Schemas under contracts/schemas
dist rebuild NAME|all    drop a read model and rebuild it from the topics
dist import KIND FILE    bulk import (CSV or XLSX): dealers, products, price lists, the
                         organisation, warehouses and opening balances (--dry-run checks only)
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from runtime.settings import DEFAULT_PORTS, Settings, UnsafeConfiguration

PROCESSES = ("orders", "inventory", "finance", "identity", "warnings", "query", "console")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


@click.group()
def main() -> None:
    """The event-sourced distribution platform."""


@main.command()
def migrate() -> None:
    """Create every schema and table, and rebuild each read model whose tables or version
    the code no longer matches (before the processes start)."""
    from runtime.migrate import migrate as run_migrations

    settings = Settings()
    _configure_logging(settings)
    run_migrations(settings)
    click.echo("schemas and tables are in place")


def build_process(name: str, settings: Settings):
    if name == "orders":
        from services.orders.bootstrap import build
    elif name == "inventory":
        from services.inventory.bootstrap import build
    elif name == "finance":
        from services.finance.bootstrap import build
    elif name == "identity":
        from services.identity.bootstrap import build
    elif name == "warnings":
        from services.warnings.bootstrap import build
    elif name == "query":
        from projections.bootstrap import build
    elif name == "console":
        from console.app import build
    else:
        raise click.BadParameter(f"unknown process {name}")
    return build(settings)


@main.command()
@click.argument("process", type=click.Choice(PROCESSES))
def serve(process: str) -> None:
    """Serve one process: its HTTP app and its background workers."""
    settings = Settings()
    _configure_logging(settings)
    build_process(process, settings).serve(
        host=settings.host, port=settings.port_of(process), log_level=settings.log_level
    )


@main.command()
@click.option("--orders", "orders_url", default=f"http://127.0.0.1:{DEFAULT_PORTS['orders']}")
@click.option(
    "--inventory", "inventory_url", default=f"http://127.0.0.1:{DEFAULT_PORTS['inventory']}"
)
@click.option("--finance", "finance_url", default=f"http://127.0.0.1:{DEFAULT_PORTS['finance']}")
@click.option("--api-key", default="demo-hq-admin", show_default=True)
def seed(orders_url: str, inventory_url: str, finance_url: str, api_key: str) -> None:
    """Post the demo company over HTTP and drive one order from placing to cash."""
    from runtime.demo import seed_demo_company

    seed_demo_company(
        orders_url=orders_url,
        inventory_url=inventory_url,
        finance_url=finance_url,
        api_key=api_key,
    )


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--no-seed", is_flag=True, help="start empty")
@click.option(
    "--kafka",
    type=click.Choice(["embedded", "apache"]),
    default="embedded",
    show_default=True,
    help="the broker to start: embedded Tansu (memory only, nothing but Python) or Apache "
    "Kafka (KRaft, keeps its logs under the data folder; needs Java 17+ and Maven)",
)
def run(data_dir: Path | None, no_seed: bool, kafka: str) -> None:
    """Start the whole platform on local infrastructure (Ctrl-C stops everything)."""
    from runtime.supervisor import run_platform

    settings = Settings(dist_env="development")
    if data_dir:
        settings = settings.model_copy(update={"data_dir": data_dir})
    sys.exit(run_platform(settings, seed=not no_seed, kafka=kafka))


@main.command("export-schemas")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("contracts/schemas"), show_default=True
)
def export_schemas(out: Path) -> None:
    """Write one JSON Schema per integration event and version (a published version only
    when its documentation changed: any other change needs a new version)."""
    from contracts.export import IncompatibleChange, export

    try:
        written = export(out)
    except IncompatibleChange as error:
        raise click.ClickException(str(error)) from None
    for path in written:
        click.echo(path)


@main.command()
@click.argument("projection")
@click.option("--schema", default=None, help="rebuild into this schema (default: the live one)")
@click.option("--batch-size", default=2000, show_default=True, help="events per transaction")
@click.option("--no-progress", is_flag=True, help="no progress bar")
def rebuild(projection: str, schema: str | None, batch_size: int, no_progress: bool) -> None:
    """Drop a read model (sales, inventory, receivables, channel_health, demand_plans, targets,
    or all) and rebuild it from the topics, with a progress bar and a summary."""
    from projections.bootstrap import PROJECTIONS
    from projections.rebuild import UnknownProjection
    from projections.rebuild import rebuild as run_rebuild

    settings = Settings()
    _configure_logging(settings)
    names = [p.name for p in PROJECTIONS] if projection == "all" else [projection]
    for name in names:
        try:
            summary = run_rebuild(
                settings, name, schema=schema, batch_size=batch_size, progress=not no_progress
            )
        except UnknownProjection as error:
            raise click.BadParameter(str(error), param_hint="PROJECTION") from None
        except UnsafeConfiguration as error:
            raise click.ClickException(
                f"{error}: set DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and KAFKA_NAMESPACE "
                "(`make run` prints them)"
            ) from None
        for line in summary.lines():
            click.echo(line)


@main.command("import")
@click.argument("kind")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="check every row, write nothing")
@click.option("--no-progress", is_flag=True, help="no progress bar")
def import_file(kind: str, file: Path, dry_run: bool, no_progress: bool) -> None:
    """Import a CSV or XLSX file of one KIND: regions, branches, dealers, products,
    price-lists, warehouses, opening-stock, opening-invoices, opening-cash or
    opening-rebate-pools. Every row is checked first; one bad row and nothing is written.
    A clean file is written row by row under keys of its rows, so importing it again
    finishes an interrupted import and otherwise writes nothing new."""
    import getpass
    import uuid

    from tqdm import tqdm

    from runtime.http.auth import Principal
    from runtime.settings import ApiKeyGrant, Role
    from services.imports.application import UnknownKind, application_for, kind_of, run_import

    try:
        chosen = kind_of(kind)
    except UnknownKind as error:
        raise click.BadParameter(str(error), param_hint="KIND") from None
    try:
        settings = Settings()
        _configure_logging(settings)
        app = application_for(chosen, settings)
    except UnsafeConfiguration as error:
        raise click.ClickException(f"{error}: set DATABASE_URL (`make run` prints it)") from None
    principal = Principal(
        grant=ApiKeyGrant(name=f"import:{getpass.getuser()}", role=Role.HQ_ADMIN),
        correlation_id=str(uuid.uuid4()),
    )
    bar = tqdm(total=0, unit="row", desc=f"{kind} ", disable=no_progress or dry_run)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        report = run_import(
            chosen, file.name, file.read_bytes(), app, principal, dry=dry_run, progress=progress
        )
    finally:
        bar.close()
        app.close()
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)
