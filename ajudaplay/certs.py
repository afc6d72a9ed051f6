"""TLS certificate checks shared by both targets: parse PEM, key matches, expiry.

Both the Compose target (files on a host) and the Kubernetes target (TLS
Secrets) install and check certificates the same way, so the rules live here
once. `cryptography` is imported inside functions: `validate` must start fast.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import Diagnostic, InvalidInput

if TYPE_CHECKING:
    from cryptography import x509


@dataclass(frozen=True)
class CertInfo:
    """What operators want to know about a certificate: who, until when, how long left."""

    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str  # sha256, hex

    def days_left(self, now: dt.datetime | None = None) -> int:
        """Whole days until notAfter (negative once expired)."""
        now = now or dt.datetime.now(dt.timezone.utc)
        return int((self.not_after - now).total_seconds() // 86400)

    def expired(self, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.timezone.utc)
        return now >= self.not_after

    def as_data(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """Registered data for the `certificate` action (JSON-friendly)."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left(now),
            "expired": self.expired(now),
            "fingerprint": self.fingerprint,
        }


def _bad(source: str, message: str, hint: str) -> InvalidInput:
    return InvalidInput([Diagnostic(None, f"{source}: {message}", hint)])


def load_certificate(data: bytes, source: str) -> x509.Certificate:
    """The first certificate of a PEM file (leaf first, as NGINX expects); InvalidInput if none."""
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise _bad(source, "not a PEM certificate", "expected a file starting with -----BEGIN CERTIFICATE-----") from exc
    return certs[0]


def load_private_key(data: bytes, source: str) -> Any:
    """An unencrypted PEM private key; InvalidInput for anything else (never echoes the key)."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise _bad(
            source,
            "not an unencrypted PEM private key",
            "expected a file starting with -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY), without passphrase",
        ) from exc


def key_matches(cert: x509.Certificate, key: Any) -> bool:
    """True when the private key belongs to the certificate's public key."""
    from cryptography.hazmat.primitives import serialization

    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return bool(cert.public_key().public_bytes(enc, fmt) == key.public_key().public_bytes(enc, fmt))


def describe(cert: x509.Certificate) -> CertInfo:
    """The facts of a certificate, timezone-aware."""
    from cryptography.hazmat.primitives import hashes

    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
    )


def inspect_pem(data: bytes, source: str) -> CertInfo:
    """Parse and describe a PEM certificate in one call."""
    return describe(load_certificate(data, source))


def validate_pair(
    cert_pem: bytes,
    key_pem: bytes,
    cert_source: str,
    key_source: str,
    now: dt.datetime | None = None,
) -> CertInfo:
    """Refuse a pair that would break TLS: key not matching, or certificate already expired."""
    cert = load_certificate(cert_pem, cert_source)
    key = load_private_key(key_pem, key_source)
    problems: list[Diagnostic] = []
    if not key_matches(cert, key):
        problems.append(
            Diagnostic(
                None,
                f"{key_source}: private key does not match the certificate {cert_source}",
                "use the key the certificate was issued for (compare `openssl x509 -noout -pubkey` and `openssl pkey -pubout`)",
            )
        )
    info = describe(cert)
    if info.expired(now):
        problems.append(
            Diagnostic(
                None,
                f"{cert_source}: certificate expired on {info.not_after:%Y-%m-%d %H:%M:%S} UTC",
                "renew it before installing (e.g. certbot renew) or point cert_file at the new certificate",
            )
        )
    if problems:
        raise InvalidInput(problems)
    return info


def check_min_days(info: CertInfo, min_days: int, where: str, now: dt.datetime | None = None) -> str | None:
    """A failure message when the certificate expires in fewer than `min_days` days, else None."""
    left = info.days_left(now)
    if left < min_days:
        return (
            f"certificate {where} expires in {left} days (notAfter {info.not_after:%Y-%m-%d %H:%M:%S} UTC), "
            f"fewer than min_days={min_days}"
        )
    return None
