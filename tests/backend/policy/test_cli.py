"""``bordergate policy check CASE.json --json``: the contract outside checks use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bordergate.cli import app

from .conftest import case_dict

runner = CliRunner()


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_check_a_file_prints_exactly_the_answer(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "check", str(_write(tmp_path, case_dict())), "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    answer = json.loads(result.stdout)
    assert answer == {
        "decision": "admit",
        "scheme": "transit-240h",
        "permitted_until": "2026-07-12T00:00:00+08:00",
        "reasons": [],
    }
    assert list(answer) == ["decision", "scheme", "permitted_until", "reasons"]
    assert result.stdout.count("\n") == 1


def test_check_stdin_refer_with_reasons() -> None:
    case = case_dict(journey={"arrived_from": "HKG", "onward_to": "HKG"})
    result = runner.invoke(app, ["policy", "check", "-", "--json"], input=json.dumps(case))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "decision": "refer",
        "scheme": "transit-240h",
        "permitted_until": None,
        "reasons": ["route-round-trip"],
    }


def test_check_citizen_has_no_limit() -> None:
    case = case_dict(traveller={"nationality": "CHN"}, journey=None)
    result = runner.invoke(app, ["policy", "check", "-", "--json"], input=json.dumps(case))
    assert json.loads(result.stdout) == {
        "decision": "admit",
        "scheme": "citizen",
        "permitted_until": None,
        "reasons": [],
    }


def test_check_utc_arrival_answers_in_cst() -> None:
    case = case_dict(arrival="2026-07-01T02:30:00Z")
    result = runner.invoke(app, ["policy", "check", "-", "--json"], input=json.dumps(case))
    assert json.loads(result.stdout)["permitted_until"] == "2026-07-12T00:00:00+08:00"


def test_human_readable_output() -> None:
    case = case_dict(journey={"onward_confirmed": False})
    result = runner.invoke(app, ["policy", "check", "-"], input=json.dumps(case))
    assert result.exit_code == 0
    assert result.stdout.startswith("refer (transit-240h):")
    assert "onward-not-confirmed" in result.stdout
    assert "confirmed date and seat" in result.stdout
    zh = runner.invoke(app, ["policy", "check", "-", "--lang", "zh"], input=json.dumps(case))
    assert "联程客票" in zh.stdout
    admit = runner.invoke(app, ["policy", "check", "-"], input=json.dumps(case_dict()))
    assert admit.stdout.strip() == "admit under transit-240h, stay until 2026-07-12T00:00:00+08:00"


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "invalid case"),
        ("", "invalid case"),
        ("[]", "invalid case"),
        (json.dumps({**case_dict(), "port": "PEK-AIRPORT"}), "port"),
        (json.dumps({k: v for k, v in case_dict().items() if k != "arrival"}), "arrival"),
        (json.dumps(case_dict(arrival="2026-07-01T10:30:00")), "arrival"),  # no offset
        (json.dumps({**case_dict(), "extra": 1}), "extra"),
        (json.dumps(case_dict(traveller={"nationality": "ZZZ"})), "unknown country"),
        (json.dumps(case_dict(journey={"onward_to": "XYZ"})), "unknown country"),
    ],
    ids=["malformed", "empty", "not an object", "bad port", "missing field", "naive time",
         "unknown field", "unknown nationality", "unknown place"],
)  # fmt: skip
def test_bad_cases_exit_2_with_nothing_on_stdout(stdin: str, message: str) -> None:
    result = runner.invoke(app, ["policy", "check", "-", "--json"], input=stdin)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "check", str(tmp_path / "none.json"), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "cannot read" in result.stderr
