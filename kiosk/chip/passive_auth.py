"""Passive authentication of an eMRTD (ICAO Doc 9303 part 11, section 5.1; part 12).

Each check is reported on its own, with a stable reason identifier when it fails:

====================== =====================================================================
``csca_found``         a master-list CSCA named by the DS certificate (issuer name, and the
                       authority key identifier when present), of the document's issuing state
``chain_valid``        the DS certificate's signature verifies under that CSCA, which is itself
                       valid at the checking time
``signer_valid_at``    the checking time lies within the DS certificate's validity period
``signer_not_revoked`` the CSCA's CRL is loaded, current, and does not list the DS
``sod_signature_valid`` the SOD's content type is the LDS security object, its signed
                       attributes carry that content type and the eContent's digest, and the
                       signature over them verifies with the DS certificate's key
``hashes_match``       every data group read hashes to the value in the LDS security object
``dg1_matches_printed_mrz`` DG1 holds exactly the MRZ printed on the data page
====================== =====================================================================

A check that cannot be evaluated because an earlier one failed (no CSCA: no chain, no CRL) is
``None`` ("not checked"), so a forgery fails with its own reason and only that. ``authenticated``
holds only when every check passed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import iso3166
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from bordergate.countries import UnknownCountryError, normalize
from bordergate.icao_lds import LDS_SECURITY_OBJECT_OID
from kiosk.chip.lds import (
    LDSFormatError,
    SecurityObject,
    parse_dg1,
    parse_sod,
)
from kiosk.chip.master_list import MasterList

log = structlog.get_logger(__name__)


class Check(StrEnum):
    CSCA_FOUND = "csca_found"
    CHAIN_VALID = "chain_valid"
    SIGNER_VALID_AT = "signer_valid_at"
    SIGNER_NOT_REVOKED = "signer_not_revoked"
    SOD_SIGNATURE_VALID = "sod_signature_valid"
    HASHES_MATCH = "hashes_match"
    DG1_MATCHES_PRINTED_MRZ = "dg1_matches_printed_mrz"


class Reason(StrEnum):
    """Stable identifiers of passive-authentication failures."""

    SOD_MALFORMED = "sod_malformed"
    SIGNER_CERTIFICATE_MISSING = "signer_certificate_missing"
    CSCA_UNKNOWN = "csca_unknown"
    CSCA_WRONG_COUNTRY = "csca_wrong_country"
    CHAIN_SIGNATURE_INVALID = "chain_signature_invalid"
    CSCA_NOT_VALID_AT = "csca_not_valid_at"
    SIGNER_EXPIRED = "signer_expired"
    SIGNER_NOT_YET_VALID = "signer_not_yet_valid"
    SIGNER_REVOKED = "signer_revoked"
    CRL_UNAVAILABLE = "crl_unavailable"
    CRL_EXPIRED = "crl_expired"
    SOD_CONTENT_TYPE_MISMATCH = "sod_content_type_mismatch"
    SOD_SIGNED_ATTRIBUTES_MISSING = "sod_signed_attributes_missing"
    SOD_MESSAGE_DIGEST_MISMATCH = "sod_message_digest_mismatch"
    SOD_UNSUPPORTED_ALGORITHM = "sod_unsupported_algorithm"
    SOD_SIGNATURE_INVALID = "sod_signature_invalid"
    DG_HASH_MISMATCH = "dg_hash_mismatch"
    DG_HASH_MISSING = "dg_hash_missing"
    NO_DATA_GROUPS = "no_data_groups"
    DG1_MISSING = "dg1_missing"
    DG1_MALFORMED = "dg1_malformed"
    DG1_DIFFERS_FROM_PAGE = "dg1_differs_from_page"


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    passed: bool | None
    """True passed, False failed, None not checked (a prerequisite failed)."""
    reason: Reason | None = None

    @property
    def status(self) -> str:
        return {True: "passed", False: "failed", None: "not_checked"}[self.passed]


@dataclass(frozen=True, slots=True)
class PAResult:
    checks: tuple[CheckResult, ...]
    """One per :class:`Check`, in that order."""
    dg_hashes: Mapping[int, bool] = field(default_factory=dict)
    """Data group number -> whether its hash matched the security object."""

    def __getitem__(self, check: Check) -> CheckResult:
        for result in self.checks:
            if result.check is check:
                return result
        raise KeyError(check)

    @property
    def authenticated(self) -> bool:
        return len(self.checks) == len(Check) and all(r.passed is True for r in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.checks if r.passed is False)

    @property
    def failed_checks(self) -> frozenset[Check]:
        return frozenset(r.check for r in self.failures)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return tuple(r.reason for r in self.failures if r.reason is not None)

    @property
    def csca_found(self) -> bool | None:
        return self[Check.CSCA_FOUND].passed

    @property
    def chain_valid(self) -> bool | None:
        return self[Check.CHAIN_VALID].passed

    @property
    def signer_valid_at(self) -> bool | None:
        return self[Check.SIGNER_VALID_AT].passed

    @property
    def signer_not_revoked(self) -> bool | None:
        return self[Check.SIGNER_NOT_REVOKED].passed

    @property
    def sod_signature_valid(self) -> bool | None:
        return self[Check.SOD_SIGNATURE_VALID].passed

    @property
    def hashes_match(self) -> bool | None:
        return self[Check.HASHES_MATCH].passed

    @property
    def dg1_matches_printed_mrz(self) -> bool | None:
        return self[Check.DG1_MATCHES_PRINTED_MRZ].passed


_HASHES = {"sha1", "sha224", "sha256", "sha384", "sha512"}
_CRYPTO_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def passive_authentication(
    dg_files: Mapping[int, bytes],
    sod: bytes,
    master_list: MasterList,
    printed_mrz: Sequence[str],
    at: datetime,
) -> PAResult:
    """Run every passive-authentication check on the data groups read (number -> file)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    out = _Results()
    dg1_lines = _check_dg1(dg_files, printed_mrz, out)
    try:
        so: SecurityObject | None = parse_sod(sod)
    except LDSFormatError:
        so = None
    dg_hashes: dict[int, bool] = {}
    if so is None:
        out.put(Check.CSCA_FOUND, None)
        out.put(Check.CHAIN_VALID, None)
        out.put(Check.SIGNER_VALID_AT, None)
        out.put(Check.SIGNER_NOT_REVOKED, None)
        out.put(Check.SOD_SIGNATURE_VALID, False, Reason.SOD_MALFORMED)
        out.put(Check.HASHES_MATCH, None)
    else:
        issuing_state = (dg1_lines or tuple(printed_mrz))[0][2:5]
        _check_signer(so, master_list, issuing_state, at, out)
        out.put(Check.SOD_SIGNATURE_VALID, *_sod_signature(so))
        dg_hashes = _dg_hashes(so, dg_files)
        _check_hashes(so, dg_files, dg_hashes, out)

    result = PAResult(checks=tuple(out.by_check[c] for c in Check), dg_hashes=dg_hashes)
    log.info(
        "passive authentication",
        authenticated=result.authenticated,
        reasons=[r.value for r in result.reasons],
    )
    return result


