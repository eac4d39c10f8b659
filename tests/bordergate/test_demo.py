"""``bordergate demo --duration S --json``: the main job, end to end, in one process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bordergate.cli import app
from tests.processes import REPO_ROOT, part_env


def test_cli_lists_the_parts() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "backend", "kiosk", "monitor"):
        assert command in result.output


@pytest.mark.slow
def test_demo_runs_for_a_duration_and_prints_the_summary(
    tmp_path: Path, test_data_dir: Path
) -> None:
    db = tmp_path / "demo.sqlite3"
    env = part_env(
        BORDERGATE_DATABASE_URL=f"sqlite:///{db}",
        BORDERGATE_DATA_DIR=str(test_data_dir),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bordergate.cli", "demo", "--duration", "30", "--json",
         "--port", "0"],
        cwd=REPO_ROOT, env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    lines = proc.stdout.decode().strip().splitlines()
    assert len(lines) == 1, lines  # one JSON object, nothing else on stdout
    summary = json.loads(lines[0])
    assert set(summary) == {"travellers", "admitted", "referred", "p95_wait_s", "users", "urls"}
    assert summary["urls"]["manager dashboard"].endswith("/dashboard")
    for lane in ("A1", "A2", "C1", "C2"):  # each kiosk's traveller page, on a real port
        assert re.fullmatch(
            rf"http://127\.0\.0\.1:[1-9]\d*/lanes/{lane}", summary["urls"][f"traveller page {lane}"]
        )
    assert set(summary["users"]) == {"officer", "supervisor", "manager", "admin"}
    assert summary["travellers"] > 0
    assert summary["admitted"] + summary["referred"] == summary["travellers"]
    assert summary["admitted"] > 0  # citizens with matching faces pass
    assert set(summary["p95_wait_s"]) == {"airport", "cruise"}
    for hall, p95 in summary["p95_wait_s"].items():
        assert isinstance(p95, float), (hall, p95)
        assert 0 <= p95 < 30, (hall, p95)

    # Citizens, transit passengers and cruise groups, each admitted by the policy engine.
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        schemes = {
            scheme
            for (scheme,) in conn.execute(
                sa.text("SELECT scheme FROM clearances WHERE outcome = 'admit'")
            )
        }
    engine.dispose()
    assert {"citizen", "cruise-15d"} <= schemes, schemes
    assert any(s.startswith("transit-") for s in schemes), schemes


def test_the_demo_warns_when_the_travellers_would_have_no_face(
    tmp_path: Path, test_data_dir: Path
) -> None:
    from bordergate.demo import missing_faces_note

    note = missing_faces_note(tmp_path / "nothing-here")
    assert note is not None
    assert str(tmp_path / "nothing-here") in note
    assert "BORDERGATE_DATA_DIR" in note
    assert missing_faces_note(test_data_dir / "faces" / "lfw_crops") is None
