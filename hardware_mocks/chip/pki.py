"""A test PKI for virtual passports: per issuing country a CSCA, document signers and a CRL.

TEST KEYS ONLY. Every key is derived at run time from a seed (the private scalar is a hash of the
seed, the country and the role), so the same seed gives the same keys, certificates (ECDSA
signatures are deterministic, RFC 6979) and CRLs, and nothing needs caching or committing.
All keys are ECDSA P-256 with SHA-256 (Doc 9303 part 12 also allows RSA and brainpool curves).

Per country (:class:`CountryPKI`), following Doc 9303 part 12's profiles in a reduced form:

* the CSCA: self-signed, ``basicConstraints`` CA with path length 0, key usage
  ``keyCertSign`` + ``cRLSign``, subject and authority key identifiers, valid 20 years;
* the document signer (DS): issued by the CSCA, key usage ``digitalSignature``, authority key
  identifier = the CSCA's subject key identifier; valid from 180 days before ``now`` for 10 years
  and 90 days (the key usage period plus the longest passport validity);
* for attack fixtures: an expired DS, a revoked DS (listed on the CSCA's CRL), a *rogue* CSCA
  that copies the genuine CSCA's name but is not on the master list with its own DS, and a DS
  signed by the rogue key while claiming the genuine CSCA's name and key identifier;
* a CRL signed by the CSCA, listing the revoked DS, valid 90 days from ``now``.

:meth:`MockPKI.write_master_list` writes what the kiosk loads (``kiosk.chip.MasterList``): one
PEM file per CSCA and one DER CRL per CSCA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import iso3166
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bordergate.countries import normalize

# The order of the P-256 group (FIPS 186-4, D.1.2.3).
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ORGANISATION = "Bordergate Test PKI"

CSCA_VALIDITY = timedelta(days=20 * 365)
SIGNER_VALIDITY = timedelta(days=10 * 365 + 90)
CRL_VALIDITY = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Credential:
    """A private key and its certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def __repr__(self) -> str:
        return f"Credential({self.certificate.subject.rfc4514_string()})"


@dataclass(frozen=True, slots=True)
class CountryPKI:
    """The test PKI of one issuing state (ICAO code, e.g. ``D`` or ``USA``)."""

    code: str
    csca: Credential
    signer: Credential
    expired_signer: Credential
    revoked_signer: Credential
    crl: x509.CertificateRevocationList
    rogue_csca: Credential
    """Same subject name as the CSCA, a different key; not on any master list."""
    rogue_signer: Credential
    """Issued by the rogue CSCA (its authority key identifier is the rogue key's)."""
    forged_chain_signer: Credential
    """Signed by the rogue key but claiming the genuine CSCA's name and key identifier."""


def alpha2_for(code: str) -> str | None:
    """The ISO 3166-1 alpha-2 code for an ICAO code (``D`` -> ``DE``); None for ``UTO``, ``UNO``."""
    icao = normalize(code)
    alpha3 = "DEU" if icao == "D" else icao
    country = iso3166.countries_by_alpha3.get(alpha3)
    return None if country is None else str(country.alpha2)


