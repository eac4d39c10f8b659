"""Referrals through the API: opened with a referred clearance or by a kiosk, photos while open,
the officer's decision recorded and audited, and who may do what."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import pytest
import structlog
from PIL import Image
from sqlalchemy import select

from backend.audit.chain import recent_entries, verify_chain
from backend.policy.clock import CST
from backend.referrals.tables import ReferralRow
from bordergate.contracts import referral_photo_key
from tests.backend.conftest import clearance_body, count_rows
from tests.backend.referrals.conftest import (
    STAY,
    Backend,
    b64,
    jpeg,
    kiosk_report,
    referred_transit,
)


def row(backend: Backend, referral_id: str) -> ReferralRow:
    with backend.app.state.records.session() as session:
        found: ReferralRow = session.execute(
            select(ReferralRow).where(ReferralRow.referral_id == uuid.UUID(referral_id))
        ).scalar_one()
        session.expunge(found)
        return found


async def test_a_referred_clearance_opens_one_referral_with_everything_the_officer_needs(
    backend_with_staff: Backend,
) -> None:
    b = backend_with_staff
    decision = await b.refer()
    assert decision["referral_id"]
    officer = await b.staff("olga")
    listed = (await officer.get("/v1/referrals", params={"hall": "airport"})).json()
    [referral] = listed
    assert referral["referral_id"] == decision["referral_id"]
    assert referral["clearance_id"] == decision["clearance_id"]
    assert referral["source"] == "backend"
    assert referral["lane_id"] == "A-01"
    assert referral["status"] == "open"
    assert [r["code"] for r in referral["reasons"]] == ["face-mismatch"]
    assert referral["reasons"][0]["text"] == "The face does not match the passport photo."
    assert referral["document"]["surname"] == "ZHANGSECRET"
    assert referral["document"]["nationality"] == "D"
    assert referral["face_score"] == pytest.approx(0.31)
    assert referral["liveness"] == "passed"
    # The policy admitted (the face referred): its stay prefills the officer's admit.
    assert referral["scheme"] == "transit-240h"
    assert referral["policy_permitted_until"] == STAY
    rules = referral["explanation"]["rules"]
    assert rules
    assert all({"scheme", "rule", "passed", "detail"} <= set(r) for r in rules)
    assert referral["facts"]["journey"]["onward_to"] == "JPN"
    assert [j["kind"] for j in referral["journey"]] == ["boarding_pass", "boarding_pass"]
    assert referral["photos"] == []


async def test_admitted_travellers_open_no_referral_and_a_retry_opens_no_second(
    backend_with_staff: Backend,
) -> None:
    b = backend_with_staff
    admitted = await b.kiosk.post("/v1/clearances", json=clearance_body())
    assert admitted.json()["outcome"] == "admit"
    assert admitted.json()["referral_id"] is None
    body = referred_transit()
    first = await b.refer(body)
    again = await b.refer(body)
    assert again["referral_id"] == first["referral_id"]
    assert count_rows(b.app, "referrals") == 1


async def test_a_kiosk_reports_its_own_referral_once_per_request_id(
    backend_with_staff: Backend,
) -> None:
    b = backend_with_staff
    headers = b.device("airport", "A-07")
    report = kiosk_report()
    first = await b.kiosk.post("/v1/referrals", json=report, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    retry = await b.kiosk.post("/v1/referrals", json=report, headers=headers)
    assert retry.status_code == 200
    assert retry.json() == {"referral_id": first.json()["referral_id"], "created": False}
    assert count_rows(b.app, "referrals") == 1
    stored = row(b, first.json()["referral_id"])
    assert (stored.source, stored.hall, stored.lane_id) == ("kiosk", "airport", "A-07")
    assert stored.reasons == ["liveness-failed"]
    assert stored.clearance_id is None
    # In Chinese for an officer who reads Chinese.
    officer = await b.staff("wang")
    [view] = (await officer.get("/v1/referrals", params={"hall": "airport"})).json()
    assert view["reasons"][0]["text"] == "活体检测未通过。"
    assert view["detail"] == "blink not seen"


async def test_a_kiosk_report_for_a_referred_clearance_answers_that_referral(
    backend_with_staff: Backend,
) -> None:
    b = backend_with_staff
    body = referred_transit()
    decision = await b.refer(body)
    # The kiosk never got the answer and referred on its own, with the same request id.
    report = kiosk_report(request_id=body["request_id"], reasons=["backend-unavailable"])
    response = await b.kiosk.post("/v1/referrals", json=report, headers=b.device())
    assert response.status_code == 200
    assert response.json()["referral_id"] == decision["referral_id"]
    assert count_rows(b.app, "referrals") == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"reasons": ["traveller-left"]}, 422),
        ({"reasons": []}, 422),
        ({"reasons": ["no-such-reason"]}, 422),
        ({"document": {"surname": "X"}}, 422),
        ({"extra": 1}, 422),
    ],
)
async def test_bad_kiosk_reports_are_refused_and_change_nothing(
    backend_with_staff: Backend, change: dict[str, object], status: int
) -> None:
    b = backend_with_staff
    response = await b.kiosk.post("/v1/referrals", json=kiosk_report(**change), headers=b.device())
    assert response.status_code == status, response.text
    assert count_rows(b.app, "referrals") == 0


async def test_only_a_registered_device_reports_referrals(backend_with_staff: Backend) -> None:
    b = backend_with_staff
    assert (await b.kiosk.post("/v1/referrals", json=kiosk_report())).status_code == 401
    bad = {"Authorization": "Bearer bgd_not-a-token"}
    assert (
        await b.kiosk.post("/v1/referrals", json=kiosk_report(), headers=bad)
    ).status_code == 401
    officer = await b.staff("olga")  # a session is not a device
    assert (await officer.post("/v1/referrals", json=kiosk_report())).status_code == 401
    assert count_rows(b.app, "referrals") == 0


async def test_photos_are_sanitised_shown_uncached_and_only_to_officers(
    backend_with_staff: Backend,
) -> None:
    b = backend_with_staff
    decision = await b.refer()
    rid = decision["referral_id"]
    original = jpeg(seed=3)
    put = await b.kiosk.put(
        f"/v1/referrals/{rid}/photos",
        json={"document": b64(original), "live": b64(jpeg(seed=4))},
        headers=b.device(),
    )
    assert put.status_code == 200, put.text
    assert sorted(put.json()["stored"]) == ["document", "live"]
    officer = await b.staff("olga")
    photo = await officer.get(f"/v1/referrals/{rid}/photos/document")
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["cache-control"] == "no-store"
    assert photo.content != original  # re-encoded by the backend
    with Image.open(io.BytesIO(photo.content)) as image:
        assert image.format == "JPEG"
        assert image.size == (120, 160)
    [view] = (await officer.get("/v1/referrals", params={"hall": "airport"})).json()
    assert view["photos"] == ["document", "live"]
    # Not for a kiosk, a manager or nobody.
    assert (await b.kiosk.get(f"/v1/referrals/{rid}/photos/document")).status_code == 401
    manager = await b.staff("mia")
    assert (await manager.get(f"/v1/referrals/{rid}/photos/document")).status_code == 403


@pytest.mark.parametrize(
    ("photos", "status"),
    [
        ({"document": b64(b"not an image at all")}, 422),
        ({"live": "!!! not base64 !!!"}, 422),
        ({"document": ""}, 422),
        ({"live": b64(jpeg(8, 8))}, 422),  # too small to be a face
        ({"document": b64(b"\xff\xd8\xff\xe0" + b"\x00" * 200)}, 422),  # a broken JPEG
    ],
)
async def test_what_is_not_a_jpeg_photo_is_refused(
    backend_with_staff: Backend, photos: dict[str, str], status: int
) -> None:
    b = backend_with_staff
    rid = (await b.refer())["referral_id"]
    response = await b.kiosk.put(f"/v1/referrals/{rid}/photos", json=photos, headers=b.device())
    assert response.status_code == status, response.text
    keys = await b.app.state.redis.keys("bordergate:referral-photo:*")
    assert keys == []


async def test_a_png_and_an_oversized_body_are_refused(backend_with_staff: Backend) -> None:
    b = backend_with_staff
    rid = (await b.refer())["referral_id"]
    png = io.BytesIO()
    Image.new("RGB", (100, 100), (10, 20, 30)).save(png, format="PNG")
    response = await b.kiosk.put(
        f"/v1/referrals/{rid}/photos", json={"live": b64(png.getvalue())}, headers=b.device()
    )
    assert response.status_code == 422
    assert "JPEG" in response.json()["message"]
    huge = await b.kiosk.put(
        f"/v1/referrals/{rid}/photos",
        content=b'{"live": "' + b"A" * (900 * 1024) + b'"}',
        headers={**b.device(), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413


async def test_a_kiosk_uploads_photos_only_to_its_own_lanes_referral(
    backend_with_staff: Backend,
) -> None:
    b = backend_with_staff
    rid = (await b.refer())["referral_id"]  # lane A-01
    other = b.device("airport", "A-02")
    response = await b.kiosk.put(
        f"/v1/referrals/{rid}/photos", json={"live": b64(jpeg())}, headers=other
    )
    assert response.status_code == 404
    unknown = await b.kiosk.put(
        f"/v1/referrals/{uuid.uuid4()}/photos", json={"live": b64(jpeg())}, headers=b.device()
    )
    assert unknown.status_code == 404


async def test_the_officers_admission_is_recorded_audited_and_the_photos_deleted(
    backend_with_staff: Backend,
) -> None:
    b = backend_with_staff
    decision = await b.refer()
    rid = decision["referral_id"]
    photos = {"document": b64(jpeg(seed=1)), "live": b64(jpeg(seed=2))}
    assert (
        await b.kiosk.put(f"/v1/referrals/{rid}/photos", json=photos, headers=b.device())
    ).status_code == 200
    officer = await b.staff("olga")
    response = await officer.post(
        f"/v1/referrals/{rid}/decision", json={"decision": "admit", "note": "face checked"}
    )
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["status"] == "closed"
    assert view["decision"] == "admit"
    assert view["decided_by"] == "olga"
    assert view["permitted_until"] == STAY
    assert view["photos"] == []
    stored = row(b, rid)
    assert (stored.status, stored.decision, stored.decided_by) == ("closed", "admit", "olga")
    assert stored.decided_at is not None
    assert stored.note == "face checked"
    # Audited in the same transaction, and the chain still holds.
    [entry] = recent_entries(b.app.state.records, kind="officer-decision")
    assert entry.actor == "olga"
    assert entry.subject == f"referral:{rid}"
    assert entry.detail["decision"] == "admit"
    assert entry.detail["clearance_id"] == decision["clearance_id"]
    assert entry.detail["permitted_until"] == STAY
    assert verify_chain(b.app.state.records) is None
    # The photos are gone from Redis and from the API.
    redis = b.app.state.redis
    for kind in ("document", "live"):
        assert await redis.exists(referral_photo_key(rid, kind)) == 0
        assert (await officer.get(f"/v1/referrals/{rid}/photos/{kind}")).status_code == 404
    # A closed referral takes no photos and no second decision.
    late = await b.kiosk.put(f"/v1/referrals/{rid}/photos", json=photos, headers=b.device())
    assert late.status_code == 409
    assert await redis.keys("bordergate:referral-photo:*") == []
    second = await officer.post(f"/v1/referrals/{rid}/decision", json={"decision": "refuse"})
    assert second.status_code == 409
    assert row(b, rid).decision == "admit"
    assert len(recent_entries(b.app.state.records, kind="officer-decision")) == 1
    assert (await officer.get("/v1/referrals", params={"hall": "airport"})).json() == []


async def test_only_a_supervisor_changes_the_permitted_stay(backend_with_staff: Backend) -> None:
    b = backend_with_staff
    later = (datetime.now(CST) + timedelta(days=5)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rid = (await b.refer())["referral_id"]
    officer = await b.staff("olga")
    refused = await officer.post(
        f"/v1/referrals/{rid}/decision",
        json={"decision": "admit", "permitted_until": later.isoformat()},
    )
    assert refused.status_code == 403
    assert row(b, rid).status == "open"
    # The computed date itself is fine for an officer (the console sends it prefilled).
    rid2 = (await b.refer())["referral_id"]
    same = await officer.post(
        f"/v1/referrals/{rid2}/decision", json={"decision": "admit", "permitted_until": STAY}
    )
    assert same.status_code == 200
    supervisor = await b.staff("sam")
    past = await supervisor.post(
        f"/v1/referrals/{rid}/decision",
        json={"decision": "admit", "permitted_until": "2020-01-01T00:00:00+08:00"},
    )
    assert past.status_code == 422
    changed = await supervisor.post(
        f"/v1/referrals/{rid}/decision",
        json={"decision": "admit", "permitted_until": later.isoformat()},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["permitted_until"] == later.isoformat()
    assert row(b, rid).decided_by == "sam"


async def test_refusal_and_secondary_carry_no_stay(backend_with_staff: Backend) -> None:
    b = backend_with_staff
    officer = await b.staff("olga")
    rid = (await b.refer())["referral_id"]
    bad = await officer.post(
        f"/v1/referrals/{rid}/decision", json={"decision": "refuse", "permitted_until": STAY}
    )
    assert bad.status_code == 422
    for decision in ("refuse", "secondary"):
        rid = (await b.refer())["referral_id"]
        ok = await officer.post(f"/v1/referrals/{rid}/decision", json={"decision": decision})
        assert ok.status_code == 200
        assert ok.json()["permitted_until"] is None
        assert row(b, rid).decision == decision


async def test_wrong_roles_and_cross_site_requests_are_refused(backend_with_staff: Backend) -> None:
    b = backend_with_staff
    rid = (await b.refer())["referral_id"]
    manager = await b.staff("mia")
    assert (await manager.get("/v1/referrals", params={"hall": "airport"})).status_code == 403
    denied = await manager.post(f"/v1/referrals/{rid}/decision", json={"decision": "admit"})
    assert denied.status_code == 403
    anonymous = await b.kiosk.post(f"/v1/referrals/{rid}/decision", json={"decision": "admit"})
    assert anonymous.status_code == 401
    officer = await b.staff("olga")
    no_header = await officer.post(
        f"/v1/referrals/{rid}/decision",
        json={"decision": "admit"},
        headers={"X-Bordergate-Console": ""},
    )
    assert no_header.status_code == 403
    as_form = await officer.post(f"/v1/referrals/{rid}/decision", data={"decision": "admit"})
    assert as_form.status_code == 422
    unknown = await officer.post(
        f"/v1/referrals/{uuid.uuid4()}/decision", json={"decision": "admit"}
    )
    assert unknown.status_code == 404
    assert row(b, rid).status == "open"
    admin = await b.staff("ada")
    assert (
        await admin.post(f"/v1/referrals/{rid}/decision", json={"decision": "secondary"})
    ).status_code == 200


async def test_nothing_personal_or_biometric_is_logged(backend_with_staff: Backend) -> None:
    b = backend_with_staff
    live = jpeg(seed=9)
    with structlog.testing.capture_logs() as logs:
        rid = (await b.refer())["referral_id"]
        await b.kiosk.put(
            f"/v1/referrals/{rid}/photos",
            json={"document": b64(jpeg(seed=8)), "live": b64(live)},
            headers=b.device(),
        )
        await b.kiosk.post("/v1/referrals", json=kiosk_report(), headers=b.device())
        officer = await b.staff("olga")
        await officer.get(f"/v1/referrals/{rid}/photos/live")
        await officer.post(f"/v1/referrals/{rid}/decision", json={"decision": "refuse"})
    text = repr(logs)
    for secret in ("ZHANGSECRET", "WEIHIDDEN", "C01X00T47", "MUELLER", b64(live)[:40], "/9j/"):
        assert secret not in text
    assert any(e["event"] == "referral.decided" for e in logs)
    assert any(e["event"] == "referral.opened" for e in logs)


async def test_the_referral_and_its_clearance_commit_together(
    backend_with_staff: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing referral insert rolls the clearance back: never one without the other."""
    b = backend_with_staff
    from backend.referrals import store as referral_store

    def broken(**kwargs: object) -> ReferralRow:
        built = original(**kwargs)  # type: ignore[arg-type]
        built.hall = None  # type: ignore[assignment]  # NOT NULL: the insert fails
        return built

    original = referral_store.backend_referral
    monkeypatch.setattr("backend.clearance.service.backend_referral", broken)
    response = await b.kiosk.post("/v1/clearances", json=referred_transit())
    assert response.status_code == 503
    assert count_rows(b.app, "clearances") == 0
    assert count_rows(b.app, "referrals") == 0
