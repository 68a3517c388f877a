"""Load the one settings object, in rising precedence.

config/defaults.yaml < config/<profile>.yaml < .env < environment < task flags.
Every value remembers where it came from, so diag.config can say it and every
error can point at the file and line to change.
"""

from __future__ import annotations

import difflib
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from stagingkub.errors import ConfigError, InputError
from stagingkub.schema import ENV_PREFIX, ENV_TO_KEY, META_VARIABLES, SCHEMA, all_keys, spec_for
from stagingkub.validate import boolean as validate_boolean

ROOT = Path(__file__).resolve().parent.parent
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class Settings:
    """The effective settings: sections as attributes (settings.registry.port)."""

    values: dict[str, Any]
    sources: dict[str, str]
    profile: str | None = None
    root: Path = ROOT
    sections: dict[str, SimpleNamespace] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.sections = {name: SimpleNamespace() for name in SCHEMA}
        for dotted, value in self.values.items():
            section, key = dotted.split(".", 1)
            setattr(self.sections[section], key, value)

    def __getattr__(self, name: str) -> SimpleNamespace:
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(name)

    def path(self, dotted: str, *more: str) -> Path:
        """A path setting (joined with `more`) as commands name it: relative to the repository
        root when it is configured relative (`./helm/rhdemo` stays `helm/rhdemo`), so a printed
        script runs in any checkout; the tasks run from the root (cli.task)."""
        return Path(os.path.normpath(Path(self.values[dotted], *more)))

    def abspath(self, dotted: str, *more: str) -> Path:
        """The same path made absolute against the repository root (bind mounts need one)."""
        path = self.path(dotted, *more)
        return path if path.is_absolute() else Path(os.path.normpath(self.root / path))

    def files_dir(self, *more: str) -> Path:
        """Where generated files go: cluster.files_dir/<cluster name>/..."""
        return self.path("cluster.files_dir", self.values["cluster.name"], *more)

    @property
    def kube_context(self) -> str:
        """cluster.context, or kind's own name for the cluster's context (kind-<name>)."""
        return self.values["cluster.context"] or f"kind-{self.values['cluster.name']}"

    def shown(self, dotted: str) -> str:
        """The value as it may be printed: secrets masked."""
        value = self.values[dotted]
        if spec_for(dotted).secret:
            return "****" if value else "(not set)"
        if isinstance(value, dict):
            return ",".join(f"{k}={v}" for k, v in value.items()) or "(none)"
        if isinstance(value, list):
            return ",".join(_item(item) for item in value) or "(none)"
        if isinstance(value, bool):
            return "true" if value else "false"
        if value == "":
            return "(not set)"
        return str(value)

    def rows(self) -> list[tuple[str, str, str]]:
        """(key, shown value, source) for every setting, in schema order."""
        return [(key, self.shown(key), self.sources[key]) for key in all_keys()]

    def secrets(self) -> list[str]:
        """Secret values that are set, so output can be masked."""
        return [v for k, v in self.values.items() if spec_for(k).secret and v]


