"""The secure local registry's files, as decisions and bytes (pure: nothing is read or
written here; tls_ops.py does that): a CA, a server certificate it signs, an htpasswd
line, made with `cryptography` and `bcrypt`, and whether existing ones are still right
(a certificate missing a name or near its end, a hash that no longer matches)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from stagingkub.references import is_ip

CA_DAYS = 3650
SERVER_DAYS = 825  # what Apple and browsers accept for a server certificate
RENEW_BEFORE = datetime.timedelta(days=30)
FILES = ("ca.crt", "ca.key", "server.crt", "server.key", "htpasswd")


@dataclass(frozen=True)
class Names:
    """Who the server certificate is for: DNS names and IP addresses."""

    dns: tuple[str, ...]
    ips: tuple[str, ...]

    @classmethod
    def for_registry(cls, container: str, host: str, bind_address: str) -> Names:
        dns = {"localhost", container}
        ips = {"127.0.0.1", "::1"}
        for name in (host, bind_address):
            if not name or name in ("0.0.0.0", "::"):
                continue
            (ips if is_ip(name) else dns).add(name)
        return cls(tuple(sorted(dns)), tuple(sorted(ips)))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pem_cert(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stagingkub"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def ca_valid(cert, key) -> bool:
    if cert is None or key is None:
        return False
    fresh = cert.not_valid_after_utc - _now() > RENEW_BEFORE
    return fresh and cert.public_key().public_numbers() == key.public_key().public_numbers()


def _ca_usage():
    from cryptography import x509

    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
    )
    return x509.KeyUsage(
        digital_signature=True, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False, **usage,
    )  # fmt: skip


def new_ca(label: str) -> tuple[object, object]:
    """(certificate, key) of a new CA for the registry named label (in memory)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _key()
    subject = _name(f"stagingkub local registry CA ({label})")
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _server_names(cert) -> Names | None:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    dns = tuple(sorted(san.get_values_for_type(x509.DNSName)))
    ips = tuple(sorted(str(ip) for ip in san.get_values_for_type(x509.IPAddress)))
    return Names(dns, ips)


def server_valid(cert, key, ca_cert, names: Names) -> bool:
    if cert is None or key is None:
        return False
    return (
        cert.issuer == ca_cert.subject
        and _server_names(cert) == names
        and cert.not_valid_after_utc - _now() > RENEW_BEFORE
        and cert.public_key().public_numbers() == key.public_key().public_numbers()
        and _signed_by(cert, ca_cert)
    )


def _signed_by(cert, ca_cert) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def new_server(names: Names, ca_cert, ca_key) -> tuple[object, object]:
    """(certificate, key) for the registry's names, signed by the CA (in memory)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _key()
    now = _now()
    alternatives = [x509.DNSName(name) for name in names.dns] + [
        x509.IPAddress(ipaddress.ip_address(ip)) for ip in names.ips
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names.dns[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def htpasswd_line(username: str, password: str) -> str:
    """user:$2b$... the bcrypt form the registry's htpasswd auth accepts."""
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    return f"{username}:{hashed}\n"


def htpasswd_matches(text: str, username: str, password: str) -> bool:
    import bcrypt

    user, _, hashed = text.strip().partition(":")
    if user != username or not hashed.startswith("$2"):
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


def parse(name: str, data: bytes):
    """A PEM key (name ends in .key) or certificate; None when it does not parse."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        if name.endswith(".key"):
            return serialization.load_pem_private_key(data, password=None)
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        return None  # damaged: made anew
