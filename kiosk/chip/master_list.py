"""The CSCA master list the kiosk trusts: CSCA certificates and their CRLs, from a folder.

A folder rather than an ICAO master list (a signed CMS object): the operator drops in each
country's CSCA certificate (PEM or DER, ``.pem``/``.crt``/``.cer``/``.der``; a PEM file may hold
several) and the CSCA's latest CRL (PEM or DER, ``.crl``). Only self-signed CA certificates with
``keyCertSign`` are taken (link certificates are not supported), and only CRLs whose signature
verifies under a loaded CSCA. Anything else is skipped with a warning naming the file and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

log = structlog.get_logger(__name__)

MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class SkippedFile:
    name: str
    reason: str


@dataclass(slots=True)
class MasterList:
    """Trusted CSCA certificates and, per CSCA, its newest verified CRL."""

    cscas: list[x509.Certificate] = field(default_factory=list)
    crls: dict[bytes, x509.CertificateRevocationList] = field(default_factory=dict)
    """CSCA fingerprint (SHA-256) -> CRL."""
    skipped: list[SkippedFile] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> MasterList:
        """Load every CSCA certificate and CRL in ``folder`` (not recursive)."""
        if not folder.is_dir():
            raise FileNotFoundError(f"master list folder not found: {folder}")
        master = cls()
        pending_crls: list[tuple[str, x509.CertificateRevocationList]] = []
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            certs, crls, problem = _read(path)
            if problem is not None:
                master._skip(path.name, problem)
                continue
            for cert in certs:
                master._add_csca(path.name, cert)
            pending_crls += [(path.name, crl) for crl in crls]
        for name, crl in pending_crls:
            master._add_crl(name, crl)
        log.info(
            "master list loaded",
            cscas=len(master.cscas),
            crls=len(master.crls),
            skipped=len(master.skipped),
        )
        return master

    @classmethod
    def from_certificates(
        cls,
        cscas: Iterable[x509.Certificate],
        crls: Iterable[x509.CertificateRevocationList] = (),
    ) -> MasterList:
        """A master list from objects in memory (same checks as :meth:`load`)."""
        master = cls()
        for cert in cscas:
            master._add_csca("<memory>", cert)
        for crl in crls:
            master._add_crl("<memory>", crl)
        return master

    def __len__(self) -> int:
        return len(self.cscas)

    def candidates_for(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        """CSCAs that may have issued ``certificate``: same name, and the same key identifier
        when the certificate names one (authority key identifier = the CSCA's subject key id)."""
        wanted = _authority_key_id(certificate)
        found = []
        for csca in self.cscas:
            if csca.subject != certificate.issuer:
                continue
            if wanted is not None and _subject_key_id(csca) not in (None, wanted):
                continue
            found.append(csca)
        return found

    def crl_for(self, csca: x509.Certificate) -> x509.CertificateRevocationList | None:
        return self.crls.get(csca.fingerprint(_SHA256))

    # -- loading ---------------------------------------------------------------------------------

    def _skip(self, name: str, reason: str) -> None:
        self.skipped.append(SkippedFile(name, reason))
        log.warning("master list file skipped", file=name, reason=reason)

    def _add_csca(self, name: str, cert: x509.Certificate) -> None:
        problem = _csca_problem(cert)
        if problem is not None:
            self._skip(name, problem)
            return
        if any(c.fingerprint(_SHA256) == cert.fingerprint(_SHA256) for c in self.cscas):
            return  # the same certificate twice (e.g. PEM and DER copies)
        self.cscas.append(cert)

    def _add_crl(self, name: str, crl: x509.CertificateRevocationList) -> None:
        issuers = [c for c in self.cscas if c.subject == crl.issuer]
        issuer = next((c for c in issuers if _crl_signed_by(crl, c)), None)
        if issuer is None:
            reason = "CRL signature does not verify" if issuers else "CRL issuer is not a CSCA"
            self._skip(name, reason)
            return
        key = issuer.fingerprint(_SHA256)
        current = self.crls.get(key)
        if current is None or crl.last_update_utc > current.last_update_utc:
            self.crls[key] = crl


_SHA256 = hashes.SHA256()


def _read(
    path: Path,
) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList], str | None]:
    """(certificates, CRLs, None) or ([], [], why the file is not usable)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return [], [], "file too large"
        data = path.read_bytes()
    except OSError as exc:
        return [], [], f"unreadable ({type(exc).__name__})"
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data), [], None
        if b"-----BEGIN X509 CRL-----" in data:
            return [], [x509.load_pem_x509_crl(data)], None
    except ValueError:
        return [], [], "malformed PEM"
    try:
        return [x509.load_der_x509_certificate(data)], [], None
    except ValueError:
        pass
    try:
        return [], [x509.load_der_x509_crl(data)], None
    except ValueError:
        return [], [], "not a certificate or CRL"


def _csca_problem(cert: x509.Certificate) -> str | None:
    try:
        basic = _extension(cert, x509.BasicConstraints)
        usage = _extension(cert, x509.KeyUsage)
    except ValueError:
        return "malformed certificate extensions"
    if basic is None or not basic.ca or usage is None or not usage.key_cert_sign:
        return "not a CA certificate with keyCertSign"
    if cert.issuer != cert.subject:
        return "not self-signed (link certificates are not supported)"
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError):
        return "self-signature does not verify"
    return None


def _crl_signed_by(crl: x509.CertificateRevocationList, csca: x509.Certificate) -> bool:
    try:
        return bool(crl.is_signature_valid(csca.public_key()))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, ValueError):
        return None


def _authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except (x509.ExtensionNotFound, ValueError):
        return None
    return ext.value.key_identifier


_E = TypeVar("_E", bound=x509.ExtensionType)


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
