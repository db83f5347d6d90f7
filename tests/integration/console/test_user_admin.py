"""User administration in a real browser: HQ admin creates a branch clerk, who signs in and
sees only its branch; disabling the user sends its open session to sign-in; a reset password
works and the old one does not; an API key is shown once and, revoked, is refused by the
APIs; other roles get the 403 page; bad input shows identity's error by the field."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.console.support import (
    BROWSER_TESTS,
    serious_violations,
    sign_in,
    token_of,
)
from tests.platform import wait_until

pytestmark = BROWSER_TESTS

PASSWORD = "Chengdu-Spring-2026"  # noqa: S105 - test data
SHORT_PASSWORD = "short"  # noqa: S105 - test data
NEW_PASSWORD = "Chengdu-Autumn-2026"  # noqa: S105 - test data
# Within this many seconds a change in identity reaches every process (through the topic).
PROPAGATION_S = 20


def users_in_store(platform) -> list[dict]:
    answer = platform["identity"].get("/users", headers=token_of(platform, "hq.admin"))
    return answer.json()["users"]


def create_user(page, username: str, role: str, password: str = PASSWORD, **scope: str) -> None:
    page.goto("/users")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("姓名").fill(f"{username} (test)")
    page.get_by_label("角色").select_option(role)
    for name, value in scope.items():
        page.locator(f"#new-{name}").fill(value)
    page.get_by_label("初始密码").fill(password)
    page.get_by_role("button", name="创建用户").click()
    page.wait_for_load_state()


@pytest.fixture
def admin(browser, platform):
    context = browser.new_context(base_url=platform["console"], locale="zh-CN")
    page = context.new_page()
    sign_in(page, "hq.admin")
    yield page
    context.close()


def test_hq_creates_a_branch_clerk_who_signs_in_and_sees_only_its_branch(admin, page, platform):
    create_user(admin, "cd.clerk.li", "branch_clerk", branch="CD")
    assert admin.url.endswith("/users/cd.clerk.li?done=created")
    assert admin.locator("#user").get_attribute("data-role") == "branch_clerk"
    assert admin.locator("#user-scope").inner_text() == "CD"
    created = admin.locator("#history tr[data-change=created]")
    assert created.get_attribute("data-by") == "hq.admin"
    admin.goto("/users")
    assert admin.locator("#users tr[data-username='cd.clerk.li']").count() == 1

    sign_in(page, "cd.clerk.li", PASSWORD)
    assert page.url.endswith("/orders")
    dealers = {
        row.get_attribute("data-dealer") for row in page.locator("#orders tr[data-dealer]").all()
    }
    assert dealers and all(code.startswith("CD-") for code in dealers)
    assert page.get_by_role("link", name="用户管理").count() == 0
    page.goto("/hq")
    assert page.locator("#forbidden").is_visible()


def test_hq_creates_a_region_manager_for_chengdu_and_chongqing(admin, page, platform):
    create_user(admin, "sw.manager.zhao", "region_manager", region="SOUTHWEST", branches="CD， CQ")
    assert admin.url.endswith("/users/sw.manager.zhao?done=created")
    assert admin.locator("#user").get_attribute("data-role") == "region_manager"
    assert admin.locator("#user-scope").inner_text() == "SOUTHWEST (CD, CQ)"
    assert admin.locator("#change-branches").input_value() == "CD, CQ"

    sign_in(page, "sw.manager.zhao", PASSWORD)
    page.goto("/warnings")
    assert not page.locator("#forbidden").is_visible()


def test_a_region_managers_branch_outside_its_region_is_shown_by_the_branches(admin, platform):
    before = users_in_store(platform)
    create_user(admin, "sw.manager.sun", "region_manager", region="SOUTHWEST", branches="CD, XX")
    assert "XX" in admin.locator("#new-branches-error").inner_text()
    assert admin.locator("#new-branches").input_value() == "CD, XX"
    create_user(admin, "sw.manager.sun", "region_manager", region="SOUTHWEST")
    assert admin.locator("#new-branches-error").is_visible()  # a region manager needs them
    assert users_in_store(platform) == before


def test_a_disabled_users_open_session_is_sent_to_sign_in(admin, page, platform):
    create_user(admin, "cd.clerk.zhao", "branch_clerk", branch="CD")
    sign_in(page, "cd.clerk.zhao", PASSWORD)
    assert page.url.endswith("/orders")
    admin.get_by_label("停用原因").fill("调往重庆分公司")
    admin.get_by_role("button", name="停用").click()
    admin.wait_for_load_state()
    assert admin.locator("#user").get_attribute("data-disabled") == "true"
    disabled = admin.locator("#history tr[data-change=disabled]")
    assert "调往重庆分公司" in disabled.inner_text()
    assert disabled.get_attribute("data-by") == "hq.admin"

    def sent_to_sign_in() -> bool:
        page.goto("/orders")
        return page.url.endswith("/signin")

    wait_until(sent_to_sign_in, timeout=PROPAGATION_S, what="the session to be refused")
    sign_in(page, "cd.clerk.zhao", PASSWORD)
    assert page.locator("#signin-error").is_visible()


def test_a_reset_password_works_and_the_old_one_does_not(admin, page, platform):
    create_user(admin, "sh.clerk.sun", "branch_clerk", branch="SH")
    admin.get_by_label("新密码").fill(NEW_PASSWORD)
    admin.get_by_role("button", name="重置密码").click()
    admin.wait_for_load_state()
    assert admin.url.endswith("done=password")
    assert admin.locator("#history tr[data-change=password_reset]").count() == 1
    sign_in(page, "sh.clerk.sun", PASSWORD)
    assert page.locator("#signin-error").is_visible()
    sign_in(page, "sh.clerk.sun", NEW_PASSWORD)
    assert page.url.endswith("/orders")


def test_an_api_key_is_shown_once_and_once_revoked_the_api_refuses_it(admin, platform):
    admin.goto("/users/erp.integration")
    admin.get_by_label("密钥用途").fill("金蝶总账接口")
    admin.get_by_role("button", name="签发API密钥").click()
    admin.wait_for_load_state()
    key = admin.locator("#new-api-key").input_value()
    assert key.startswith("dk_")
    key_id = key.split("_")[1]
    row = admin.locator(f"#api-keys tr[data-key-id='{key_id}']")
    assert row.get_attribute("data-revoked") == "false"

    query = platform["query"]
    bearer = {"Authorization": f"Bearer {key}"}
    wait_until(
        lambda: query.get("/hq/orders?limit=1", headers=bearer).status_code == 200,
        timeout=PROPAGATION_S,
        what="the new key to be accepted",
    )
    admin.goto("/users/erp.integration")  # the page again: the key is not on it
    assert admin.locator("#issued-key").count() == 0
    assert key not in admin.content()

    admin.locator(f"#api-keys tr[data-key-id='{key_id}']").get_by_role(
        "button", name="吊销"
    ).click()
    admin.wait_for_load_state()
    assert (
        admin.locator(f"#api-keys tr[data-key-id='{key_id}']").get_attribute("data-revoked")
        == "true"
    )
    wait_until(
        lambda: query.get("/hq/orders?limit=1", headers=bearer).status_code == 401,
        timeout=PROPAGATION_S,
        what="the revoked key to be refused",
    )
    assert httpx  # the API is reached over HTTP only


def test_a_dealer_opening_users_gets_the_403_page_with_no_data(page, platform):
    sign_in(page, "dealer.cd001")
    for path in ("/users", "/users/hq.admin"):
        page.goto(path)
        assert page.locator("#forbidden").is_visible(), path
        assert "hq.admin" not in page.locator("main").inner_text()
        assert page.locator("#users").count() == 0
    assert page.get_by_role("link", name="用户管理").count() == 0


def test_bad_input_shows_identitys_error_by_the_field_and_changes_nothing(admin, platform):
    before = users_in_store(platform)
    create_user(admin, "cd.clerk.qian", "branch_clerk", password=SHORT_PASSWORD)
    assert admin.locator("#password-error").is_visible()
    assert admin.locator("#new-branch-error").is_visible()  # a branch clerk needs its branch
    assert admin.get_by_label("用户名").input_value() == "cd.clerk.qian"
    create_user(admin, "cd.clerk", "branch_clerk", branch="CD")  # the demo clerk's name
    assert admin.locator("#username-error").is_visible()
    create_user(admin, "lz.clerk.ma", "branch_clerk", branch="LZ")  # no Lanzhou branch
    assert "LZ" in admin.locator("#new-branch-error").inner_text()
    create_user(admin, "Bad Name", "hq_viewer")
    assert admin.locator("#username-error").is_visible()
    assert users_in_store(platform) == before

    admin.goto("/users/cd.clerk")
    admin.get_by_label("新密码").fill("cd.clerk-2026-pass")  # holds the user name
    admin.get_by_role("button", name="重置密码").click()
    admin.wait_for_load_state()
    assert admin.locator("#new-password-error").is_visible()
    admin.get_by_role("button", name="停用").click()  # no reason given
    admin.wait_for_load_state()
    assert admin.locator("#reason-error").is_visible()
    assert users_in_store(platform) == before


@pytest.mark.parametrize("paths", [["/users", "/users/cd.clerk", "/users/erp.integration"]])
def test_axe_finds_no_serious_violations_on_the_user_pages(browser, platform, axe_source, paths):
    context = browser.new_context(base_url=platform["console"], bypass_csp=True)
    page = context.new_page()
    sign_in(page, "hq.admin")
    for path in paths:
        page.goto(path)
        assert serious_violations(page, axe_source) == [], path
    context.close()
