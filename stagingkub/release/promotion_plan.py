"""image.promote's two ends (pure but for loading the target profile): the source is the
local registry (kind-registry) of the profile in use; the target is another profile's
registry, with the target's own login (STAGINGKUB_PROMOTE_USERNAME / _PASSWORD, else
the target profile's registry.username), never the source's STAGINGKUB_REGISTRY_*. A
target in the same registry as the source (another repository) is reached too: its
blobs are mounted, not sent."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, replace

from stagingkub.errors import ConfigError
from stagingkub.registry.api import RegistryAPI
from stagingkub.registry.auth import REGISTRY_CREDENTIALS
from stagingkub.registry.promote_side import Side
from stagingkub.release.image import ImageSpec

API_TIMEOUT = 30.0
TARGET_CREDENTIALS = "STAGINGKUB_PROMOTE_USERNAME and STAGINGKUB_PROMOTE_PASSWORD"
_FROM_YAML = re.compile(r"^\S+\.ya?ml:\d+")  # a source naming a YAML file and line


@dataclass(frozen=True)
class Promotion:
    source: ImageSpec  # kind-registry's image of the version
    target: ImageSpec  # the other profile's image and tag, with the target's login
    target_settings: object
    source_login: str = ""  # skopeo's user:password for each side, by variable name
    target_login: str = ""


def plan(settings, version: str, to_profile: str, to_tag: str = "") -> Promotion:
    """The two ends, or one paragraph saying what is wrong with them."""
    from stagingkub.settings import load

    source = ImageSpec.from_settings(settings, version)
    if source.external:
        raise ConfigError(
            f"image.promote copies from the local registry (kind-registry), and the profile in "
            f"use has registry.mode: external ({source.push_host}). Run it with the staging "
            "profile (no --profile, or the one that deploys to kind), and name the target "
            "with --to."
        )
    target_settings = load(profile=to_profile)
    user, variable = target_user(target_settings, to_profile)
    password = target_settings.promote.password
    target = ImageSpec.from_settings(target_settings, to_tag or version)
    target = replace(target, auth=(user, password) if user else None)
    _check_target(source, target, to_profile, target_settings.registry.mode)
    return Promotion(source, target, target_settings,
                     _login(settings, source.auth, "STAGINGKUB_REGISTRY"),
                     _shell_login(user, variable, "STAGINGKUB_PROMOTE_PASSWORD"))  # fmt: skip


def target_user(target_settings, to_profile: str) -> tuple[str, str]:
    """(the target's user, the variable it came from or ''): STAGINGKUB_PROMOTE_USERNAME,
    else registry.username as the target profile itself sets it (the environment's and
    .env's STAGINGKUB_REGISTRY_USERNAME are the source's, not the target's)."""
    from stagingkub.settings import load

    if target_settings.promote.username:
        return target_settings.promote.username, "STAGINGKUB_PROMOTE_USERNAME"
    if _FROM_YAML.match(target_settings.sources.get("registry.username", "")):
        return target_settings.registry.username, ""
    try:  # the environment overrode it: what does the profile alone say?
        alone = load(profile=to_profile, environ={"STAGINGKUB_ENV_FILE": os.devnull})
    except ConfigError:
        return "", ""
    return alone.registry.username, ""


def _check_target(source: ImageSpec, target: ImageSpec, to_profile: str, mode: str) -> None:
    if target.external:
        return
    if target.registry_url != source.registry_url:
        raise ConfigError(
            f"The profile {to_profile!r} has no external registry (its registry.mode is "
            f"{mode}): promotion copies to a shared registry such as Harbor, or to another "
            "repository of this same registry. Set registry.mode: external, host, project "
            "and username in that profile (config/external.yaml is an example)."
        )
    if target.path == source.path:
        raise ConfigError(
            f"The profile {to_profile!r} names the source itself ({source.repository}): to "
            "promote within this registry, give that profile another repository "
            "(registry.project or image.name)."
        )


def _login(settings, auth, prefix: str) -> str:
    """The source's user:password for skopeo, the password (and a user from the
    environment) by variable name; '' without a login."""
    if not auth:
        return ""
    came_from = settings.sources.get("registry.username", "")
    variable = "" if _FROM_YAML.match(came_from) else f"{prefix}_USERNAME"
    return _shell_login(auth[0], variable, f"{prefix}_PASSWORD")


def _shell_login(user: str, user_variable: str, password_variable: str) -> str:
    if not user:
        return ""
    if user_variable:
        return f'"${user_variable}:${password_variable}"'
    return f'{shlex.quote(user)}:"${password_variable}"'


def sides(promotion: Promotion) -> tuple[Side, Side]:
    """The registry API of each end, each with its own login and its own words for a 401."""
    s, t = promotion.source, promotion.target
    return (Side(_api(s, REGISTRY_CREDENTIALS), s.path),
            Side(_api(t, TARGET_CREDENTIALS), t.path))  # fmt: skip


def _api(image: ImageSpec, credentials: str) -> RegistryAPI:
    return RegistryAPI(image.registry_url, API_TIMEOUT, auth=image.auth, cafile=image.cafile,
                       credentials=credentials)  # fmt: skip
