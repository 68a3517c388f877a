"""What is wrong with one node's registry wiring, in words (pure: the node as read)."""

from __future__ import annotations

from stagingkub.cluster.kind_config import CERTS_DIR
from stagingkub.cluster.plan import ClusterSpec

HTTPS_SYMPTOM = "server gave HTTP response to HTTPS client"


X509_SYMPTOM = "x509: certificate signed by unknown authority"


def node_wiring(spec: ClusterSpec, node) -> tuple[str, str, str]:
    """(evidence line, problem, warning) for one node's containerd registry wiring."""
    version = ".".join(map(str, node.containerd_version or ())) or "?"
    line = f"{node.name} (containerd {version}): {node.config_path_shown}"
    problem = (
        _mirrors_problem(node, version)
        or ("" if node.has_mirrors else _config_path_problem(node) or hosts_problem(spec, node))
        or _cache_problem(spec, node)
    )
    if problem:
        return f"{line}; {problem}", problem, ""
    if node.has_mirrors:  # legacy mirrors on containerd 1.x: works, deprecated
        return f"{line}; legacy registry.mirrors (deprecated since containerd 1.5)", "", "mirrors"
    return f"{line}; {spec.wiring.pull_host} -> {spec.wiring.endpoint}", "", ""


def _mirrors_problem(node, version: str) -> str:
    if node.config_path and node.has_mirrors:
        return "config_path and a registry.mirrors section together (containerd 2.x refuses)"
    if node.has_mirrors and node.containerd_version and node.containerd_version >= (2, 0, 0):
        return f"legacy registry.mirrors on containerd {version}: {HTTPS_SYMPTOM}"
    return ""


def _config_path_problem(node) -> str:
    if not node.reads_certs_dir:
        return f"config_path is not {CERTS_DIR}: hosts.toml files are not read"
    return ""


def hosts_problem(spec: ClusterSpec, node) -> str:
    """hosts.toml for the pull host: present, on the registry's scheme, at its endpoint."""
    pull_host, endpoint = spec.wiring.pull_host, spec.wiring.endpoint
    hosts = node.hosts_files.get(pull_host)
    if hosts is None:
        return f"{CERTS_DIR}/{pull_host}/hosts.toml is missing"
    if spec.wiring.tls and _ca_problem(spec, node, hosts):
        return _ca_problem(spec, node, hosts)
    if '"https://' in hosts and not spec.wiring.tls:
        return (
            f"hosts.toml sends {pull_host} to https://, but the registry speaks plain "
            f"HTTP: pulls fail with '{HTTPS_SYMPTOM}'"
        )
    if f'[host."{endpoint}"]' not in hosts:
        return f"hosts.toml does not point at {endpoint}"
    return ""


def _cache_problem(spec: ClusterSpec, node) -> str:
    """certs.d/<upstream>/hosts.toml of each pull-through cache: the mirror first, the
    upstream as the server to fall back to."""
    for upstream, remote, endpoint in spec.wiring.mirrors:
        hosts = node.hosts_files.get(upstream)
        if hosts is None:
            return f"{CERTS_DIR}/{upstream}/hosts.toml is missing: {upstream} bypasses its cache"
        if f'[host."{endpoint}"]' not in hosts or f'server = "{remote}"' not in hosts:
            return f"{CERTS_DIR}/{upstream}/hosts.toml does not send {upstream} to {endpoint}"
    return ""


def _ca_problem(spec: ClusterSpec, node, hosts: str) -> str:
    """registry.tls: hosts.toml names the CA, and the node's copy is the registry's CA."""
    pull_host = spec.wiring.pull_host
    if "ca = " not in hosts:
        return f"hosts.toml names no CA: pulls fail with '{X509_SYMPTOM}'"
    wanted = spec.wiring.ca_files()[pull_host].strip()
    if (node.ca_files.get(pull_host) or "").strip() != wanted:
        return f"{CERTS_DIR}/{pull_host}/ca.crt is missing or not the registry's CA"
    return ""
