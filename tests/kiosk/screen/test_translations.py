"""The one translation table is whole: every key in every language, every code and key covered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bordergate.contracts import ReasonCode
from kiosk.biometrics.capture import GUIDANCE_KEYS as FACE_STEP_GUIDANCE
from kiosk.screen.languages import NATIONALITY_LANGUAGE, language_for
from kiosk.screen.translations import (
    DEFAULT_LANGUAGE,
    GUIDANCE_KEYS,
    LANGUAGES,
    REASON_KEYS,
    TEXTS,
    table_json,
)
from kiosk.session import MESSAGE_KEYS

REQUIRED_LANGUAGES = {"zh", "en", "ja", "ko", "ru"}
STATIC = Path(__file__).resolve().parents[3] / "kiosk" / "screen" / "static"


def test_at_least_the_required_languages() -> None:
    assert set(LANGUAGES) >= REQUIRED_LANGUAGES
    assert DEFAULT_LANGUAGE == "en"
    assert [code for code, info in LANGUAGES.items() if info["rtl"]] == ["ar"]


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_key_has_every_language(key: str) -> None:
    missing = set(LANGUAGES) - set(TEXTS[key])
    extra = set(TEXTS[key]) - set(LANGUAGES)
    assert not missing, f"{key} lacks {sorted(missing)}"
    assert not extra, f"{key} has unknown languages {sorted(extra)}"
    for lang, text in TEXTS[key].items():
        assert text, (key, lang)
        assert text.strip() == text, (key, lang)


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_placeholders_agree_across_languages(key: str) -> None:
    placeholders = {lang: set(re.findall(r"\{(\w+)\}", t)) for lang, t in TEXTS[key].items()}
    assert len({frozenset(p) for p in placeholders.values()}) == 1, placeholders


def test_every_session_message_key_is_translated() -> None:
    assert set(MESSAGE_KEYS.values()) <= set(TEXTS)
    # and the hint under each step
    assert {f"{key}.hint" for key in MESSAGE_KEYS.values() if key != "proceed_through_gate"} <= (
        set(TEXTS)
    )


def test_every_reason_code_has_traveller_words() -> None:
    assert set(REASON_KEYS) == set(ReasonCode)
    for code, key in REASON_KEYS.items():
        assert key.startswith("reason."), code
        assert key in TEXTS, f"{code} -> {key} has no text"
    assert TEXTS[REASON_KEYS[ReasonCode.FACE_MISMATCH]]["en"] == (
        "We could not match your face to your passport photo."
    )


def test_records_are_not_named_on_the_screen() -> None:
    records = [c for c in ReasonCode if c.value.startswith("record-")]
    assert records
    assert {REASON_KEYS[c] for c in records} == {"reason.officer_check"}


def test_every_guidance_key_of_the_face_step_is_translated() -> None:
    assert set(FACE_STEP_GUIDANCE) <= set(GUIDANCE_KEYS)
    expected = {"move_closer", "face_camera", "hold_still", "one_person_only", "more_light",
                "turn_left", "turn_right", "look_straight"}  # fmt: skip
    assert expected <= set(GUIDANCE_KEYS)
    assert set(GUIDANCE_KEYS) <= set(TEXTS)


def test_every_key_the_page_names_is_in_the_table() -> None:
    html = (STATIC / "screen.html").read_text(encoding="utf-8")
    js = (STATIC / "screen.js").read_text(encoding="utf-8")
    keys = set(re.findall(r'data-t="([^"]+)"', html)) | set(re.findall(r'\bt\("([^"]+)"', js))
    assert keys, "the page names no keys?"
    assert keys <= set(TEXTS), sorted(keys - set(TEXTS))


def test_the_page_gets_the_whole_table_as_json() -> None:
    table = json.loads(json.dumps(table_json()))
    assert table["default"] == "en"
    assert table["texts"] == TEXTS
    assert set(table["languages"]) == set(LANGUAGES)


@pytest.mark.parametrize(
    ("nationality", "language"),
    [
        ("CHN", "zh"), ("HKG", "zh"), ("MAC", "zh"), ("TWN", "zh"),
        ("JPN", "ja"), ("KOR", "ko"),
        ("RUS", "ru"), ("BLR", "ru"), ("KAZ", "ru"), ("KGZ", "ru"),
        ("D", "de"), ("D<<", "de"), ("FRA", "fr"), ("ESP", "es"), ("ARE", "ar"),
        ("USA", "en"), ("GBR", "en"), ("UTO", "en"), ("", "en"), (None, "en"),
    ],
)  # fmt: skip
def test_language_from_nationality(nationality: str | None, language: str) -> None:
    assert language_for(nationality) == language


def test_nationality_map_only_names_languages_of_the_table() -> None:
    assert set(NATIONALITY_LANGUAGE.values()) <= set(LANGUAGES)
