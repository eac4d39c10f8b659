"""``bordergate demo --duration S --json``: the main job, end to end, in one process."""

from __future__ import annotations

import json
import random
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


def test_the_demo_uses_the_shared_faces_when_they_are_there(
    tmp_path: Path, test_data_dir: Path
) -> None:
    from bordergate.demo_faces import demo_faces

    shared = test_data_dir / "faces" / "lfw_crops"
    if not shared.is_dir():
        pytest.skip(f"no {shared}")
    assert demo_faces(shared, tmp_path / "stand-in") == (shared, None)
    assert not (tmp_path / "stand-in").exists()  # nothing written when it is not needed


def test_without_shared_faces_the_demo_travellers_get_a_stand_in_that_passes_the_gate(
    tmp_path: Path,
) -> None:
    import numpy as np
    from PIL import Image

    from bordergate.demo_faces import demo_faces
    from hardware_mocks.face_video import LiveActor
    from hardware_mocks.travellers import PopulationMix, TravellerFactory
    from kiosk.biometrics.face_match import FaceRecognitionVerifier
    from kiosk.biometrics.live_capture import FaceCaptureFlow, run_offline
    from kiosk.biometrics.liveness import random_challenge

    folder, note = demo_faces(tmp_path / "nothing-here", tmp_path / "stand-in")
    assert note is not None
    assert str(tmp_path / "nothing-here") in note
    assert "BORDERGATE_DATA_DIR" in note
    assert folder == tmp_path / "stand-in"
    assert demo_faces(tmp_path / "nothing-here", folder)[0] == folder  # written once, reused
    # A traveller of the demo's factory, through capture, liveness and verification.
    citizens = PopulationMix(
        impostors=0.0, print_still=0.0, print_moved=0.0, replay=0.0, walk_away=0.0
    )
    traveller = TravellerFactory(seed=3, faces_dir=folder, mix=citizens).next()
    assert traveller.live_photo_path is not None
    assert traveller.live_photo_path.parent == folder / "astronaut"
    reference = traveller.reference_photo()
    assert reference is not None
    face = np.asarray(
        Image.open(traveller.live_photo_path).convert("RGB").resize((250, 250)), dtype=np.uint8
    )
    verifier = FaceRecognitionVerifier()
    flow = FaceCaptureFlow(random_challenge(random.Random(3)))
    outcome = run_offline(LiveActor(face, seed=3), verifier.analyzer(), flow)
    assert outcome.liveness == "passed", outcome.reason
    assert verifier.verify_live(outcome.frames, reference, outcome.liveness).matched
