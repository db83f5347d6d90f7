"""The nav's bell: the open warnings of the user's scope from the counts API, with the
user's token; left out (None) for those not told of warnings, and whenever the count does
not come (an error, a refusal, a timeout), so that no page waits on it or fails for it."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.templating import Jinja2Templates

from console.app import HERE
from console.web import Console, Urls, Who
from runtime.http.console_session import ConsoleSession

SESSION = ConsoleSession("s-1", "cd.manager", "token-of-cd-manager", time.time() + 3600)
MANAGER = Who("cd.manager", "Li Qiang", "branch_manager", "CD", None)


def console_answering(handler) -> Console:
    urls = Urls(*(f"http://{name}.test" for name in Urls.__dataclass_fields__))
    return Console(
        urls=urls,
        secret=b"x" * 32,
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        templates=Jinja2Templates(directory=HERE / "templates"),
    )


def test_the_bell_counts_the_scope_s_open_warnings_with_the_user_s_token():
    asked = []

    def counts(request: httpx.Request) -> httpx.Response:
        asked.append((str(request.url), request.headers["Authorization"]))
        return httpx.Response(200, json={"total": 3, "by_level": {"branch_manager": 3}})

    assert console_answering(counts).open_warnings(SESSION, MANAGER) == 3
    assert asked == [("http://warnings.test/warnings/counts", "Bearer token-of-cd-manager")]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, json={"code": "not_caught_up"}),
        httpx.Response(403, json={"code": "forbidden"}),
        httpx.Response(200, text="not json"),
    ],
)
def test_no_bell_when_the_count_does_not_come(answer):
    assert console_answering(lambda request: answer).open_warnings(SESSION, MANAGER) is None


def test_no_bell_when_the_warnings_process_is_slow_or_down():
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer in time", request=request)

    assert console_answering(timeout).open_warnings(SESSION, MANAGER) is None


def test_dealers_and_warehouses_are_not_told_of_warnings_and_nothing_is_asked():
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the counts API was called")

    dealer = Who("dealer.cd001", "Jinjiang Wine Trading", "dealer", None, "CD-001")
    warehouse = Who("cd.warehouse", "Liu Yang", "warehouse_clerk", None, None, "WH-CD", "CD")
    console = console_answering(never)
    assert console.open_warnings(SESSION, dealer) is None
    assert console.open_warnings(SESSION, warehouse) is None
