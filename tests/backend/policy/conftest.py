"""Shared helpers: the engine with the shipped rules (loaded once), and a case builder."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backend.policy.case import PolicyCase
from backend.policy.engine import PolicyEngine

BASE_CASE: dict[str, Any] = {
    "port": "TSN-AIRPORT",
    "arrival": "2026-07-01T10:30:00+08:00",
    "traveller": {
        "nationality": "D",
        "document_type": "P",
        "document_expiry": "2031-05-01",
        "chinese_visa": None,
        "record": [],
    },
    "journey": {
        "arrived_from": "JPN",
        "onward_to": "KOR",
        "onward_departure": "2026-07-03T09:00:00+08:00",
        "onward_confirmed": True,
    },
    "cruise": None,
}

VISA: dict[str, Any] = {
    "type": "L",
    "valid_from": "2026-01-01",
    "valid_until": "2026-12-31",
    "entries_left": 1,
}

CRUISE: dict[str, Any] = {
    "ship": "Spectrum of the Seas",
    "agency_licence": "L-TJ-CJ00123",
    "agency_licensed": True,
    "group_size": 12,
    "on_manifest": True,
    "ship_departs": "2026-07-05T18:00:00+08:00",
    "leaves_with_ship": True,
}


def case_dict(**changes: Any) -> dict[str, Any]:
    """The base case with changes: ``traveller``/``journey``/``cruise`` dicts are merged into the
    base section (``None`` removes it); other keys replace the top-level value."""
    data = copy.deepcopy(BASE_CASE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = copy.deepcopy(value)
    return data


def make_case(**changes: Any) -> PolicyCase:
    return PolicyCase.model_validate(case_dict(**changes))


def transit_case(arrival: str, departure: str, **changes: Any) -> PolicyCase:
    journey = {"onward_departure": departure, **changes.pop("journey", {})}
    return make_case(arrival=arrival, journey=journey, **changes)


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    return PolicyEngine.load()
