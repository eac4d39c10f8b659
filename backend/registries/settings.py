"""Registry settings, read from ``BORDERGATE_REGISTRY_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bordergate.settings import CommonSettings


class RegistrySettings(CommonSettings):
    registry_seed_file: Path | None = Field(
        default=None,
        description="YAML/JSON file of visas and record flags loaded (idempotently) at start",
    )
