"""The licensed agencies registry and its data file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import fakeredis
import pytest

from backend.cruise.agencies import AgencyStatus, load_agencies
from backend.cruise.settings import DEFAULT_AGENCIES_FILE
from tests.backend.conftest import make_settings, running


def test_shipped_file_loads_with_each_kind_of_licence() -> None:
    registry = load_agencies(DEFAULT_AGENCIES_FILE)
    on = date(2025, 7, 1)
    statuses = {registry.status(a, on) for a in ("L-TJ-CJ00001", "L-TJ-CJ00090", "L-TJ-CJ00091")}
    assert statuses == {AgencyStatus.LICENSED, AgencyStatus.EXPIRED, AgencyStatus.REVOKED}
    assert registry.status("l-tj-cj00001 ", on) is AgencyStatus.LICENSED


def test_validity_dates_are_inclusive(agencies_file: Path) -> None:
    registry = load_agencies(agencies_file)
    assert registry.is_licensed("L-TJ-CJ00090", date(2023, 12, 31))
    assert registry.status("L-TJ-CJ00090", date(2024, 1, 1)) is AgencyStatus.EXPIRED
    assert registry.status("L-TJ-CJ00092", date(2097, 12, 31)) is AgencyStatus.NOT_YET_VALID
    assert registry.status("L-NOPE", date(2025, 1, 1)) is AgencyStatus.UNKNOWN


ENTRY = "  - {{licence: L-A-1, name: {name}, valid_from: 2020-01-01, valid_until: {until}}}\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "agencies:\n" + ENTRY.format(name="A", until="2019-01-01"),
            "valid_until is before valid_from",
        ),
        (
            "agencies:\n"
            + ENTRY.format(name="A", until="2030-01-01")
            + ENTRY.format(name="B", until="2030-01-01"),
            "listed twice",
        ),
        ("agencies: [\n", "cannot read"),
        ("agencies:\n  - {licence: L-A-1, name: A, valid_from: 2020-01-01}\n", "invalid agencies"),
    ],
)
def test_invalid_files_are_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "agencies.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=problem):
        load_agencies(path)


async def test_backend_does_not_start_without_its_agencies_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    monkeypatch.setenv("BORDERGATE_CRUISE_AGENCIES_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="cannot read the agencies file"):
        async with running(make_settings(tmp_path), embedded_redis):
            pass


async def test_app_keeps_the_registry_on_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    monkeypatch.delenv("BORDERGATE_CRUISE_AGENCIES_FILE", raising=False)
    async with running(make_settings(tmp_path), embedded_redis) as (app, _):
        assert len(app.state.cruise.agencies) == len(load_agencies(DEFAULT_AGENCIES_FILE))
