"""registry.tls and registry.auth at registry.create: the files made, the host's Docker told.

The files come from registry/tls.py; this module decides when to make them, restarts
nothing itself (registry.create restarts a running registry when they changed),
and installs the CA where the host's Docker daemon looks for it.
"""

from __future__ import annotations

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
        fresh, ca_cert, ca_key = tls.ensure_ca(directory, spec.name)
        names = tls.Names.for_registry(spec.name, spec.host, spec.bind_address)
        made += ["CA"] if fresh else []
        made += ["certificate"] if tls.ensure_server(directory, names, ca_cert, ca_key) else []
    if spec.auth and tls.ensure_htpasswd(directory, spec.username, spec.password):
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
