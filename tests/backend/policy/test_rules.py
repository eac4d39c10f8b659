"""The shipped rule files, and validation errors for broken ones (written into tmp_path)."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from backend.policy.engine import PolicyEngine
from backend.policy.ruleset import DEFAULT_RULES_DIR, RulesError, load_rules
from bordergate.contracts import ReasonCode as R

from .conftest import transit_case


def test_shipped_rules_load_with_sources() -> None:
    rules = load_rules()
    assert [(p.scheme, p.valid_from, p.valid_until) for p in rules.periods] == [
        ("transit-72h", date(2015, 6, 8), date(2017, 12, 28)),
        ("transit-144h", date(2017, 12, 28), date(2024, 12, 17)),
        ("cruise-15d", date(2024, 5, 15), None),
        ("transit-240h", date(2024, 12, 17), None),
    ]
    assert all(len(p.source) > 40 for p in rules.periods)
    assert rules.exclusions.source
    assert rules.exclusions.min_document_validity_months == 3
    assert all(nl.source for nl in rules.nationality_lists.values())


@pytest.mark.parametrize(
    ("day", "count"),
    [
        (date(2015, 6, 8), 51),  # Tianjin's first day: 51 countries
        (date(2017, 12, 28), 53),  # Beijing-Tianjin-Hebei 144 h: 53
        (date(2023, 11, 16), 53),
        (date(2023, 11, 17), 54),  # Norway
        (date(2025, 6, 11), 54),
        (date(2025, 6, 12), 55),  # Indonesia
    ],
)
def test_transit_nationality_counts(day: date, count: int) -> None:
    assert len(load_rules().nationality_lists["transit"].members_on(day)) == count


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


PERIOD_240 = "transit-240h-2024.yaml"
NATIONALITIES = "transit-nationalities.yaml"

BROKEN: list[tuple[str, str, str, str, str]] = [
    # (id, file, old text, new text, expected message fragment)
    (
        "end before start",
        "transit-72h-2015.yaml",
        "valid_until: 2017-12-28",
        "valid_until: 2015-01-01",
        "is not after valid_from",
    ),
    (
        "end equals start",
        "transit-72h-2015.yaml",
        "valid_until: 2017-12-28",
        "valid_until: 2015-06-08",
        "is not after valid_from",
    ),
    (
        "overlapping periods",
        "transit-144h-2017.yaml",
        "valid_until: 2024-12-17",
        "valid_until: 2024-12-18",
        "overlaps transit-144h",
    ),
    (
        "open period overlapping",
        "transit-144h-2017.yaml",
        "valid_until: 2024-12-17\n",
        "",
        "overlaps transit-144h",
    ),
    ("unknown country", NATIONALITIES, "code: QAT", "code: ZZZ", "unknown country"),
    ("ISO code for Germany", NATIONALITIES, "code: D,", "code: DEU,", "as the ICAO code 'D'"),
    ("China listed", NATIONALITIES, "code: QAT", "code: CHN", "not a foreign state"),
    ("listed twice", NATIONALITIES, "code: QAT", "code: JPN", "'JPN' is listed twice"),
    (
        "left before joined",
        NATIONALITIES,
        "joined: 2023-11-17,",
        "joined: 2023-11-17, left: 2020-01-01,",
        "not after joined",
    ),
    ("no source", PERIOD_240, "source: >-", "sauce: >-", "source"),
    (
        "unknown field",
        PERIOD_240,
        "stay: {hours: 240}",
        "stay: {hours: 240}\nstay_hours: 240",
        "stay_hours",
    ),
    (
        "unknown port",
        PERIOD_240,
        "ports: [TSN-AIRPORT, TSN-CRUISE]",
        "ports: [PEK-AIRPORT]",
        "ports",
    ),
    (
        "stay does not match",
        PERIOD_240,
        "stay: {hours: 240}",
        "stay: {hours: 144}",
        "needs a stay of",
    ),
    (
        "stay hours and days",
        PERIOD_240,
        "stay: {hours: 240}",
        "stay: {hours: 240, days: 10}",
        "exactly one",
    ),
    ("kind mismatch", PERIOD_240, "kind: transit", "kind: cruise", "is not of kind"),
    ("unknown scheme", PERIOD_240, "scheme: transit-240h", "scheme: transit-300h", "scheme"),
    (
        "unknown list",
        PERIOD_240,
        "nationalities: transit",
        "nationalities: transit-2030",
        "no nationality list named 'transit-2030'",
    ),
    (
        "unknown counting",
        PERIOD_240,
        "counting: from-next-midnight-cst",
        "counting: from-arrival",
        "counting",
    ),
    (
        "cruise group size",
        "cruise-15d-2024.yaml",
        "min_group_size: 2",
        "min_group_size: 1",
        "min_group_size",
    ),
    (
        "cruise without group size",
        "cruise-15d-2024.yaml",
        "min_group_size: 2\n",
        "",
        "needs min_group_size",
    ),
    (
        "unknown record flag",
        "exclusions.yaml",
        "violation-5y]",
        "violation-10y]",
        "excluded_records",
    ),
    (
        "malformed YAML",
        PERIOD_240,
        "ports: [TSN-AIRPORT, TSN-CRUISE]",
        "ports: [TSN-AIRPORT",
        "cannot read",
    ),
    ("unknown file type", PERIOD_240, "type: scheme-period", "type: scheme", "type"),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_rules_name_the_file(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    rules_dir = _copy_rules(tmp_path)
    _edit(rules_dir / file, old, new)
    with pytest.raises(RulesError) as info:
        PolicyEngine.load(rules_dir)
    assert file in str(info.value)  # overlaps name both files, the others start with theirs
    assert message in str(info.value)


def test_overlap_at_different_ports_is_allowed(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    # The 72-hour period extended over 2018 would clash at the airport, not at the cruise port.
    (rules_dir / "extra.yaml").write_text(
        (rules_dir / "transit-72h-2015.yaml")
        .read_text(encoding="utf-8")
        .replace("valid_from: 2015-06-08", "valid_from: 2014-01-01")
        .replace("valid_until: 2017-12-28", "valid_until: 2015-06-08")
        .replace("ports: [TSN-AIRPORT]", "ports: [TSN-CRUISE]"),
        encoding="utf-8",
    )
    assert len(load_rules(rules_dir).periods) == 5


def test_not_a_mapping(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    (rules_dir / "zz-list.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"^zz-list\.yaml: expected a mapping"):
        load_rules(rules_dir)


def test_exactly_one_exclusions_file(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    shutil.copy(rules_dir / "exclusions.yaml", rules_dir / "exclusions-2.yaml")
    with pytest.raises(RulesError, match="exactly one exclusions file"):
        load_rules(rules_dir)
    (rules_dir / "exclusions.yaml").unlink()
    (rules_dir / "exclusions-2.yaml").unlink()
    with pytest.raises(RulesError, match="found none"):
        load_rules(rules_dir)


def test_duplicate_nationality_list(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    shutil.copy(rules_dir / NATIONALITIES, rules_dir / "zz-copy.yaml")
    with pytest.raises(RulesError, match=r"^zz-copy\.yaml: nationality list 'transit'"):
        load_rules(rules_dir)


def test_missing_rules_dir(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no such rules directory"):
        load_rules(tmp_path / "nowhere")


def test_a_new_country_is_a_data_change(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    _edit(
        rules_dir / NATIONALITIES,
        "  - {code: IDN,",
        "  - {code: IND, name: India, joined: 2027-01-01}\n  - {code: IDN,",
    )
    engine = PolicyEngine.load(rules_dir)
    before = transit_case(
        "2026-12-31T12:00:00+08:00", "2027-01-02T12:00:00+08:00", traveller={"nationality": "IND"}
    )
    on = transit_case(
        "2027-01-01T12:00:00+08:00", "2027-01-02T12:00:00+08:00", traveller={"nationality": "IND"}
    )
    assert engine.decide(before).reasons == [R.NATIONALITY_NOT_ELIGIBLE]
    assert engine.decide(on).decision == "admit"


def test_a_new_period_is_a_data_change(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    _edit(
        rules_dir / PERIOD_240,
        "valid_from: 2024-12-17",
        "valid_from: 2024-12-17\nvalid_until: 2030-01-01",
    )
    (rules_dir / "transit-144h-2030.yaml").write_text(
        (rules_dir / "transit-144h-2017.yaml")
        .read_text(encoding="utf-8")
        .replace("valid_from: 2017-12-28", "valid_from: 2030-01-01")
        .replace("valid_until: 2024-12-17\n", ""),
        encoding="utf-8",
    )
    engine = PolicyEngine.load(rules_dir)
    last = engine.decide(transit_case("2029-12-31T23:59:00+08:00", "2030-01-02T00:00:00+08:00"))
    first = engine.decide(transit_case("2030-01-01T00:00:00+08:00", "2030-01-02T00:00:00+08:00"))
    assert last.scheme == "transit-240h"
    assert first.scheme == "transit-144h"
    assert first.permitted_until == datetime.fromisoformat("2030-01-08T00:00:00+08:00")
