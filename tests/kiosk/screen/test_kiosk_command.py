"""``bordergate kiosk`` serves its traveller page while it runs, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.processes import part_env, start_part, stop_part


@pytest.mark.slow
def test_the_kiosk_process_serves_its_page(tmp_path: Path) -> None:
    log = tmp_path / "kiosk.log"
    env = part_env(BORDERGATE_SCREEN_PORT="0", BORDERGATE_OFFICER_DESK="7")
    # No backend at all: every traveller is referred, and the page says where to go.
    kiosk = start_part(
        ["kiosk", "--lane", "K7", "--backend-url", f"http://127.0.0.1:{free_port()}",
         "--speed", "20", "--arrivals-per-min", "6"],
        env, log,
    )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            assert kiosk.poll() is None, log.read_text()[-2000:]
            found = re.search(
                r"traveller page: (http://127\.0\.0\.1:\d+/lanes/K7)", log.read_text()
            )
            url = found.group(1) if found else None
            time.sleep(0.1)
        assert url is not None, log.read_text()[-2000:]
        page = httpx.get(url, timeout=5)
        assert page.status_code == 200
        assert "/static/screen.js" in page.text
        seen = set()
        deadline = time.monotonic() + 60
        while "refer" not in seen and time.monotonic() < deadline:
            view = httpx.get(f"{url}/view", timeout=5).json()
            seen.add(view["state"])
            if view["state"] == "refer":
                assert view["desk"] == "7"
                assert view["reasons"] == ["reason.technical"]  # backend unreachable
            time.sleep(0.02)
        assert "refer" in seen, seen
    finally:
        stop_part(kiosk)
    assert kiosk.returncode == 0, log.read_text()[-2000:]
    assert kiosk.stdout is not None
    stats = json.loads(kiosk.stdout.read().decode().strip().splitlines()[-1])
    assert stats["lane_id"] == "K7"
    assert stats["admitted"] == 0