def load(
    profile: str | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    root: Path = ROOT,
) -> Settings:
    """Build the settings; flags maps dotted keys to (value, flag name)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    defaults = root / "config" / "defaults.yaml"
    _apply_yaml(defaults, root, values, sources)
    for key in all_keys():
        if spec_for(key).secret and key not in values:
            values[key], sources[key] = "", "not set (secrets come from .env or the environment)"
    missing = [key for key in all_keys() if key not in values]
    if missing:
        raise ConfigError(
            f"{_rel(defaults, root)} lacks {', '.join(missing)}; restore it from git."
        )
    env_file_vars, env_file = _read_env_file(environ, root)
    profile_name, profile_source = _choose_profile(profile, environ, env_file_vars)
    if profile_name:
        _apply_yaml(_profile_path(profile_name, root), root, values, sources, profile_source)
    _apply_variables(env_file_vars, values, sources, lambda n: f"{_rel(env_file, root)}:{n}")
    _apply_variables(
        {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)},
        values,
        sources,
        lambda name: f"environment {name}",
    )
    for dotted, (raw, flag_name) in (flags or {}).items():
        if raw is None:
            continue
        values[dotted] = _coerce_text(dotted, raw, f"the flag {flag_name}")
        sources[dotted] = f"flag {flag_name}"
    _check_combinations(values, sources)
    return Settings(values=values, sources=sources, profile=profile_name, root=root)


def _item(item: Any) -> str:
    """A list entry as printed: a mirror as upstream->remote_url@port."""
    if isinstance(item, dict):
        return f"{item['upstream']}->{item['remote_url']}@{item['port']}"
    return str(item)


def _check_cache(values: dict, said) -> None:
    if not values["cache.mirrors"]:
        return
    if values["cluster.wiring"] == "mirrors":
        raise ConfigError(
            f"cache.mirrors needs cluster.wiring 'hosts' ({said('cluster.wiring')}): the "
            "legacy mirrors patch cannot fall back to the upstream when a mirror is down."
        )
    taken = {m["port"]: m["upstream"] for m in values["cache.mirrors"] if m["port"] is not None}
    if values["registry.mode"] == "local" and values["registry.port"] in taken:
        raise ConfigError(
            f"The mirror of {taken[values['registry.port']]} and the registry both want port "
            f"{values['registry.port']} ({said('registry.port')}). Give that mirror another "
            "port in cache.mirrors."
        )
    if values["cache.dockerhub_password"] and not values["cache.dockerhub_username"]:
        raise ConfigError(
            "STAGINGKUB_CACHE_DOCKERHUB_PASSWORD is set without a user: set "
            "STAGINGKUB_CACHE_DOCKERHUB_USERNAME too (in .env or the environment)."
        )


def _check_combinations(values: dict, sources: dict) -> None:
    """Settings that are fine alone but not together, named with where each came from."""

    def said(key: str) -> str:
        return f"{key} = {values[key]!r} ({sources[key]})"

    if values["cluster.mode"] == "existing" and not values["cluster.context"]:
        raise ConfigError(
            f"{said('cluster.mode')} needs cluster.context: the kube context of that cluster "
            "(`kubectl config get-contexts` lists them). Set it in the profile or "
            "STAGINGKUB_CLUSTER_CONTEXT."
        )
    external = values["registry.mode"] == "external"
    if external and values["registry.host"] in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError(
            f"{said('registry.mode')} but {said('registry.host')}: an external registry is "
            "another machine. Set registry.host to its name (harbor.example.com, ghcr.io)."
        )
    for key in ("registry.tls", "registry.auth"):
        if external and values[key]:
            raise ConfigError(
                f"{said(key)} configures the local registry container, but "
                f"{said('registry.mode')}: an external registry's TLS and logins are its own. "
                f"Turn {key} off in that profile."
            )
    if values["registry.tls"] and values["cluster.wiring"] == "mirrors":
        raise ConfigError(
            f"{said('registry.tls')} needs cluster.wiring 'hosts': the legacy mirrors patch "
            f"has no place for the registry's CA ({said('cluster.wiring')})."
        )
    _check_cache(values, said)
    if values["registry.auth"] and not values["registry.username"]:
        raise ConfigError(
            f"{said('registry.auth')} needs a user: set registry.username (profile, .env or "
            "STAGINGKUB_REGISTRY_USERNAME) and STAGINGKUB_REGISTRY_PASSWORD in .env or the "
            "environment."
        )


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _choose_profile(
    flag: str | None, environ: Mapping[str, str], env_file_vars: Mapping[str, tuple[str, int]]
) -> tuple[str | None, str]:
    if flag:
        return flag, "flag --profile"
    if environ.get("STAGINGKUB_PROFILE"):
        return environ["STAGINGKUB_PROFILE"], "environment STAGINGKUB_PROFILE"
    if "STAGINGKUB_PROFILE" in env_file_vars and env_file_vars["STAGINGKUB_PROFILE"][0]:
        return env_file_vars["STAGINGKUB_PROFILE"][0], ".env STAGINGKUB_PROFILE"
    return None, ""


def _profile_path(name: str, root: Path) -> Path:
    config_dir = root / "config"
    if "/" in name or name.endswith((".yaml", ".yml")):
        candidate = Path(name)
    elif _PROFILE_NAME.fullmatch(name) and name != "defaults":
        candidate = config_dir / f"{name}.yaml"
    else:
        raise ConfigError(
            f"The profile {name!r} is not a valid profile name. Use the name of a file in "
            f"{config_dir} without '.yaml' (for example 'ci'), or a path to a .yaml file."
        )
    if not candidate.is_file():
        known = sorted(p.stem for p in config_dir.glob("*.yaml") if p.stem != "defaults")
        raise ConfigError(
            f"The profile {name!r} was asked for, but {candidate} does not exist. Known "
            f"profiles: {', '.join(known) or 'none'}. Create the file, or unset "
            "STAGINGKUB_PROFILE / drop --profile."
        )
    return candidate


def _apply_yaml(path: Path, root: Path, values: dict, sources: dict, chosen_by: str = "") -> None:
    from stagingkub.yamlfile import entries

    where = _rel(path, root)
    document = entries(path, where, root / ".stagingkub" / "cache")
    if not document["mapping"]:
        raise ConfigError(f"{where} must be a mapping of sections (registry:, cluster:, ...).")
    for section, line, kind, body in document["sections"]:
        if section not in SCHEMA:
            raise ConfigError(_unknown(f"{where}:{line}", section, list(SCHEMA)))
        if kind == "other":
            raise ConfigError(f"{where}:{line}: '{section}' must be a mapping of keys.")
        for key, key_line, raw in body:
            dotted = f"{section}.{key}"
            if key not in SCHEMA[section]:
                raise ConfigError(_unknown(f"{where}:{key_line}", dotted, all_keys()))
            if spec_for(dotted).secret and raw:
                raise ConfigError(
                    f"{where}:{key_line}: {dotted} is a secret and is never read from YAML "
                    f"files, which are committed. Remove it there and set "
                    f"{ENV_PREFIX}{dotted.replace('.', '_').upper()} in .env or the environment."
                )
            values[dotted] = _coerce_yaml(dotted, raw, f"{dotted} ({where}:{key_line})")
            sources[dotted] = f"{where}:{key_line}"
            if chosen_by:
                sources[dotted] += f" (profile from {chosen_by})"


def _unknown(where: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else f" Known keys: {', '.join(known)}."
    return f"{where}: unknown setting '{name}'.{hint}"


_TYPE_WORDS = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    dict: "a mapping",
    list: "a list",
    bool: "true or false",
}


def _coerce_yaml(dotted: str, raw: Any, what: str) -> Any:
    spec = spec_for(dotted)
    if raw is None and spec.optional:
        return ""
    wanted = spec.kind
    ok = isinstance(raw, wanted) and (wanted is bool or not isinstance(raw, bool))
    if wanted is float and isinstance(raw, int) and not isinstance(raw, bool):
        ok = True
    if not ok:
        got = "nothing" if raw is None else f"{type(raw).__name__} {raw!r}"
        hint = " (quote it in YAML)" if wanted is str else ""
        raise ConfigError(f"{what} must be {_TYPE_WORDS[wanted]}{hint}, but is {got}.")
    if wanted is dict:
        raw = {str(k): (str(v) if isinstance(v, int | float) else v) for k, v in raw.items()}
    elif wanted is list:
        raw = list(raw)
    elif wanted is str:
        raw = str(raw)
    return _checked(dotted, raw, what)


def _coerce_text(dotted: str, raw: Any, what: str) -> Any:
    """A value from .env, the environment or a flag: text to be turned into the type."""
    spec = spec_for(dotted)
    if spec.kind is bool:
        try:
            return validate_boolean(raw, what)
        except InputError as error:
            raise ConfigError(str(error)) from None
    if spec.kind is list and isinstance(raw, str):
        raw = [item.strip() for item in raw.split(",") if item.strip()]
    if spec.kind is dict and isinstance(raw, str):
        pairs = [item for item in raw.split(",") if item.strip()]
        if any("=" not in item for item in pairs):
            raise ConfigError(f"{what} must be a comma-separated list of key=value labels.")
        raw = dict(item.split("=", 1) for item in pairs)
        raw = {k.strip(): v.strip() for k, v in raw.items()}
    return _checked(dotted, raw, what)


def _checked(dotted: str, value: Any, what: str) -> Any:
    spec = spec_for(dotted)
    if spec.optional and value == "":
        return ""
    if spec.check is None:
        if isinstance(value, str) and any(ch in value for ch in "\n\r\0"):
            raise ConfigError(f"{what} must be a single line.")
        return value
    try:
        return spec.check(value, what)
    except InputError as error:
        raise ConfigError(str(error)) from None


def _read_env_file(
    environ: Mapping[str, str], root: Path
) -> tuple[dict[str, tuple[str, int]], Path]:
    path = Path(environ.get("STAGINGKUB_ENV_FILE") or root / ".env")
    if not path.is_file():
        return {}, path
    from dotenv import dotenv_values

    text = path.read_text(encoding="utf-8")
    found = {}
    for name, value in dotenv_values(stream=io.StringIO(text)).items():
        if not name.startswith(ENV_PREFIX):
            continue
        pattern = re.compile(rf"^\s*(?:export\s+)?{re.escape(name)}\s*=", re.M)
        match = pattern.search(text)
        line = text.count("\n", 0, match.start()) + 1 if match else 0
        found[name] = (value or "", line)
    return found, path


def _apply_variables(variables: Mapping[str, Any], values: dict, sources: dict, where) -> None:
    for name, entry in variables.items():
        raw, line = entry if isinstance(entry, tuple) else (entry, None)
        if name in META_VARIABLES:
            continue
        if name not in ENV_TO_KEY:
            label = where(line) if line is not None else where(name)
            raise ConfigError(_unknown(label, name, sorted(ENV_TO_KEY) + sorted(META_VARIABLES)))
        dotted = ENV_TO_KEY[name]
        label = where(line) if line is not None else where(name)
        what = f"{name} ({label})" if line is not None else label
        values[dotted] = _coerce_text(dotted, raw, what)
        sources[dotted] = label if line is None else f"{label} {name}"
