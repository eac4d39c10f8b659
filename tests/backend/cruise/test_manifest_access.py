"""Who may file and read cruise manifests: the agency's feed client (bound to its licence, or a
cruise line's unbound one) or a supervisor files; officers read too. Nobody else."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from backend.auth.feeds import FeedScope
from backend.auth.roles import Role
from tests.auth_helpers import add_user, feed_token, sign_in
from tests.backend.conftest import count_rows
from tests.backend.cruise.conftest import OTHER_VALID, VALID, manifest_body
from tests.conftest import ReliabilityCase


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.reliability("security")
async def test_an_agency_client_files_and_reads_only_its_own_licence(
    cruise_app: tuple[FastAPI, httpx.AsyncClient], reliability_case: ReliabilityCase
) -> None:
    app, client = cruise_app
    reliability_case.injects(
        "an agency's feed token (bound to its licence) filing a manifest under another valid "
        "agency's licence, and reading that agency's manifest"
    )
    reliability_case.asserts("403 agency_not_yours with nothing stored; the read answers 404")
    store = app.state.records
    own = _bearer(feed_token(store, FeedScope.MANIFESTS, agency_licence=VALID))
    other = _bearer(feed_token(store, FeedScope.MANIFESTS, agency_licence=OTHER_VALID))
    filed = await client.post("/v1/manifests", json=manifest_body(), headers=own)
    assert filed.status_code == 201, filed.text
    manifest_id = filed.json()["manifest_id"]
    rows = count_rows(app, "cruise_manifest_members")
    posing = await client.post("/v1/manifests", json=manifest_body(voyage="V9"), headers=other)
    assert posing.status_code == 403
    assert posing.json()["error"] == "agency_not_yours"
    assert count_rows(app, "cruise_manifest_members") == rows
    assert (await client.get(f"/v1/manifests/{manifest_id}", headers=other)).status_code == 404
    assert (await client.get(f"/v1/manifests/{manifest_id}", headers=own)).status_code == 200
    # A cruise line's client (no licence bound) files for the agencies it carries.
    line = _bearer(feed_token(store, FeedScope.MANIFESTS))
    body = manifest_body(voyage="V10", agency_licence=OTHER_VALID)
    assert (await client.post("/v1/manifests", json=body, headers=line)).status_code == 201


@pytest.mark.reliability("security")
async def test_staff_file_and_read_manifests_by_role(
    cruise_app: tuple[FastAPI, httpx.AsyncClient], reliability_case: ReliabilityCase
) -> None:
    app, client = cruise_app
    reliability_case.injects("manifests filed and read with each staff role's session cookie")
    reliability_case.asserts(
        "a supervisor files (201); an officer or manager filing gets 403; officers and "
        "supervisors read it back, a manager gets 403"
    )
    store = app.state.records
    for name, role in (("sam", Role.SUPERVISOR), ("olga", Role.OFFICER), ("mia", Role.MANAGER)):
        add_user(store, name, role)
    assert (await sign_in(client, "sam")).status_code == 200
    filed = await client.post("/v1/manifests", json=manifest_body())
    assert filed.status_code == 201, filed.text
    path = f"/v1/manifests/{filed.json()['manifest_id']}"
    assert (await client.get(path)).status_code == 200
    assert (await sign_in(client, "olga")).status_code == 200
    assert (await client.get(path)).status_code == 200
    refused = await client.post("/v1/manifests", json=manifest_body(voyage="V2"))
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    assert (await sign_in(client, "mia")).status_code == 200
    assert (await client.get(path)).status_code == 403
