"""Pull-through caches of public registries (docker.io, ghcr.io, quay.io, registry.k8s.io)
for the kind nodes: no Docker Hub rate limits, and a cluster re-created offline."""

from invoke import Collection

from stagingkub.cli import command_runner, load_settings, print_status, task


def _mirrors(profile, offline=False):
    from stagingkub.cache import ops as cache_ops

    flag = "true" if offline else None  # without --offline, cache.offline from the settings
    settings = load_settings(profile, **{"cache.offline": (flag, "--offline")})
    return settings, cache_ops.configured(settings)


@task(help={"recreate": "Replace a mirror whose image, port, upstream or login differ from "
            "the settings (its cached data is kept).",
            "offline": "Serve what the mirrors hold, read-only, without their upstreams "
            "(cache.offline; for when there is no network)."})  # fmt: skip
def create(c, recreate=False, offline=False, profile=None):
    """Create or repair the pull-through caches (one proxy registry per upstream; idempotent).

    Each mirror runs, answers, is published on loopback only and sits on the kind network.
    """
    from stagingkub.cache import ops as cache_ops

    settings, found = _mirrors(profile, offline)
    cache_ops.ensure_all(command_runner(c, settings), found, recreate=recreate)


@task
def status(c, profile=None):
    """Each mirror's health, bytes stored and hits/misses; exit 1 unless all are healthy.

    Also says whether the host's Docker pulls Docker Hub through the docker.io mirror.
    """
    from stagingkub.cache import ops as cache_ops

    print_status(*cache_ops.status(_mirrors(profile)[1]))


@task
def ls(c, profile=None):
    """What each mirror holds: repositories, tags, digests and cached bytes.

    Read from the mirror's own storage, never from the upstream's tag lists.
    """
    from stagingkub.cache import ops as cache_ops
    from stagingkub.console import print_table

    rows, footer = cache_ops.ls_table(_mirrors(profile)[1])
    print_table([("UPSTREAM", "REPOSITORY", "TAG", "DIGEST", "CACHED"), *rows])
    print(footer)


@task(help={"yes": "Confirm deleting every mirror's cached images (required off a terminal)."})
def purge(c, yes=False, profile=None):
    """Delete the mirrors and ALL they cached, then start them empty (asks, or --yes).

    The registry, its images and the cluster are not touched.
    """
    from stagingkub.cache import ops as cache_ops

    settings, found = _mirrors(profile)
    cache_ops.purge(command_runner(c, settings), found, yes=yes)


@task(help={"version": "App version for `helm template` (default: image.version, else "
            "'latest'); the app's own image is the registry's, not a mirror's."})  # fmt: skip
def warm(c, version="", profile=None):
    """Pull the chart's images and cache.warm_images through the mirrors (offline next time).

    The chart's images come from `helm template` with the deploy's values. It says what it
    pulled and what it could not (then exit 1).
    """
    from stagingkub import validate
    from stagingkub.cache import ops as cache_ops
    from stagingkub.release.chart import chart_images

    if version:
        validate.tag(version, "--version")
    settings, found = _mirrors(profile)
    images = chart_images(settings, version or settings.image.version or "latest")
    cache_ops.warm_all(command_runner(c, settings), settings, found, images)


ns = Collection("cache", create, status, ls, purge, warm)
