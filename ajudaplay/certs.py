"""TLS certificate checks shared by both targets: parse PEM, key matches, chain, expiry, min_days.

Both the Compose target (files on a host) and the Kubernetes target (TLS
Secrets) install and check certificates the same way, so the rules live here
once, in `validate_pair`, which every install calls before it writes anything.
`cryptography` is imported inside functions: `validate` must start fast.
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
    return load_chain(data, source)[0]


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
    min_days: int | None = None,
    now: dt.datetime | None = None,
) -> CertInfo:
    """Every reason to refuse a pair, found before anything is installed: InvalidInput lists them all.

    Parse (certificate chain and key), key matches the leaf, leaf not expired,
    each chain certificate issued by the next one and not expired, and at least
    `min_days` left. A pair refused here is never written, so the server never
    reloads onto it.
    """
    chain = load_chain(cert_pem, cert_source)
    key = load_private_key(key_pem, key_source)
    problems: list[Diagnostic] = []
    if not key_matches(chain[0], key):
        problems.append(
            Diagnostic(
                None,
                f"{key_source}: private key does not match the certificate {cert_source}",
                "use the key the certificate was issued for (compare `openssl x509 -noout -pubkey` and `openssl pkey -pubout`)",
            )
        )
    info = describe(chain[0])
    if info.expired(now):
        problems.append(
            Diagnostic(
                None,
                f"{cert_source}: certificate expired on {info.not_after:%Y-%m-%d %H:%M:%S} UTC",
                "renew it before installing (e.g. certbot renew) or point cert_file at the new certificate",
            )
        )
    elif min_days is not None and (short := check_min_days(info, min_days, cert_source, now)):
        problems.append(Diagnostic(None, short, "install a certificate valid for longer, or lower min_days"))
    problems.extend(_chain_problems(chain, cert_source, now))
    if problems:
        raise InvalidInput(problems)
    return info


def load_chain(data: bytes, source: str) -> list[x509.Certificate]:
    """Every certificate of a PEM file, leaf first; InvalidInput if there is none."""
    from cryptography import x509

    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise _bad(source, "not a PEM certificate", "expected a file starting with -----BEGIN CERTIFICATE-----") from exc


def _chain_problems(chain: list[x509.Certificate], source: str, now: dt.datetime | None) -> list[Diagnostic]:
    """NGINX serves the file as the chain: each certificate must be issued by the next, none expired."""
    from cryptography.exceptions import InvalidSignature

    problems: list[Diagnostic] = []
    for number, (cert, issuer) in enumerate(zip(chain, chain[1:]), start=1):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            problems.append(Diagnostic(
                None,
                f"{source}: certificate {number} of the chain ({cert.subject.rfc4514_string()}) is not issued by "
                f"certificate {number + 1} ({issuer.subject.rfc4514_string()})",
                "order the file leaf first, then each intermediate in turn (as the CA delivers fullchain.pem)",
            ))
    for number, cert in enumerate(chain[1:], start=2):
        if describe(cert).expired(now):
            problems.append(Diagnostic(
                None, f"{source}: certificate {number} of the chain ({cert.subject.rfc4514_string()}) has expired",
                "get the current intermediate certificate from the CA",
            ))
    return problems


def check_min_days(info: CertInfo, min_days: int, where: str, now: dt.datetime | None = None) -> str | None:
    """A failure message when the certificate expires in fewer than `min_days` days, else None."""
    left = info.days_left(now)
    if left < min_days:
        return (
            f"certificate {where} expires in {left} days (notAfter {info.not_after:%Y-%m-%d %H:%M:%S} UTC), "
            f"fewer than min_days={min_days}"
        )
    return None
