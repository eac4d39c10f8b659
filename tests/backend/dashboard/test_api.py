"""The dashboard's page, websocket and endpoints: roles, live alerts, acknowledgements, CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from backend.audit.chain import verify_chain
from backend.audit.tables import AuditEntry
from backend.auth.deps import WS_FORBIDDEN, WS_NOT_SIGNED_IN
from backend.dashboard.models import WaitSample
from backend.dashboard.tables import AlertRow
from bordergate.contracts import Hall, Outcome, ReasonCode
from tests.backend.conftest import PII_VALUES
from tests.backend.dashboard.conftest import Backend, record_clearance

MANAGER_ONLY = [
    ("GET", "/v1/dashboard/state"),
    ("GET", "/v1/alerts"),
    ("POST", "/v1/alerts/abc/ack"),
    ("GET", "/v1/exports/waits.csv"),
    ("GET", "/v1/exports/clearances.csv"),
]


def _receive_kind(ws: object, kind: str, limit: int = 50) -> dict[str, object]:
    """The next message of ``kind`` (others are skipped)."""
    for _ in range(limit):
        msg = json.loads(ws.receive_text())  # type: ignore[attr-defined]
        if msg["kind"] == kind:
            data: dict[str, object] = msg["data"]
            return data
    raise AssertionError(f"no {kind} message")


@pytest.mark.parametrize("username", ["olek", "sue"])
def test_officers_are_refused_everywhere(backend_app: Backend, username: str) -> None:
    client = backend_app.as_user(username)
    page = client.get("/dashboard", follow_redirects=False)
    assert page.status_code == 403
    assert "Not allowed" in page.text
    for method, path in MANAGER_ONLY:
        response = client.request(method, path)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "forbidden"
    with client.websocket_connect("/ws/dashboard") as ws, pytest.raises(WebSocketDisconnect) as e:
        ws.receive_text()
    assert e.value.code == WS_FORBIDDEN


def test_signed_out_is_sent_to_sign_in(backend_app: Backend) -> None:
    client = backend_app.signed_out()
    page = client.get("/dashboard", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/dashboard"
    for method, path in MANAGER_ONLY:
        assert client.request(method, path).status_code == 401, (method, path)
    with client.websocket_connect("/ws/dashboard") as ws, pytest.raises(WebSocketDisconnect) as e:
        ws.receive_text()
    assert e.value.code == WS_NOT_SIGNED_IN


@pytest.mark.parametrize("username", ["mia", "ada"])
def test_managers_and_admins_get_the_page_and_its_files(
    backend_app: Backend, username: str
) -> None:
    client = backend_app.as_user(username)
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "/static/dashboard/vendor/uplot/uPlot.iife.min.js" in page.text
    assert "/static/dashboard/dashboard.js" in page.text
    script = client.get("/static/dashboard/vendor/uplot/uPlot.iife.min.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "uPlot" in script.text
    assert client.get("/static/dashboard/vendor/uplot/uPlot.min.css").status_code == 200
    assert client.get("/static/dashboard/dashboard.js").status_code == 200
    assert client.get("/static/base.css").status_code == 200  # the shared mount still answers
    state = client.get("/v1/dashboard/state").json()
    assert [h["hall"] for h in state["halls"]] == ["airport", "cruise"]
    assert state["viewer"]["username"] == username
    assert state["target_s"] == 1500.0


def test_alert_is_pushed_live_acknowledged_once_and_audited(backend_app: Backend) -> None:
    mia = backend_app.as_user("mia")
    with mia.websocket_connect("/ws/dashboard") as ws:
        state = _receive_kind(ws, "state")
        assert state["alerts"] == []
        alert = backend_app.publish_alert(
            Hall.CRUISE, severity="critical", kind="capacity-insufficient"
        )
        pushed = _receive_kind(ws, "alert")
        assert pushed["event_id"] == alert.event_id
        assert pushed["hall"] == "cruise"
        assert pushed["acked_by"] is None
        backend_app.wait_for_alert(alert.event_id)

        first = mia.post(f"/v1/alerts/{alert.event_id}/ack")
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["already"] is False
        assert body["alert"]["acked_by"] == "mia"
        assert body["alert"]["acked_by_name"] == "Mia Manager"
        acked = _receive_kind(ws, "alert_ack")
        assert acked["event_id"] == alert.event_id
        assert acked["acked_by"] == "mia"

    # A second acknowledgement (another manager) changes nothing: the first one stands.
    again = backend_app.as_user("ada").post(f"/v1/alerts/{alert.event_id}/ack")
    assert again.status_code == 200
    assert again.json()["already"] is True
    assert again.json()["alert"]["acked_by"] == "mia"
    assert again.json()["alert"]["acked_at"] == body["alert"]["acked_at"]

    with backend_app.records.session() as session:
        row = session.get(AlertRow, alert.event_id)
        assert row is not None
        assert row.acked_by == "mia"
        assert row.acked_at is not None
        audits = (
            session.execute(select(AuditEntry).where(AuditEntry.kind == "alert-ack"))
            .scalars()
            .all()
        )
        assert [(a.actor, a.subject) for a in audits] == [("mia", alert.event_id)]
        assert audits[0].detail["alert_kind"] == "capacity-insufficient"
    assert verify_chain(backend_app.records) is None

    history = mia.get("/v1/alerts").json()
    assert [(a["event_id"], a["acked_by"]) for a in history] == [(alert.event_id, "mia")]


def test_unknown_alert_is_404_and_bad_ids_422(backend_app: Backend) -> None:
    mia = backend_app.as_user("mia")
    assert mia.post("/v1/alerts/nosuchalert/ack").status_code == 404
    assert mia.post("/v1/alerts/bad%20id!/ack").status_code == 422


def test_alert_appears_live_on_real_redis(backend_real: Backend) -> None:
    mia = backend_real.as_user("mia")
    with mia.websocket_connect("/ws/dashboard") as ws:
        _receive_kind(ws, "state")
        alert = backend_real.publish_alert(Hall.AIRPORT)
        assert _receive_kind(ws, "alert")["event_id"] == alert.event_id
    backend_real.wait_for_alert(alert.event_id)
    receipt = mia.post(f"/v1/alerts/{alert.event_id}/ack").json()
    assert receipt["alert"]["acked_by"] == "mia"


def test_waits_csv(backend_app: Backend) -> None:
    store = backend_app.app.state.dashboard.store
    day_start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC) - timedelta(hours=8)  # 00:00 CST
    for hall, minutes, p95 in [
        (Hall.AIRPORT, 0, 300.0),
        (Hall.CRUISE, 1, 900.0),
        (Hall.AIRPORT, 60 * 24, 111.0),  # the next CST day: left out
        (Hall.AIRPORT, -1, 222.0),  # the CST day before: left out
    ]:
        at = day_start + timedelta(minutes=minutes)
        store.add_sample(
            WaitSample(
                hall=hall, at=at, stats_at=at, samples=40, p95_wait_s=p95, mean_wait_s=100.0,
                share_within_target=0.99, target_s=1500.0, waiting_now=7, egates_open=10,
                officer_lanes_open=3,
            )
        )  # fmt: skip
    mia = backend_app.as_user("mia")
    response = mia.get("/v1/exports/waits.csv", params={"date": "2026-03-02"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="waits-2026-03-02.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["time"], r["hall"], r["p95_wait_s"]) for r in rows] == [
        ("2026-03-02T00:00:00+08:00", "airport", "300.0"),
        ("2026-03-02T00:01:00+08:00", "cruise", "900.0"),
    ]
    assert rows[0]["officer_lanes_open"] == "3"
    one = mia.get("/v1/exports/waits.csv", params={"date": "2026-03-02", "hall": "cruise"})
    assert one.headers["content-disposition"].endswith('filename="waits-2026-03-02-cruise.csv"')
    assert [r["hall"] for r in csv.DictReader(io.StringIO(one.text))] == ["cruise"]


def test_clearances_csv_has_no_names_or_document_numbers(backend_app: Backend) -> None:
    store = backend_app.records
    noon_cst = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    record_clearance(store, noon_cst, lane_id="A-02")
    record_clearance(
        store,
        noon_cst + timedelta(minutes=5),
        outcome=Outcome.REFER,
        reasons=[ReasonCode.FACE_MISMATCH, ReasonCode.LIVENESS_FAILED],
        scheme=None,
        hall="cruise",
        lane_id="-C01",
    )
    record_clearance(store, noon_cst + timedelta(days=1))  # another day
    response = backend_app.as_user("ada").get(
        "/v1/exports/clearances.csv", params={"date": "2026-03-02"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="clearances-2026-03-02.csv"' in response.headers["content-disposition"]
    for secret in PII_VALUES:
        assert secret not in response.text
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["time", "hall", "lane", "outcome", "reasons", "scheme"],
        ["2026-03-02T12:00:00+08:00", "airport", "A-02", "admit", "", "citizen"],
        [
            "2026-03-02T12:05:00+08:00",
            "cruise",
            "'-C01",  # read as a formula by a spreadsheet: defused
            "refer",
            "face-mismatch;liveness-failed",
            "",
        ],
    ]


@pytest.mark.parametrize(
    "query",
    [{"date": "2026-13-01"}, {"date": "yesterday"}, {"date": "2026-3-2"}, {"date": "1700000000"}],
)
def test_bad_dates_are_422(backend_app: Backend, query: dict[str, str]) -> None:
    mia = backend_app.as_user("mia")
    for path in ("/v1/exports/waits.csv", "/v1/exports/clearances.csv", "/v1/alerts"):
        response = mia.get(path, params=query)
        assert response.status_code == 422, (path, query)
        assert response.json()["detail"][0]["loc"] == ["query", "date"]


def test_unknown_hall_is_422(backend_app: Backend) -> None:
    response = backend_app.as_user("mia").get("/v1/exports/waits.csv", params={"hall": "harbour"})
    assert response.status_code == 422
