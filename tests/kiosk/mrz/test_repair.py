"""Repair under check digits: a unique correction is applied, ambiguity is refused, names are
never corrected."""

from __future__ import annotations

from kiosk.mrz.repair import TD3, decode
from tests.kiosk.mrz.conftest import SPECIMEN, one_hot

LINE2 = 44  # offset of line 2 in the joined lines


def test_one_wrong_digit_is_repaired() -> None:
    # birth date 740812 read as 740815 (the 2 unsure, 5 won), check digit 2 firmly read
    position = LINE2 + 13 + 5
    misread = (SPECIMEN[0], SPECIMEN[1][:18] + "5" + SPECIMEN[1][19:])
    probs = one_hot(misread, alternatives={position: {"5": 0.6, "2": 0.35}})
    decoded = decode(probs, TD3)
    assert decoded.lines == list(SPECIMEN)
    assert decoded.checks_ok
    assert decoded.repairs == ((position, "5", "2"),)


def test_field_type_forces_digit() -> None:
    # an O where the birth date needs a digit decodes as 0 when 0 is the best digit
    position = LINE2 + 13 + 2  # 740812: the 0
    probs = one_hot(SPECIMEN, alternatives={position: {"O": 0.7, "0": 0.29}})
    decoded = decode(probs, TD3)
    assert decoded.lines == list(SPECIMEN)
    assert decoded.repairs == ((position, "O", "0"),)


def test_two_equally_good_corrections_are_refused() -> None:
    # the document number check digit fails; two positions each have one alternative that
    # would fix it, equally likely: no repair, invalid
    text = "".join(SPECIMEN)
    number = list(text[LINE2 : LINE2 + 9])  # L898902C3
    number[1] = "9"  # 8 -> 9 at weight 3: sum +3
    misread = text[:LINE2] + "".join(number) + text[LINE2 + 9 :]
    # undoing it: back to 8 at position 1; or an equivalent -3 (mod 10) change at position 2
    # (weight 1: 9 -> 6); and composite check: position 1 weight 3 / position 2 weight 1 in
    # the composite too, so both restore it
    alternatives = {LINE2 + 1: {"9": 0.55, "8": 0.44}, LINE2 + 2: {"9": 0.55, "6": 0.44}}
    probs = one_hot([misread[:44], misread[44:]], alternatives=alternatives)
    decoded = decode(probs, TD3)
    assert not decoded.checks_ok
    assert decoded.repairs == ()
    assert any("two corrections" in e for e in decoded.errors)


def test_name_is_never_repaired() -> None:
    # a wrong surname letter with a plausible alternative stays as read (no check covers it)
    position = 5 + 2  # ERIKSSON: the I
    misread = SPECIMEN[0][:7] + "L" + SPECIMEN[0][8:]
    probs = one_hot((misread, SPECIMEN[1]), alternatives={position: {"L": 0.6, "I": 0.39}})
    decoded = decode(probs, TD3)
    assert decoded.lines[0] == misread
    assert decoded.checks_ok
    assert decoded.repairs == ()
    assert decoded.char_prob[position] < 0.9  # the reader flags it as uncertain


def test_unknown_country_code_decoded_to_known_one() -> None:
    position = 2 + 1  # UTO: the T
    probs = one_hot(SPECIMEN, alternatives={position: {"I": 0.5, "T": 0.45}})  # UIO unknown
    decoded = decode(probs, TD3)
    assert decoded.lines == list(SPECIMEN)
    assert decoded.repairs == ((position, "I", "T"),)


def test_no_correction_when_no_plausible_alternative() -> None:
    # a confidently read month 98: no alternative is plausible, so nothing is guessed
    text = "".join(SPECIMEN)
    broken = text[: LINE2 + 15] + "9" + text[LINE2 + 16 :]  # 740812 -> 749812
    decoded = decode(one_hot([broken[:44], broken[44:]], confidence=0.9999), TD3)
    assert decoded.repairs == ()
    assert decoded.lines[1] == broken[44:]
    assert "birth date '749812' is not a date" in decoded.errors
    assert "birth date check digit fails" in decoded.errors