class _Results:
    def __init__(self) -> None:
        self.by_check: dict[Check, CheckResult] = {}

    def put(self, check: Check, passed: bool | None, reason: Reason | None = None) -> None:
        self.by_check[check] = CheckResult(check, passed, None if passed else reason)


# -- DG1 against the page ------------------------------------------------------------------------


def _normalized(lines: Sequence[str]) -> str:
    return "".join(line.strip().upper().replace(" ", "") for line in lines)


def _check_dg1(
    dg_files: Mapping[int, bytes], printed_mrz: Sequence[str], out: _Results
) -> tuple[str, ...] | None:
    dg1 = dg_files.get(1)
    if dg1 is None:
        out.put(Check.DG1_MATCHES_PRINTED_MRZ, False, Reason.DG1_MISSING)
        return None
    try:
        lines = parse_dg1(dg1)
    except LDSFormatError:
        out.put(Check.DG1_MATCHES_PRINTED_MRZ, False, Reason.DG1_MALFORMED)
        return None
    same = hmac.compare_digest(_normalized(lines).encode(), _normalized(printed_mrz).encode())
    out.put(Check.DG1_MATCHES_PRINTED_MRZ, same, Reason.DG1_DIFFERS_FROM_PAGE)
    return lines


# -- the signer ----------------------------------------------------------------------------------


