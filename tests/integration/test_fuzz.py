"""Schemathesis against the six apps, each serving its own OpenAPI document, on real
PostgreSQL and the real broker with the demo company seeded: every default check (no server
error, every status, content type, header and body as documented, schema-valid data accepted
and invalid data refused, missing headers refused, undeclared methods 405 with Allow), a
fresh Idempotency-Key per command (tests/fuzz/hooks.py), the HQ admin's key.

`make fuzz` runs it with 25 examples per operation (FUZZ_MAX_EXAMPLES): about 8,900 test
cases over 108 operations in two to three minutes on two cores. The default test pass runs
10 per operation, the same phases and checks on fewer cases. FUZZ_SEED gives schemathesis a
failed run's seed (its output names it); the demo company's ids differ from run to run, so a
case that depends on them may still not come back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from projections import bootstrap as query_process
from runtime.demo import seed_demo_company
from services.finance import bootstrap as finance_process
from services.identity import bootstrap as identity_process
from services.inventory import bootstrap as inventory_process
from services.orders import bootstrap as orders_process
from services.warnings import bootstrap as warnings_process
from tests.platform import serving

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "fuzz" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_every_operation_answers_as_its_openapi_document_says(settings, tmp_path):
    examples = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
    # A query given a position it has not reached waits this long before its 503.
    settings = settings.model_copy(update={"read_your_writes_timeout_s": 1.0})
    builds = {
        "orders": orders_process.build,
        "inventory": inventory_process.build,
        "finance": finance_process.build,
        "identity": identity_process.build,
        "warnings": warnings_process.build,
        "query": query_process.build,
    }
    with ExitStack() as stack:
        clients = {
            name: stack.enter_context(serving(build(settings))) for name, build in builds.items()
        }
        urls = {name: str(client.base_url) for name, client in clients.items()}
        seed_demo_company(
            orders_url=urls["orders"],
            inventory_url=urls["inventory"],
            finance_url=urls["finance"],
            warnings_url=urls["warnings"],
            api_key="demo-hq-admin",
        )
        # FUZZ_SERVICES=warnings,identity: fuzz only those (all of them run either way).
        only = [n for n in os.environ.get("FUZZ_SERVICES", "").split(",") if n]
        results = {
            name: fuzz(name, url, examples, tmp_path)
            for name, url in urls.items()
            if not only or name in only
        }

    lines = [f"{'service':<10} {'operations':>10} {'test cases':>10} {'failures':>8}"]
    for name, (report, _) in results.items():
        lines.append(
            f"{name:<10} {report['operations']['tested']:>10} "
            f"{report['test_cases']['generated']:>10} {report['test_cases']['unique_failures']:>8}"
        )
    print("\n".join(lines))
    for name, (report, _) in results.items():
        assert report["operations"]["tested"] == report["operations"]["selected"] > 0, name
    failed = {name: output for name, (report, output) in results.items() if report["exit_code"]}
    assert not failed, "\n".join(
        f"== {name}\n{output[_first_report_section(output) :][:15_000]}"
        for name, output in failed.items()
    )


def _first_report_section(output: str) -> int:
    """Where schemathesis's failures or errors begin (an error has no FAILURES section)."""
    found = [i for i in (output.find("= FAILURES ="), output.find("= ERRORS =")) if i >= 0]
    return min(found, default=0)


def fuzz(name: str, url: str, examples: int, tmp_path: Path) -> tuple[dict, str]:
    reports = tmp_path / name
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--max-examples",
        str(examples),
        "--report",
        "json",
        "--report-dir",
        str(reports),
        "--no-color",
    ]
    if os.environ.get("FUZZ_SEED"):  # a failed run's seed (its report, and its output, say it)
        command += ["--seed", os.environ["FUZZ_SEED"]]
    env = {
        **os.environ,
        "DIST_FUZZ_API_KEY": "demo-hq-admin",
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    output = run.stdout + run.stderr
    found = sorted(reports.glob("*.json"))
    assert found, f"{name}: schemathesis wrote no report\n{output[-5000:]}"
    return json.loads(found[-1].read_text()), output
