"""The console's pages on a national dataset (issue 15, item 6): the HQ dashboard's first full
render and the list pages, p95 against their goals (1.5 s, 300 ms).

Run by ``python -m bench.readmodels`` (and its ``--queries-only``) once the read models are
built: identity and the console each in their own process beside the query process, as
``dist run`` starts them. Measured:

- the HQ dashboard's full HTML response from the console, signed in as HQ (every panel's API
  calls made, the page rendered), a fresh session each run so nothing is cached;
- the same in headless Chromium, when Debian's ``chromium`` and Playwright are here: from
  navigation to every chart drawn (ECharts' canvas in each panel);
- the console's orders list page, and the query API's list endpoints (orders, shipments,
  invoices, dealers): first page, the second through its cursor, and a filtered one.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from bench.measure import percentile
from bench.report import Row, ms, verdict
from runtime.settings import DEMO_PASSWORD

DASHBOARD_P95_GOAL_MS = 1500.0
LIST_P95_GOAL_MS = 300.0
HQ_KEY = {"Authorization": "Bearer demo-hq-admin"}
# The query API's lists a console list page reads, as HQ sees them (the biggest scope).
API_LISTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("/hq/orders", {}),
    ("/hq/orders", {"status": "shipped"}),
    ("/hq/shipments", {}),
    ("/hq/invoices", {}),
    ("/hq/invoices", {"status": "open"}),
    ("/hq/dealers", {}),
)
CHARTS_DRAWN = (
    "() => [...document.querySelectorAll('.chart')].every((c) => c.querySelector('canvas'))"
)


def sign_in(console_url: str, username: str = "hq.admin") -> httpx.Client:
    """A client holding a fresh console session (the session cookie)."""
    client = httpx.Client(base_url=console_url, timeout=60)
    answer = client.post("/signin", data={"username": username, "password": DEMO_PASSWORD})
    if answer.status_code != 303:
        client.close()
        raise RuntimeError(f"signing in as {username}: {answer.status_code} {answer.text[:200]}")
    return client


@contextmanager
def signed_in(console_url: str, username: str = "hq.admin") -> Iterator[httpx.Client]:
    client = sign_in(console_url, username)
    try:
        yield client
    finally:
        client.close()


def _timed(runs: int, once: Callable[[], None]) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        once()
        seconds.append(time.perf_counter() - started)
    return seconds


def _summary(what: str, seconds: list[float], goal_ms: float, **extra: Any) -> dict[str, Any]:
    millis = [s * 1000 for s in seconds]
    return {
        "page": what,
        "runs": len(millis),
        "p50_ms": round(percentile(millis, 50) or 0, 1),
        "p95_ms": round(percentile(millis, 95) or 0, 1),
        "max_ms": round(max(millis), 1),
        "goal_p95_ms": goal_ms,
        **extra,
    }


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return response


def time_dashboard(console_url: str, runs: int) -> dict[str, Any]:
    """The console's full HTML response for /hq, each run by a newly signed-in HQ user."""
    sessions = [sign_in(console_url) for _ in range(runs + 2)]
    try:
        for client in sessions[:2]:  # warm-up: plans, pools, templates
            _ok(client.get("/hq"))
        clients = iter(sessions[2:])
        size = 0

        def once() -> None:
            nonlocal size
            size = len(_ok(next(clients).get("/hq")).content)

        seconds = _timed(runs, once)
    finally:
        for client in sessions:
            client.close()
    return _summary(
        "console GET /hq (full HTML, every panel's API calls)",
        seconds,
        DASHBOARD_P95_GOAL_MS,
        bytes=size,
    )


def time_dashboard_in_chromium(console_url: str, runs: int) -> dict[str, Any] | None:
    """Navigation to /hq until every chart is drawn, in headless Chromium; None (and why)
    when Chromium or Playwright is missing."""
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    seconds = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        # One browser profile, as a user's: the assets are cached (revalidated), the page is
        # not (no-store); each run a new session, so the console has nothing of it yet.
        context = browser.new_context(base_url=console_url)
        try:
            for run in range(runs + 2):
                with signed_in(console_url) as client:
                    cookies = [
                        {"name": c.name, "value": c.value, "url": console_url}
                        for c in client.cookies.jar
                    ]
                context.add_cookies(cookies)
                page = context.new_page()
                started = time.perf_counter()
                page.goto("/hq", timeout=120_000)
                page.wait_for_function(CHARTS_DRAWN, timeout=120_000)
                if run >= 2:  # the first two fill the cache of the assets
                    seconds.append(time.perf_counter() - started)
                page.close()
        finally:
            context.close()
            browser.close()
    return _summary("Chromium: /hq navigation to every chart drawn", seconds, DASHBOARD_P95_GOAL_MS)


def time_lists(console_url: str, query_url: str, runs: int) -> list[dict[str, Any]]:
    results = []
    with signed_in(console_url) as console:
        for _ in range(3):
            _ok(console.get("/orders"))
        seconds = _timed(runs, lambda: _ok(console.get("/orders")))
        results.append(_summary("console GET /orders (HQ, first page)", seconds, LIST_P95_GOAL_MS))
    with httpx.Client(base_url=query_url, headers=HQ_KEY, timeout=60) as api:
        for path, params in API_LISTS:
            first = None
            for _ in range(3):
                first = _ok(api.get(path, params=params)).json()
            seconds = _timed(runs, lambda p=path, q=params: _ok(api.get(p, params=q)))
            label = f"{path}?{'&'.join(f'{k}={v}' for k, v in params.items())}".rstrip("?")
            results.append(
                _summary(f"GET {label}", seconds, LIST_P95_GOAL_MS, total=first.get("total"))
            )
            if first.get("next_cursor") and not params:
                page_two = {**params, "cursor": first["next_cursor"]}
                _ok(api.get(path, params=page_two))
                seconds = _timed(runs, lambda p=path, q=page_two: _ok(api.get(p, params=q)))
                results.append(
                    _summary(f"GET {path} (second page, by cursor)", seconds, LIST_P95_GOAL_MS)
                )
    return results


def time_pages(console_url: str, query_url: str, runs: int) -> dict[str, Any]:
    dashboard = time_dashboard(console_url, runs)
    print(f"  {dashboard['page']}: p95 {dashboard['p95_ms']} ms")
    browser = time_dashboard_in_chromium(console_url, max(3, runs // 2))
    if browser:
        print(f"  {browser['page']}: p95 {browser['p95_ms']} ms")
    else:
        print("  Chromium navigation skipped: no chromium or no playwright here")
    lists = time_lists(console_url, query_url, runs)
    for timing in lists:
        print(f"  {timing['page']}: p95 {timing['p95_ms']} ms")
    return {"dashboard": dashboard, "dashboard_browser": browser, "lists": lists}


def rows(pages: dict[str, Any]) -> list[Row]:
    timings = [
        pages["dashboard"],
        *([pages["dashboard_browser"]] if pages["dashboard_browser"] else []),
    ]
    timings += pages["lists"]
    return [
        Row(
            t["page"],
            f"p50 {ms(t['p50_ms'])}, p95 {ms(t['p95_ms'])} ({t['runs']} runs)",
            goal=f"p95 < {ms(t['goal_p95_ms'])}",
            result=verdict(t["p95_ms"] < t["goal_p95_ms"]),
        )
        for t in timings
    ]