def _check_signer(
    so: SecurityObject, master_list: MasterList, issuing_state: str, at: datetime, out: _Results
) -> None:
    ds = so.signer_certificate
    if ds is None:
        out.put(Check.CSCA_FOUND, False, Reason.SIGNER_CERTIFICATE_MISSING)
        out.put(Check.CHAIN_VALID, None)
        out.put(Check.SIGNER_VALID_AT, None)
        out.put(Check.SIGNER_NOT_REVOKED, None)
        return

    if at < ds.not_valid_before_utc:
        out.put(Check.SIGNER_VALID_AT, False, Reason.SIGNER_NOT_YET_VALID)
    elif at > ds.not_valid_after_utc:
        out.put(Check.SIGNER_VALID_AT, False, Reason.SIGNER_EXPIRED)
    else:
        out.put(Check.SIGNER_VALID_AT, True)

    candidates = master_list.candidates_for(ds)
    if not candidates:
        out.put(Check.CSCA_FOUND, False, Reason.CSCA_UNKNOWN)
        out.put(Check.CHAIN_VALID, None)
        out.put(Check.SIGNER_NOT_REVOKED, None)
        return
    csca = next((c for c in candidates if _issued_by(ds, c)), None)
    chosen = csca or candidates[0]
    if not _country_matches(chosen, issuing_state):
        out.put(Check.CSCA_FOUND, False, Reason.CSCA_WRONG_COUNTRY)
        out.put(Check.CHAIN_VALID, None)
        out.put(Check.SIGNER_NOT_REVOKED, None)
        return
    out.put(Check.CSCA_FOUND, True)
    if csca is None:
        out.put(Check.CHAIN_VALID, False, Reason.CHAIN_SIGNATURE_INVALID)
        out.put(Check.SIGNER_NOT_REVOKED, None)
        return
    csca_valid = csca.not_valid_before_utc <= at <= csca.not_valid_after_utc
    out.put(Check.CHAIN_VALID, csca_valid, Reason.CSCA_NOT_VALID_AT)

    crl = master_list.crl_for(csca)
    if crl is None:
        out.put(Check.SIGNER_NOT_REVOKED, False, Reason.CRL_UNAVAILABLE)
    elif crl.next_update_utc is not None and at > crl.next_update_utc:
        out.put(Check.SIGNER_NOT_REVOKED, False, Reason.CRL_EXPIRED)
    elif crl.get_revoked_certificate_by_serial_number(ds.serial_number) is not None:
        out.put(Check.SIGNER_NOT_REVOKED, False, Reason.SIGNER_REVOKED)
    else:
        out.put(Check.SIGNER_NOT_REVOKED, True)


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _country_matches(csca: x509.Certificate, issuing_state: str) -> bool:
    """The CSCA's country (X.509 ``C``, alpha-2) is the document's issuing state.

    ICAO codes without an ISO alpha-2 (``UTO``, ``UNO``...) match a CSCA without a country.
    """
    try:
        icao = normalize(issuing_state)
    except UnknownCountryError:
        return False
    country = iso3166.countries_by_alpha3.get("DEU" if icao == "D" else icao)
    expected = None if country is None else str(country.alpha2)
    attrs = csca.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    actual = str(attrs[0].value).upper() if attrs else None
    return actual == expected


# -- the SOD signature ---------------------------------------------------------------------------


def _sod_signature(so: SecurityObject) -> tuple[bool, Reason | None]:
    if so.econtent_type != LDS_SECURITY_OBJECT_OID:
        return False, Reason.SOD_CONTENT_TYPE_MISMATCH
    if so.signed_attributes is None:
        return False, Reason.SOD_SIGNED_ATTRIBUTES_MISSING
    if so.content_type_attribute != so.econtent_type:
        return False, Reason.SOD_CONTENT_TYPE_MISMATCH
    if so.digest_algorithm not in _HASHES or so.message_digest_attribute is None:
        return False, Reason.SOD_UNSUPPORTED_ALGORITHM
    digest = hashlib.new(so.digest_algorithm, so.econtent).digest()
    if not hmac.compare_digest(digest, so.message_digest_attribute):
        return False, Reason.SOD_MESSAGE_DIGEST_MISMATCH
    ds = so.signer_certificate
    if ds is None:
        return False, Reason.SOD_SIGNATURE_INVALID
    algorithm = so.signature_algorithm
    hash_name, _, scheme = algorithm.partition("_")
    if not scheme:  # "ecdsa", "rsassa_pkcs1v15": the hash is the digest algorithm
        hash_name, scheme = so.digest_algorithm, algorithm
    hash_type = _CRYPTO_HASHES.get(hash_name)
    if hash_type is None:
        return False, Reason.SOD_UNSUPPORTED_ALGORITHM
    key = ds.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and scheme == "ecdsa":
            key.verify(so.signature, so.signed_attributes, ec.ECDSA(hash_type()))
        elif isinstance(key, rsa.RSAPublicKey) and scheme in {"rsa", "rsassa_pkcs1v15"}:
            key.verify(so.signature, so.signed_attributes, padding.PKCS1v15(), hash_type())
        else:
            return False, Reason.SOD_UNSUPPORTED_ALGORITHM
    except InvalidSignature:
        return False, Reason.SOD_SIGNATURE_INVALID
    return True, None


# -- data group hashes ---------------------------------------------------------------------------


def _dg_hashes(so: SecurityObject, dg_files: Mapping[int, bytes]) -> dict[int, bool]:
    if so.hash_algorithm not in _HASHES:
        return {}
    out: dict[int, bool] = {}
    for number, content in sorted(dg_files.items()):
        expected = so.dg_hashes.get(number)
        actual = hashlib.new(so.hash_algorithm, content).digest()
        out[number] = expected is not None and hmac.compare_digest(actual, expected)
    return out


def _check_hashes(
    so: SecurityObject, dg_files: Mapping[int, bytes], matched: dict[int, bool], out: _Results
) -> None:
    if so.hash_algorithm not in _HASHES:
        out.put(Check.HASHES_MATCH, False, Reason.SOD_UNSUPPORTED_ALGORITHM)
    elif not dg_files:
        out.put(Check.HASHES_MATCH, False, Reason.NO_DATA_GROUPS)
    elif any(number not in so.dg_hashes for number in dg_files):
        out.put(Check.HASHES_MATCH, False, Reason.DG_HASH_MISSING)
    else:
        out.put(Check.HASHES_MATCH, all(matched.values()), Reason.DG_HASH_MISMATCH)
