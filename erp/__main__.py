"""`python -m erp`: the reference ERP consumer's command line.

Configured by environment: DATABASE_URL (its tables go in schema ERP_SCHEMA, default
``erp``), KAFKA_BOOTSTRAP_SERVERS, KAFKA_NAMESPACE (default ``dist``),
KAFKA_SESSION_TIMEOUT_MS (default 10000), ERP_SCHEMAS_DIR (default contracts/schemas).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import click
import httpx
from tqdm import tqdm

from erp.consumer import ErpSettings, Tally, replay, run
from erp.ledger import Ledger
from erp.schemas import DEFAULT_FOLDER, Published


def _settings() -> ErpSettings:
    missing = [v for v in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS") if not os.environ.get(v)]
    if missing:
        raise click.ClickException(
            f"set {' and '.join(missing)} (`make run` prints the platform's)"
        )
    return ErpSettings(
        database_url=os.environ["DATABASE_URL"],
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"].split(","),
        namespace=os.environ.get("KAFKA_NAMESPACE", "dist"),
        schema=os.environ.get("ERP_SCHEMA", "erp"),
        session_timeout_ms=int(os.environ.get("KAFKA_SESSION_TIMEOUT_MS", "10000")),
    )


def _published() -> Published:
    return Published.load(Path(os.environ.get("ERP_SCHEMAS_DIR", DEFAULT_FOLDER)))


def _ledger(settings: ErpSettings, *, migrate: bool = True) -> Ledger:
    ledger = Ledger(settings.database_url, settings.schema)
    if migrate:
        ledger.migrate()
    return ledger


@click.group()
def main() -> None:
    """The reference ERP: posts the platform's finance and inventory events to a ledger."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


@main.command("run")
def run_command() -> None:
    """Consume the topics in the ERP's consumer group and post as events arrive."""
    settings = _settings()
    ledger = _ledger(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    last = [0.0]

    def report(tally: Tally) -> None:
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            logging.getLogger("erp").info(
                "erp: %d records: %s", tally.records, dict(tally.outcomes)
            )

    topics = ", ".join(settings.topic(s) for s in settings.sources)
    click.echo(f"erp: consuming {topics} as group {settings.group_id}", err=True)
    try:
        tally = run(settings, ledger, _published(), stop=stop, on_batch=report)
    finally:
        ledger.close()
    click.echo(f"erp: stopped after {tally.records} records: {dict(tally.outcomes)}", err=True)


@main.command("replay")
@click.argument("source", type=click.Choice(["finance", "inventory"]))
@click.option("--from-position", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--no-progress", is_flag=True)
def replay_command(source: str, from_position: int, no_progress: bool) -> None:
    """Post SOURCE's events again from a position of its log on (default: all of them)."""
    settings = _settings()
    ledger = _ledger(settings)
    bar = tqdm(unit=" records", desc=f"replaying {source}", disable=no_progress)

    def progress(tally: Tally, total: int) -> None:
        bar.total = total
        bar.n = tally.records
        bar.refresh()

    try:
        forgotten, tally = replay(
            settings,
            ledger,
            _published(),
            source=source,
            from_position=from_position,
            on_batch=progress,
        )
    finally:
        bar.close()
        ledger.close()
    click.echo(
        f"forgot {forgotten} events of {source} from position {from_position}; read "
        f"{tally.records} records: {dict(tally.outcomes)}; gaps seen: {tally.gaps_seen}"
    )


@main.command("trial-balance")
def trial_balance_command() -> None:
    """Debits and credits per account; exit 1 if they do not balance."""
    ledger = _ledger(_settings(), migrate=False)
    try:
        rows = ledger.trial_balance()
    finally:
        ledger.close()
    click.echo(f"{'account':<9} {'name':<52} {'debit':>18} {'credit':>18}")
    for row in rows:
        click.echo(f"{row['account']:<9} {row['name']:<52} {row['debit']:>18} {row['credit']:>18}")
    debits = sum((row["debit"] for row in rows), Decimal(0))
    credits = sum((row["credit"] for row in rows), Decimal(0))
    click.echo(f"{'total':<62} {debits:>18} {credits:>18}")
    if debits != credits:
        raise click.ClickException(f"out of balance by {debits - credits}")


@main.command("receivables")
@click.option(
    "--compare",
    "query_url",
    default=None,
    help="the platform's query API, e.g. http://127.0.0.1:8100",
)
@click.option("--api-key", default="demo-hq-admin", show_default=True)
def receivables_command(query_url: str | None, api_key: str) -> None:
    """Receivables per dealer (receivable less cash on account); with --compare, set
    beside the platform's receivables read model; exit 1 on any difference."""
    ledger = _ledger(_settings(), migrate=False)
    try:
        ours = ledger.receivables()
    finally:
        ledger.close()
    theirs = _platform_receivables(query_url, api_key) if query_url else {}
    differences = 0
    for dealer in sorted(set(ours) | set(theirs)):
        line = f"{dealer:<12} {ours.get(dealer, Decimal('0.00')):>16}"
        if query_url:
            platform = theirs.get(dealer, Decimal("0.00"))
            same = platform == ours.get(dealer, Decimal("0.00"))
            differences += not same
            line += f" {platform:>16}  {'ok' if same else 'DIFFERENT'}"
        click.echo(line)
    if differences:
        raise click.ClickException(f"{differences} dealers differ from the platform")


def _platform_receivables(query_url: str, api_key: str) -> dict[str, Decimal]:
    figures, cursor = {}, None
    with httpx.Client(base_url=query_url, headers={"Authorization": f"Bearer {api_key}"}) as http:
        while True:
            params = {"by": "dealer", "limit": 500, **({"cursor": cursor} if cursor else {})}
            page = http.get("/hq/receivables", params=params)
            page.raise_for_status()
            body = page.json()
            figures.update({row["dealer"]: Decimal(row["receivables"]) for row in body["items"]})
            cursor = body.get("next_cursor")
            if not cursor:
                return figures


@main.command("gaps")
def gaps_command() -> None:
    """Sequence numbers missing per subject; exit 1 if any."""
    ledger = _ledger(_settings(), migrate=False)
    try:
        gaps = ledger.gaps()
    finally:
        ledger.close()
    for source, subject, missing in gaps:
        click.echo(f"{source} {subject}: sequence {missing} not received")
    if gaps:
        raise click.ClickException(f"{len(gaps)} events missing")
    click.echo("no gaps")


@main.command("status")
def status_command() -> None:
    """What has been received, posted and rejected."""
    ledger = _ledger(_settings(), migrate=False)
    try:
        click.echo(ledger.summary())
    finally:
        ledger.close()


if __name__ == "__main__":
    main()
