"""``bordergate simulate`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bordergate.cli import app
from queue_monitor.planning.policies import POLICY_NAMES

from .conftest import small_data

KEYS = {
    "policy",
    "passengers",
    "share_within_25min",
    "p95_wait_min",
    "max_wait_min",
    "officer_lane_hours",
    "egate_lane_hours",
    "alerts",
    "first_alert_lead_min",
}
runner = CliRunner()


def write(tmp_path: Path, data: object, name: str = "s.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_json_lines_for_all_policies_and_a_plot(tmp_path: Path) -> None:
    png = tmp_path / "out.png"
    result = runner.invoke(
        app, ["simulate", write(tmp_path, small_data()), "--json", "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["policy"] for r in rows] == list(POLICY_NAMES)
    for row in rows:
        assert set(row) == KEYS
        assert isinstance(row["passengers"], int)
        assert row["first_alert_lead_min"] is None or isinstance(row["first_alert_lead_min"], float)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_policy_and_seed(tmp_path: Path) -> None:
    path = write(tmp_path, small_data())
    a = runner.invoke(app, ["simulate", path, "--policy", "bordergate", "--json", "--seed", "5"])
    b = runner.invoke(app, ["simulate", path, "--policy", "bordergate", "--json", "--seed", "6"])
    assert a.exit_code == 0, a.output
    (row,) = [json.loads(line) for line in a.stdout.strip().splitlines()]
    assert row["policy"] == "bordergate"
    assert a.stdout != b.stdout


def test_shipped_name_and_text_output() -> None:
    result = runner.invoke(app, ["simulate", "cruise-4000", "--policy", "static"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("cruise-4000 (cruise, 12 h, seed 7)")


def test_bad_scenario_exits_2_naming_the_field(tmp_path: Path) -> None:
    data = small_data(colour="red")
    del data["min_open_min"]
    result = runner.invoke(app, ["simulate", write(tmp_path, data), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "min_open_min: missing field" in result.stderr
    assert "colour: unknown field" in result.stderr
    yaml_bad = tmp_path / "bad.yaml"
    yaml_bad.write_text("name: [unclosed\n")
    result = runner.invoke(app, ["simulate", str(yaml_bad)])
    assert result.exit_code == 2
    assert "not valid yaml" in result.stderr


def test_unknown_policy_and_missing_file_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", write(tmp_path, small_data()), "--policy", "x"])
    assert result.exit_code == 2
    assert "unknown policy 'x'" in result.stderr
    result = runner.invoke(app, ["simulate", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert "no scenario file" in result.stderr
