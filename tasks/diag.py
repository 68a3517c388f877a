"""Diagnostics: each task answers one question about the staging setup, with the fix."""

from invoke import Collection, Exit

from stagingkub.cli import load_settings, task

VERSION_HELP = "Image tag to look for (images, pull), e.g. 1.1.0-SNAPSHOT."


def _report(c, name, profile, version=""):
    from stagingkub import validate
    from stagingkub.diag import checklist as diag
    from stagingkub.diag.engine import render_text

    if version:
        validate.tag(version, "--version")
    result = diag.one(load_settings(profile), name, version, dry=bool(c.config.run.dry))
    print(render_text([result]))
    if result.verdict == "fail":
        raise Exit(code=1)


@task
def config(c, profile=None):
    """Print the effective settings and where each value came from (secrets masked)."""
    settings = load_settings(profile)
    rows = settings.rows()
    title = f"profile: {settings.profile}" if settings.profile else "profile: (none)"
    print(title)
    key_width = max(len(key) for key, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    for key, value, source in rows:
        print(f"{key.ljust(key_width)}  {value.ljust(value_width)}  {source}")


@task
def tools(c, profile=None):
    """Which tools the tasks need are here, their versions, and how to install the rest."""
    _report(c, "tools", profile)


@task
def docker(c, profile=None):
    """Is the Docker engine reachable: versions and disk use."""
    _report(c, "docker", profile)


@task
def registry(c, profile=None):
    """Is the registry running, answering /v2/, bound to loopback; who holds its port."""
    _report(c, "registry", profile)


@task
def network(c, profile=None):
    """Is the registry on the kind network, and does every node reach it by name."""
    _report(c, "network", profile)


@task
def containerd(c, profile=None):
    """Is every node's containerd wired to the registry (config_path, hosts.toml)."""
    _report(c, "containerd", profile)


@task(help={"version": VERSION_HELP})
def images(c, version="", profile=None):
    """Catalog, tags, and the version's manifest digest and size in the registry."""
    _report(c, "images", profile, version)


@task(help={"version": VERSION_HELP})
def pull(c, version="", profile=None):
    """Pull the app image from inside a node (crictl, else ctr) and show the exact error."""
    _report(c, "pull", profile, version)


@task
def k8s(c, profile=None):
    """The release's pods, recent events, describe and logs of pods that are not ready."""
    _report(c, "k8s", profile)


@task
def disk(c, profile=None):
    """Registry volume size, shared-layer storage, free disk."""
    _report(c, "disk", profile)


@task
def insecure(c, profile=None):
    """For a non-local registry: does the Docker daemon trust it (insecure-registries/certs.d)."""
    _report(c, "insecure", profile)


@task
def cache(c, profile=None):
    """Are the pull-through caches healthy, and does the host's Docker use the docker.io one.

    Shows bytes stored and hits/misses; prints the daemon.json lines, never edits it.
    """
    _report(c, "cache", profile)


@task(
    name="all",
    help={
        "version": VERSION_HELP,
        "format": "Output: text (a table) or json.",
        "junit": "Also write a JUnit XML report to this path (Jenkins' junit step).",
    },
)
def all_checks(c, version="", format="text", junit="", profile=None):
    """Every check at once, each bounded by diag.timeout; exit 1 if anything failed."""
    from pathlib import Path

    from stagingkub import validate
    from stagingkub.diag import checklist as diag
    from stagingkub.diag.engine import render_json, render_junit, render_text
    from stagingkub.errors import InputError

    if format not in ("text", "json"):
        raise InputError(f"--format is {format!r}; use text or json.")
    if version:
        validate.tag(version, "--version")
    results = diag.everything(load_settings(profile), version, dry=bool(c.config.run.dry))
    print(render_json(results) if format == "json" else render_text(results))
    if junit:
        path = Path(junit)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_junit(results), encoding="utf-8")
    if diag.failed(results):
        raise Exit(code=1)


ns = Collection(
    "diag", all_checks, config, tools, docker, registry, network, containerd, images, pull,
    k8s, disk, insecure, cache,
)  # fmt: skip
