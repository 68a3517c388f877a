"""Why a pull failed, from the words containerd and kubelet use (pure).

kubelet reports `Failed to pull image "<ref>": rpc error: code = ... desc = failed to pull
and unpack image "<ref>": <containerd's error>`; `ctr content fetch` prints containerd's
error alone. The causes below are matched on the part of that error each one owns (Go's
net/http, crypto/x509 and net messages, containerd's resolver, the registry's JSON error
codes), most specific first; anything else is shown as it is.

containerd tries each host of hosts.toml, then the reference's own host, and reports the
first error: when the registry answers 404 for a missing tag, the error it reports is the
next host's, the node's own loopback (`dial tcp 127.0.0.1:5000: connect: connection
refused`), the same words as a missing hosts.toml. What the caller knows (does the
registry hold the tag, is hosts.toml right, does the registry run) tells them apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_LOOPBACK = re.compile(
    r"dial tcp (127\.\d+\.\d+\.\d+|\[::1\]|localhost):\d+: connect: connection refused"
)
_REFUSED = re.compile(r"dial tcp ([^\s:]+|\[[^\]]+\]):(\d+): connect: connection refused")
_NO_HOST = re.compile(r"lookup ([^\s:]+)(?: on [^\s]+)?: no such host")


@dataclass(frozen=True)
class Known:
    """What the caller could check besides the message (None: not known)."""

    registry_running: bool | None = None
    tag_present: bool | None = None
    hosts_ok: bool | None = None
    answered_404: bool = False  # containerd logged "response was http.StatusNotFound"
    waiting: tuple[str, str] | None = None  # (image, error) from a container's waiting state


@dataclass(frozen=True)
class PullCause:
    cause: str  # a short name: https-to-http, not-found, platform, rate-limit, ...
    summary: str  # what happened, in a user's words
    fix: str  # the task or command that fixes it


def classify(message: str, reference: str, version: str = "V", known: Known | None = None):
    """The cause of a failed pull of reference, or None when the message is not one we know
    (show it as it is). The error reported is the last line (`ctr` prints containerd's
    "trying next host" log lines before it); those lines only tell of a registry's 404."""
    lines = message.strip().splitlines() or [""]
    known = replace(known or Known(), answered_404="response was http.StatusNotFound" in message)
    for rule in _RULES:
        found = rule(lines[-1], reference, version, known)
        if found:
            return found
    return None


def _platform(message, reference, version, known):
    if "no match for platform in manifest" in message:
        return PullCause(
            "platform",
            f"{reference} has no image for the node's platform (an arm64-only image on an "
            "amd64 node, or the reverse)",
            "build for the node's platform: `docker buildx build --platform linux/amd64` "
            "(or build on a host of that architecture), then `invoke image.push`",
        )
    return None


def _rate_limit(message, reference, version, known):
    if "toomanyrequests" in message or "429 Too Many Requests" in message:
        return PullCause(
            "rate-limit",
            "Docker Hub's pull rate limit was reached (toomanyrequests)",
            "wait for the limit to reset, log the nodes in with a Docker Hub account (a "
            "higher limit), or pull through a cache",
        )
    return None


def _unknown_authority(message, reference, version, known):
    if "x509: certificate signed by unknown authority" in message:
        return PullCause(
            "unknown-ca",
            "the node does not trust the registry's certificate (unknown authority)",
            "`invoke cluster.create` copies the registry's CA into every node "
            "(`invoke diag.containerd` checks it)",
        )
    return None


def _https_to_http(message, reference, version, known):
    if "server gave HTTP response to HTTPS client" in message:
        host = reference.split("/", 1)[0]
        return PullCause(
            "https-to-http",
            f"the node talks HTTPS to the plain-HTTP registry: hosts.toml for {host} is "
            "missing or points at https://",
            "`invoke cluster.create` rewrites every node's hosts.toml "
            "(`invoke diag.containerd` shows it)",
        )
    return None


def _loopback(message, reference, version, known):
    found = _LOOPBACK.search(message)
    if not found or not reference.startswith(("localhost:", "127.0.0.1:")):
        return None
    if known.hosts_ok is not False and (known.tag_present is False or known.answered_404):
        return _missing_tag(reference, version)  # the registry said 404; the loopback came next
    return PullCause(
        "no-hosts-toml",
        f"the node pulled {reference.split('/', 1)[0]} from its own loopback "
        f"({found.group(1)}): its hosts.toml, which sends it to the registry, is missing",
        "`invoke cluster.create` writes hosts.toml on every node "
        "(`invoke diag.containerd` checks it)",
    )


def _no_such_host(message, reference, version, known):
    found = _NO_HOST.search(message)
    if not found:
        return None
    name = found.group(1)
    if known.registry_running is False:
        return PullCause(
            "registry-stopped",
            f"the registry {name} is stopped, so its name does not resolve on the kind network",
            "`invoke registry.start` (or `invoke registry.create`)",
        )
    return PullCause(
        "not-on-network",
        f"the node cannot resolve {name}: the registry is not on the kind network",
        "`invoke cluster.create` connects it (`invoke diag.network` checks)",
    )


def _refused(message, reference, version, known):
    found = _REFUSED.search(message)
    if found:
        return PullCause(
            "registry-stopped",
            f"nothing listens at {found.group(1)}:{found.group(2)} (connection refused): the "
            "registry is stopped or restarting",
            "`invoke registry.start` (or `invoke registry.create`); `invoke diag.registry`",
        )
    return None


def _unauthorized(message, reference, version, known):
    words = ("401 Unauthorized", "403 Forbidden", "pull access denied", "failed to authorize",
             "insufficient_scope")  # fmt: skip
    if any(word in message for word in words):
        return PullCause(
            "unauthorized",
            "the registry refused the node's credentials (401/403)",
            "check registry.username and STAGINGKUB_REGISTRY_PASSWORD; `invoke deploy.helm` "
            "refreshes the pull secret and `invoke cluster.create` the nodes' login",
        )
    return None


def _not_found(message, reference, version, known):
    if re.search(r": not found\b", message) or "manifest unknown" in message:
        return _missing_tag(reference, version)
    return None


def _missing_tag(reference: str, version: str) -> PullCause:
    return PullCause(
        "not-found",
        f"the registry has no {reference} (never pushed, pruned or garbage-collected)",
        f"`invoke image.push --version {version}` (`invoke registry.ls` lists the tags)",
    )


_RULES = (_platform, _rate_limit, _unknown_authority, _https_to_http, _loopback,
          _no_such_host, _refused, _unauthorized, _not_found)  # fmt: skip


_FAILED_PULL = re.compile(r'Failed to pull image "([^"]+)": (.*)')


def failed_pull(text: str) -> tuple[str, str] | None:
    """(reference, error) of the last `Failed to pull image "<ref>": ...` event (kubelet's
    words, in `kubectl get events` or a container's waiting message), or None."""
    found = _FAILED_PULL.findall(text)
    return found[-1] if found else None
