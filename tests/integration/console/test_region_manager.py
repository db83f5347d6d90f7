"""The region manager (大区经理) in the console, in a real browser: the demo's Southwest
manager (Chengdu and Chongqing) lands on its warnings, sees its branches' and no other
region's, has no headquarters link in the nav, and gets the 403 page at the national
dashboard (the API refuses it: the console decides nothing); its nav links each of its
branches' dashboards, and another region's branch is the 403 page."""

from __future__ import annotations

import pytest

from tests.integration.console.support import BROWSER_TESTS, sign_in
from tests.integration.console.test_warnings_inbox import api, page_and_api_agree
from tests.platform import wait_until

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def demo_warnings(platform) -> list[dict]:
    """The demo's live warnings: the Chengdu credit hold, the Chongqing override (Southwest)
    and the Beijing shortage (North)."""

    def raised() -> list[dict] | None:
        found = api(platform, "/warnings", "hq.admin")["warnings"]
        return found if {w["branch"] for w in found} >= {"CD", "CQ", "BJ"} else None

    return wait_until(raised, timeout=60, what="the demo's warnings raised")


def test_the_southwest_manager_works_its_branches_warnings_and_sees_no_hq(
    page, platform, demo_warnings
):
    sign_in(page, "sw.manager")
    page.wait_for_url("**/warnings")

    # The demo goes on raising warnings (its saga, the routine checks), so the page and the
    # API are compared on the same state: the page is loaded again until they agree.
    shown, expected = page_and_api_agree(page, platform, "/warnings", "sw.manager")
    assert {w["branch"] for w in expected} == {"CD", "CQ"}
    theirs = {w["warning_id"] for w in demo_warnings if w["branch"] in ("CD", "CQ")}
    assert theirs <= {row["id"] for row in shown}

    bell = page.locator("#warning-bell")

    def bell_agrees() -> bool:
        page.reload()
        counts = api(platform, "/warnings/counts", "sw.manager")
        return int(bell.get_attribute("data-open")) == counts["total"] >= 2

    wait_until(bell_agrees, timeout=30, what="the bell to count what the API counts")
    nav = page.locator("nav[aria-label=main]")
    for link in ("/hq", "/orders", "/users", "/dealers", "/reports"):
        assert nav.locator(f'a[href="{link}"]').count() == 0, link

    response = page.goto("/hq")
    assert response.status == 403
    assert page.locator("#forbidden").is_visible()


def test_the_southwest_manager_opens_each_of_its_branches_dashboards_and_no_other(page, platform):
    sign_in(page, "sw.manager")
    page.wait_for_url("**/warnings")
    nav = page.locator("nav[aria-label=main]")
    assert nav.locator("a[data-branch]").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    ) == ["/branches/CD", "/branches/CQ"]

    nav.locator('a[href="/branches/CQ"]').click()
    page.wait_for_url("**/branches/CQ")
    assert not page.locator("#forbidden").is_visible()
    assert page.locator("h1").inner_text().startswith("分公司看板")

    response = page.goto("/branches/SH")  # Shanghai is East's: the query API refuses it
    assert response.status == 403
    assert page.locator("#forbidden").is_visible()
