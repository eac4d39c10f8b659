"""Kiosk settings, from ``BORDERGATE_*`` environment variables (e.g. ``BORDERGATE_LANE_ID``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from bordergate.contracts import Hall
from bordergate.settings import CommonSettings


class KioskSettings(CommonSettings):
    lane_id: str = Field(default="A1", min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    hall: Hall = Hall.AIRPORT
    backend_url: str = "http://127.0.0.1:8000"
    backend_timeout_s: float = Field(
        default=2.0, gt=0, description="Total time for one decision incl. the retry; slow = refer"
    )
    device_token: SecretStr | None = Field(
        default=None,
        description="This kiosk's bearer token (BORDERGATE_DEVICE_TOKEN), from device registration",
    )

    # Per-step timeouts in device seconds at speed 1 (divided by ``speed``).
    speed: float = Field(default=1.0, gt=0, description="Mock device and timeout time factor")
    document_timeout_s: float = Field(default=30.0, gt=0)
    face_capture_timeout_s: float = Field(
        default=25.0, gt=0, description="Camera time for capture, guidance and the challenge"
    )
    journey_timeout_s: float = Field(default=20.0, gt=0)
    gate_passage_timeout_s: float = Field(default=10.0, gt=0)
    gate_actuate_timeout_s: float = Field(default=3.0, gt=0)
    device_grace_s: float = Field(
        default=1.0, ge=0, description="Extra wait past a device's own timeout before it is hung"
    )
    # Software steps: not scaled by ``speed``.
    chip_timeout_s: float = Field(default=2.0, gt=0, description="Chip read and authentication")
    mrz_read_timeout_s: float = Field(default=3.0, gt=0, description="Reading the page's MRZ")
    verify_timeout_s: float = Field(default=5.0, gt=0, description="Face verification CPU budget")
    barcode_decode_timeout_s: float = Field(
        default=3.0, gt=0, description="CPU budget to decode the scanned barcode images"
    )

    face_liveness: bool = Field(
        default=True, description="Run the head-turn challenge (presentation-attack detection)"
    )
    # Three turns: what the third buys (replay APCER) and costs (about 3.4 s a traveller) is
    # measured in liveness.random_challenge's docstring; a port that prefers throughput can set 2.
    face_challenge_turns: int = Field(default=3, ge=1, le=4)
    face_quality_budget_s: float = Field(
        default=6.0, gt=0, description="Camera seconds to get good frontal frames, then refer"
    )
    # One frame: each costs two encoder passes (the chip and its mirror, about 160 ms here),
    # and frames of one capture share pose and light, so a second one adds little; the mirror
    # is what cut the false non-matches (benchmarks/face.py). Up to 5, fused by the median.
    face_fusion_frames: int = Field(default=1, ge=1, le=5, description="Best frames verified")
    face_max_frames: int = Field(default=250, ge=10, description="Frames analysed at most")
    face_analysis_budget_s: float = Field(
        default=8.0, gt=0, description="CPU allowance for frame analysis, on top of camera time"
    )
    burst_frames: int = Field(default=3, ge=1, le=10)
    burst_interval_s: float = Field(default=0.2, ge=0)
    journey_exempt_nationalities: list[str] = Field(
        default_factory=lambda: ["CHN"],
        description="No onward journey is asked of these nationals (citizens)",
    )

    device_probe_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Deadline of a device call that answers at once (a frame, a status, a check)",
    )
    out_of_service_probe_s: float = Field(
        default=5.0, gt=0, description="How often an out-of-service lane checks its devices again"
    )
    state_dir: Path = Field(
        default=Path("var/kiosk"),
        description="The standalone kiosk's in-progress transaction marker (no personal data)",
    )
    heartbeat_interval_s: float = Field(default=5.0, gt=0)
    heartbeat_ttl_s: int = Field(default=15, ge=1)
    redis_timeout_s: float = Field(default=1.0, gt=0)
    idle_poll_s: float = Field(default=0.5, gt=0, description="How often an idle lane checks stop")

    # The lane's own crowd when it runs standalone (no shared hall crowd given).
    arrival_rate_per_min: float = Field(default=3.0, gt=0)
    seed: int = 0
    faces_dir: Path | None = None

    # The traveller's touch screen (kiosk.screen), served by the kiosk itself.
    screen_host: str = "127.0.0.1"
    screen_port: int = Field(default=8100, ge=0, le=65535, description="0: any free port")
    officer_desk: str = Field(
        default="1", min_length=1, max_length=16, description="Where the screen sends referrals"
    )
    screen_result_hold_s: float = Field(
        default=6.0, ge=0, description="How long a result stays on screen after the session"
    )
    screen_timezone: str = Field(
        default="Asia/Shanghai", description="The port's zone: the date a stay ends is shown in"
    )

    def scaled(self, seconds: float) -> float:
        """A device time at this speed factor."""
        return seconds / self.speed
