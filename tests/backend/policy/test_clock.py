from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backend.policy.clock import add_months, cst_date, stay_end, stay_start, to_cst


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 7, 1), 3, date(2026, 10, 1)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2026, 10, 31), 3, date(2027, 1, 31)),
        (date(2026, 12, 15), 0, date(2026, 12, 15)),
        (date(2026, 10, 1), 14, date(2027, 12, 1)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("arrival", "start"),
    [
        ("2026-07-01T10:30:00+08:00", "2026-07-02T00:00:00+08:00"),
        ("2026-07-01T00:00:00+08:00", "2026-07-02T00:00:00+08:00"),
        ("2026-06-30T16:00:00Z", "2026-07-02T00:00:00+08:00"),
        ("2026-06-30T15:59:59Z", "2026-07-01T00:00:00+08:00"),
        ("2026-06-30T11:00:00-05:00", "2026-07-02T00:00:00+08:00"),
        ("2026-12-31T20:00:00+08:00", "2027-01-01T00:00:00+08:00"),
    ],
)
def test_stay_starts_at_midnight_after_the_cst_arrival_day(arrival: str, start: str) -> None:
    at = datetime.fromisoformat(arrival)
    assert stay_start(at).isoformat() == start
    assert stay_end(at, timedelta(hours=72)) == stay_start(at) + timedelta(days=3)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        to_cst(datetime(2026, 7, 1, 10, 30))
    with pytest.raises(ValueError, match="offset"):
        cst_date(datetime(2026, 7, 1, 10, 30))
