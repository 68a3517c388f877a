"""The secure local registry's files: a CA, a server certificate it signs, an htpasswd file.

Generated with `cryptography` and `bcrypt` into one git-ignored directory
(<files_dir>/registry-<name>/), mounted read-only into the registry container.
Each file is kept while it is still right and remade only when it is not:
a certificate missing a name or near its end, a hash that no longer matches
the password. Keys and the htpasswd file are written with mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from stagingkub.validate import is_ip

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


def _write(path: Path, data: bytes, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    descriptor = os.open(temporary, flags, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _load(directory: Path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    path = directory / name
    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        if name.endswith(".key"):
            return serialization.load_pem_private_key(data, password=None)
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        return None  # damaged: made anew


def _name(common: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stagingkub"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _ca_valid(cert, key) -> bool:
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


def ensure_ca(directory: Path, label: str) -> tuple[bool, object, object]:
    """(made anew, certificate, key) of the CA in directory."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert, key = _load(directory, "ca.crt"), _load(directory, "ca.key")
    if _ca_valid(cert, key):
        return False, cert, key
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
    _write(directory / "ca.key", _pem_key(key), private=True)
    _write(directory / "ca.crt", _pem_cert(cert), private=False)
    return True, cert, key


def _server_names(cert) -> Names | None:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    dns = tuple(sorted(san.get_values_for_type(x509.DNSName)))
    ips = tuple(sorted(str(ip) for ip in san.get_values_for_type(x509.IPAddress)))
    return Names(dns, ips)


def _server_valid(cert, key, ca_cert, names: Names) -> bool:
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


def ensure_server(directory: Path, names: Names, ca_cert, ca_key) -> bool:
    """The server certificate for names, signed by the CA; True when made anew."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    cert, key = _load(directory, "server.crt"), _load(directory, "server.key")
    if _server_valid(cert, key, ca_cert, names):
        return False
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
    _write(directory / "server.key", _pem_key(key), private=True)
    _write(directory / "server.crt", _pem_cert(cert), private=False)
    return True


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


def ensure_htpasswd(directory: Path, username: str, password: str) -> bool:
    """The htpasswd file holds username with password's bcrypt hash; True when rewritten."""
    path = directory / "htpasswd"
    if path.is_file() and htpasswd_matches(path.read_text(), username, password):
        return False
    _write(path, htpasswd_line(username, password).encode(), private=True)
    return True
