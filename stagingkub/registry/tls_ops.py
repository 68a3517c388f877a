"""registry.tls and registry.auth at registry.create: the files made, the host's Docker told.

The files are made by registry/tls.py (pure) and written here, into one git-ignored
directory (<files_dir>/registry-<name>/) mounted read-only into the registry container;
each is kept while it is still right. Keys and the htpasswd file get mode 0600. Nothing
is restarted here (registry.create restarts a running registry when they changed); the
CA is installed where the host's Docker daemon looks for it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from stagingkub.console import say
from stagingkub.errors import StateError
from stagingkub.registry import tls
from stagingkub.registry.plan import RegistrySpec
from stagingkub.runner import Runner


def prepare(runner: Runner, spec: RegistrySpec) -> list[str]:
    """registry.tls / registry.auth: the CA, server certificate and htpasswd are right;
    returns what was (re)made, so a running registry is restarted to load it."""
    if not spec.secure:
        return []
    if spec.auth and not spec.password:
        raise StateError(
            f"registry.auth is on for {spec.name} but STAGINGKUB_REGISTRY_PASSWORD is not set: "
            "put it in .env or the environment (in Jenkins, through withCredentials). The "
            "tool makes the htpasswd file from it. Nothing was changed."
        )
    directory = Path(spec.secure_dir)
    if runner.dry:
        runner.note(
            f"registry.create writes the registry's TLS and htpasswd files to {directory} "
            "(made by the tool; keys and hashes are not printed)"
        )
        return []
    made = []
    if spec.tls:
        fresh, ca_cert, ca_key = ensure_ca(directory, spec.name)
        names = tls.Names.for_registry(spec.name, spec.host, spec.bind_address)
        made += ["CA"] if fresh else []
        made += ["certificate"] if ensure_server(directory, names, ca_cert, ca_key) else []
    if spec.auth and ensure_htpasswd(directory, spec.username, spec.password):
        made.append("htpasswd")
    if made:
        say(f"Registry {spec.name}: wrote its " + ", ".join(made) + f" in {directory}.")
    return made


def trust_on_host(runner: Runner, spec: RegistrySpec) -> None:
    """The host's Docker trusts the registry's CA: <docker_certs_dir>/<host:port>/ca.crt."""
    if not spec.tls:
        return
    source = Path(spec.cafile or "")
    target = Path(spec.docker_certs_dir) / spec.push_host / "ca.crt"
    install = ["install", "-D", "-m", "0644", str(source), str(target)]
    if runner.dry:
        runner.run(install)
        return
    pem = source.read_text(encoding="ascii")
    if target.is_file() and target.read_text(encoding="ascii", errors="replace") == pem:
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(pem, encoding="ascii")
    except PermissionError:
        say(
            f"Could not write {target} (permission denied), so Docker on this host does not "
            f"know the registry's CA yet ({spec.push_host} on loopback still works: Docker "
            f"skips verification for it). Install it with `sudo {shlex.join(install)}`."
        )
        return
    say(f"Docker on this host trusts the registry's CA: wrote {target}.")


def ensure_ca(directory: Path, label: str) -> tuple[bool, object, object]:
    """(made anew, certificate, key) of the CA in directory."""
    cert, key = _load(directory, "ca.crt"), _load(directory, "ca.key")
    if tls.ca_valid(cert, key):
        return False, cert, key
    cert, key = tls.new_ca(label)
    _write(directory / "ca.key", tls.pem_key(key), private=True)
    _write(directory / "ca.crt", tls.pem_cert(cert), private=False)
    return True, cert, key


def ensure_server(directory: Path, names: tls.Names, ca_cert, ca_key) -> bool:
    """The server certificate for names, signed by the CA; True when made anew."""
    cert, key = _load(directory, "server.crt"), _load(directory, "server.key")
    if tls.server_valid(cert, key, ca_cert, names):
        return False
    cert, key = tls.new_server(names, ca_cert, ca_key)
    _write(directory / "server.key", tls.pem_key(key), private=True)
    _write(directory / "server.crt", tls.pem_cert(cert), private=False)
    return True


def ensure_htpasswd(directory: Path, username: str, password: str) -> bool:
    """The htpasswd file holds username with password's bcrypt hash; True when rewritten."""
    path = directory / "htpasswd"
    if path.is_file() and tls.htpasswd_matches(path.read_text(), username, password):
        return False
    _write(path, tls.htpasswd_line(username, password).encode(), private=True)
    return True


def _load(directory: Path, name: str):
    path = directory / name
    return tls.parse(name, path.read_bytes()) if path.is_file() else None


def _write(path: Path, data: bytes, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    descriptor = os.open(temporary, flags, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
