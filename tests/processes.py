"""Running bordergate parts as real processes in tests; each is stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def part_env(**extra: str) -> dict[str, str]:
    """The environment for a part: this one, quieter logs, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BORDERGATE_")}
    env.pop("REDIS_URL", None)
    # A kiosk's traveller page on any free port, and its transaction marker in a folder of its
    # own, so parallel tests never share one.
    env.update(
        {
            "BORDERGATE_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "BORDERGATE_SCREEN_PORT": "0",
            "BORDERGATE_STATE_DIR": tempfile.mkdtemp(prefix="bordergate-kiosk-state-"),
        }
    )
    env.update(extra)
    return env


def start_part(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``bordergate ARGS...`` in its own process; stderr goes to ``log``."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "bordergate.cli", *args],
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=err,
        )


def wait_http_ok(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} while starting")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout_s} s")


def stop_part(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
