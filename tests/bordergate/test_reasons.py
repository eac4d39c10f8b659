from __future__ import annotations

import pytest

from bordergate.contracts import ReasonCode
from bordergate.reasons import REASON_TEXTS, reason_text


@pytest.mark.parametrize("code", list(ReasonCode))
def test_every_reason_code_has_english_and_chinese_text(code: ReasonCode) -> None:
    texts = REASON_TEXTS[code]
    assert texts.en.strip()
    assert texts.zh.strip()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in texts.zh)  # Chinese, not a copy of English


def test_codes_are_stable_kebab_case_identifiers() -> None:
    for code in ReasonCode:
        assert code.value == code.name.lower().replace("_", "-")


def test_reason_text_picks_the_language() -> None:
    assert reason_text(ReasonCode.FACE_MISMATCH) != reason_text(ReasonCode.FACE_MISMATCH, "zh")
