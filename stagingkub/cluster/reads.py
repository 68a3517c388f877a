"""What a cluster spec needs from the machine, read here so the plan stays pure: the
user's kind config (cluster.config_file) and, with registry.tls, the registry's CA."""

from __future__ import annotations

from pathlib import Path

from stagingkub.cluster.plan import ClusterSpec
from stagingkub.errors import ConfigError
from stagingkub.registry.plan import RegistrySpec


def cluster_spec(settings) -> ClusterSpec:
    """The cluster's spec, with the texts it needs read here: cluster.config_file's and,
    with registry.tls, the registry's CA ('' while it does not exist yet)."""
    return ClusterSpec.from_settings(settings, _user_config(settings), _ca_text(settings))


def _user_config(settings) -> str:
    if not settings.cluster.config_file:
        return ""
    try:
        return settings.path("cluster.config_file").read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"cluster.config_file is {settings.cluster.config_file!r}, which cannot be read "
            f"({error.strerror}). Fix the path ({settings.sources['cluster.config_file']}) "
            "or set it to an empty string."
        ) from None


def _ca_text(settings) -> str:
    cafile = RegistrySpec.from_settings(settings).cafile
    try:
        return Path(cafile).read_text(encoding="ascii") if cafile else ""
    except OSError:
        return ""