class MockPKI:
    """Per-country test PKIs, derived from ``seed`` and valid around ``now``.

    ``now`` (default: today's midnight UTC) anchors every validity period; the kiosk should
    check at a time near it (the genuine DS is valid from ``now - 180 days`` for ten years).
    """

    def __init__(self, seed: str = "bordergate-test-pki", now: datetime | None = None) -> None:
        if now is None:
            now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.seed = seed
        self.now = now.astimezone(UTC)
        self._countries: dict[str, CountryPKI] = {}

    def country(self, code: str) -> CountryPKI:
        """The PKI of issuing state ``code``, generated on first use."""
        icao = normalize(code)
        pki = self._countries.get(icao)
        if pki is None:
            pki = self._countries[icao] = self._generate(icao)
        return pki

    def write_master_list(self, folder: Path, countries: Iterable[str]) -> list[Path]:
        """Write the CSCA certificates (PEM) and CRLs (DER) of ``countries`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for code in countries:
            pki = self.country(code)
            cert_path = folder / f"CSCA_{pki.code}.pem"
            cert_path.write_bytes(pki.csca.certificate.public_bytes(serialization.Encoding.PEM))
            crl_path = folder / f"CSCA_{pki.code}.crl"
            crl_path.write_bytes(pki.crl.public_bytes(serialization.Encoding.DER))
            written += [cert_path, crl_path]
        return written

    # -- generation -----------------------------------------------------------------------------

    def _digest(self, code: str, role: str) -> bytes:
        return hashlib.sha256(f"{self.seed}|{code}|{role}".encode()).digest()

    def _key(self, code: str, role: str) -> ec.EllipticCurvePrivateKey:
        scalar = int.from_bytes(self._digest(code, f"key:{role}"), "big") % (_P256_ORDER - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def _serial(self, code: str, role: str) -> int:
        return int.from_bytes(self._digest(code, f"serial:{role}")[:16], "big") >> 1 or 1

    def _name(self, code: str, common_name: str) -> x509.Name:
        attributes = []
        alpha2 = alpha2_for(code)
        if alpha2 is not None:
            attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, alpha2))
        attributes += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"Issuing state {code}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
        return x509.Name(attributes)

    def _csca(self, code: str, role: str) -> Credential:
        key = self._key(code, role)
        name = self._name(code, f"CSCA {code} (test)")
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(self._serial(code, role))
            .not_valid_before(self.now - timedelta(days=5 * 365))
            .not_valid_after(self.now - timedelta(days=5 * 365) + CSCA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
        )
        return Credential(key, cert)

    def _signer(
        self,
        code: str,
        role: str,
        issuer: Credential,
        *,
        not_before: datetime,
        not_after: datetime,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> Credential:
        key = self._key(code, role)
        issuer_cert = issuer.certificate
        issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        cert = (
            x509.CertificateBuilder()
            .subject_name(self._name(code, f"Document Signer {code} {role} (test)"))
            .issuer_name(issuer_cert.subject)
            .public_key(key.public_key())
            .serial_number(self._serial(code, role))
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski.value),
                critical=False,
            )
            .sign(signing_key or issuer.key, hashes.SHA256(), ecdsa_deterministic=True)
        )
        return Credential(key, cert)

    def _generate(self, code: str) -> CountryPKI:
        now = self.now
        csca = self._csca(code, "csca")
        rogue_csca = self._csca(code, "rogue-csca")
        start, end = now - timedelta(days=180), now - timedelta(days=180) + SIGNER_VALIDITY
        signer = self._signer(code, "ds", csca, not_before=start, not_after=end)
        expired = self._signer(
            code,
            "ds-expired",
            csca,
            not_before=now - timedelta(days=11 * 365),
            not_after=now - timedelta(days=30),
        )
        revoked = self._signer(code, "ds-revoked", csca, not_before=start, not_after=end)
        rogue_signer = self._signer(code, "ds-rogue", rogue_csca, not_before=start, not_after=end)
        forged = self._signer(
            code, "ds-forged", csca, not_before=start, not_after=end, signing_key=rogue_csca.key
        )
        revoked_entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(revoked.certificate.serial_number)
            .revocation_date(now - timedelta(days=30))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(csca.certificate.subject)
            .last_update(now - timedelta(days=1))
            .next_update(now + CRL_VALIDITY)
            .add_revoked_certificate(revoked_entry)
            .add_extension(x509.CRLNumber(1), critical=False)
            .sign(csca.key, hashes.SHA256(), ecdsa_deterministic=True)
        )
        return CountryPKI(
            code=code,
            csca=csca,
            signer=signer,
            expired_signer=expired,
            revoked_signer=revoked,
            crl=crl,
            rogue_csca=rogue_csca,
            rogue_signer=rogue_signer,
            forged_chain_signer=forged,
        )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
