"""What every browser test of the console shares: the five processes and the console with
the demo company seeded (one platform per test module), headless Chromium (Debian's
``chromium``) driven by Playwright, and signing in as a demo user.

Fixtures live in conftest.py next to this; the helpers here are imported by the tests."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from runtime.settings import DEMO_PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
# Orders above this total wait for a branch manager (the demo company's orders and 6
# bottles of Wuliangye are below it, 100 above it).
THRESHOLD = Decimal("100000.00")
WULIANGYE = "WULIANGYE-52-500ML"


def sign_in(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/signin")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def token_of(platform, username: str) -> dict[str, str]:
    answer = platform["identity"].post(
        "/sessions", json={"username": username, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


# Every browser test module: integration, and skipped (saying why) without chromium.
BROWSER_TESTS = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("chromium") is None,
        reason="no chromium on this machine (apt-get install chromium; .ci/run does)",
    ),
]


# axe-core, fetched like the console's own assets (npm registry tarball, sha512 checked),
# into an ignored folder (the `axe_source` fixture); a test injects it into each page.
AXE_LOCK = Path(__file__).parents[2] / "fixtures" / "axe.lock.json"
AXE_DIR = Path(__file__).parents[3] / ".data" / "test-assets"


def serious_violations(page, axe_source: str) -> list[str]:
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
