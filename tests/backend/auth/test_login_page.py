"""The sign-in page in Debian's chromium against the real backend process on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.auth.roles import Role
from backend.records.store import RecordsStore
from tests.auth_helpers import TEST_PASSWORD, add_user
from tests.browser import screenshot
from tests.conftest import free_port
from tests.processes import part_env, start_part, stop_part, wait_http_ok

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def backend_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``bordergate backend`` on a free port, with an officer and a manager."""
    folder: Path = tmp_path_factory.mktemp("login-page")
    database_url = f"sqlite:///{folder / 'records.sqlite3'}"
    store = RecordsStore(database_url)
    add_user(store, "olga", Role.OFFICER)
    add_user(store, "mia", Role.MANAGER)
    store.dispose()
    port = free_port()
    env = part_env(BORDERGATE_PORT=str(port), BORDERGATE_DATABASE_URL=database_url)
    proc = start_part(["backend"], env, folder / "backend.log")
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_part(proc)


def sign_in(page: Any, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("Sign in")).click()


def test_an_officer_signs_in_and_reaches_the_console(page: Any, backend_url: str) -> None:
    response = page.goto(f"{backend_url}/")
    assert response is not None
    assert page.url == f"{backend_url}/login"
    screenshot(page, "login")
    sign_in(page, "olga", TEST_PASSWORD)
    page.wait_for_url(f"{backend_url}/console")
    me = page.context.request.get(f"{backend_url}/v1/auth/me")
    assert me.status == 200
    assert me.json()["role"] == "officer"
    cookie = next(c for c in page.context.cookies() if c["name"] == "bordergate_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    # Page scripts cannot read it.
    assert "bordergate_session" not in page.evaluate("document.cookie")


def test_a_wrong_password_shows_an_error_and_stays_signed_out(page: Any, backend_url: str) -> None:
    page.goto(f"{backend_url}/login")
    sign_in(page, "olga", "not-the-password")
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert "Wrong username or password" in error.inner_text()
    assert page.url == f"{backend_url}/login"
    assert page.get_by_label("Password").input_value() == ""
    screenshot(page, "login-error")
    assert page.context.request.get(f"{backend_url}/v1/auth/me").status == 401


def test_sign_in_returns_to_the_page_asked_for(page: Any, backend_url: str) -> None:
    page.goto(f"{backend_url}/login?next=/v1/auth/me")
    sign_in(page, "mia", TEST_PASSWORD)
    page.wait_for_url(f"{backend_url}/v1/auth/me")
    assert json.loads(page.locator("body").inner_text())["username"] == "mia"


def test_next_never_leaves_the_site(page: Any, backend_url: str) -> None:
    page.goto(f"{backend_url}/login?next=//example.invalid/x")
    sign_in(page, "mia", TEST_PASSWORD)
    page.wait_for_url(f"{backend_url}/dashboard")
