"""BAC key derivation against the worked example of ICAO Doc 9303 part 11, appendix D.2."""

from __future__ import annotations

import hashlib

import pytest

from hardware_mocks.chip.interface import BACKeys, derive_bac_keys, derive_key, mrz_information

# Doc 9303 part 11, appendix D.2 (the Utopian specimen, ANNA MARIA ERIKSSON).
SPECIMEN_LINES = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
)
SPECIMEN_MRZ_INFORMATION = "L898902C<369080619406236"
H_SHA1 = "239AB9CB282DAF66231DC5A4DF6BFBAEDF477565"
K_SEED = "239AB9CB282DAF66231DC5A4DF6BFBAE"
K_ENC = "AB94FDECF2674FDFB9B391F85D7F76F2"
K_MAC = "7962D9ECE03D1ACD4C76089DCE131543"


def test_mrz_information_of_the_specimen() -> None:
    assert mrz_information(SPECIMEN_LINES) == SPECIMEN_MRZ_INFORMATION


def test_specimen_key_seed_and_keys() -> None:
    assert hashlib.sha1(SPECIMEN_MRZ_INFORMATION.encode()).hexdigest().upper() == H_SHA1
    keys = derive_bac_keys(SPECIMEN_MRZ_INFORMATION)
    assert keys.k_seed.hex().upper() == K_SEED
    assert keys.k_enc.hex().upper() == K_ENC
    assert keys.k_mac.hex().upper() == K_MAC


def test_parity_is_adjusted() -> None:
    # Appendix D.1: SHA-1(K_seed || 00000001) starts AB94FCEDF2664EDF B9B291F85D7F77F2, and the
    # parity-adjusted Ka, Kb are AB94FDECF2674FDF, B9B391F85D7F76F2.
    raw = hashlib.sha1(bytes.fromhex(K_SEED) + b"\x00\x00\x00\x01").digest()[:16]
    assert raw.hex().upper() == "AB94FCEDF2664EDFB9B291F85D7F77F2"
    key = derive_key(bytes.fromhex(K_SEED), 1)
    assert key.hex().upper() == K_ENC
    assert all(bin(b).count("1") % 2 == 1 for b in key)


def test_session_key_derivation_example() -> None:
    # Appendix D.3: the session key seed after mutual authentication and its derived keys.
    seed = bytes.fromhex("0036D272F5C350ACAC50C3F572D23600")
    assert derive_key(seed, 1).hex().upper() == "979EC13B1CBFE9DCD01AB0FED307EAE5"
    assert derive_key(seed, 2).hex().upper() == "F1CB1F1FB5ADF208806B89DC579DC1F8"


def test_td1_mrz_information() -> None:
    lines = (
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    )
    assert mrz_information(lines) == "D23145890774081221204159"


def test_other_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="line lengths"):
        mrz_information(("P<UTO", "L898902C"))


def test_keys_compare_by_value_and_never_print() -> None:
    a = derive_bac_keys(SPECIMEN_MRZ_INFORMATION)
    assert a.matches(derive_bac_keys(SPECIMEN_MRZ_INFORMATION))
    assert not a.matches(derive_bac_keys("L898902C<369080619406237"))
    assert not a.matches(BACKeys(a.k_seed, a.k_enc, bytes(16)))
    assert K_ENC.lower() not in repr(a).lower()
