"""Settings shared by every part; each part extends them with its own."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """Read from ``BORDERGATE_*`` environment variables (``REDIS_URL`` is accepted too)."""

    model_config = SettingsConfigDict(env_prefix="BORDERGATE_", extra="ignore")

    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("BORDERGATE_REDIS_URL", "REDIS_URL"),
        description="Unset: an in-process fakeredis shared by the parts of this process.",
    )
    log_level: str = "INFO"
    log_json: bool = True
