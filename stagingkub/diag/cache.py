"""diag.cache: are the pull-through caches up, what do they serve, and does the host's
Docker use the docker.io one (the tool never edits daemon.json: it prints the lines)."""

from __future__ import annotations

from stagingkub.cache import ops as cache_ops
from stagingkub.cache import stats
from stagingkub.cache.plan import mirrors
from stagingkub.diag.engine import FAIL, OK, WARN, Probe, Result
from stagingkub.diag.host import docker_df, engine


def no_mirrors(settings) -> str:
    return "" if settings.cache.mirrors else cache_ops.NONE_SET


def check_cache(probe: Probe) -> Result:
    found = mirrors(probe.settings)
    client = engine(probe)
    evidence, down = [], []
    for mirror in found:
        line, ok = cache_ops.mirror_line(client, mirror, docker_df(probe))
        evidence.append(f"{mirror.upstream}: {line}")
        if not ok:
            down.append(mirror.registry.name)
    if down:
        return Result("cache", FAIL, f"{', '.join(down)} not serving", evidence,
                      fix="`invoke cache.create` starts and repairs the mirrors; "
                      "`invoke cache.status` shows each one")  # fmt: skip
    hub = stats.docker_hub_mirror(found)
    summary = f"{len(found)} mirror(s) healthy"
    if hub is None:
        return Result("cache", OK, summary, evidence)
    if stats.daemon_uses(client.info(), hub):
        evidence.append(f"host Docker: registry-mirrors has {hub.registry.name}")
        return Result("cache", OK, summary + "; the host's Docker uses the docker.io one", evidence)
    evidence.append(
        "host Docker: no registry-mirrors entry for the docker.io mirror, so Spring Boot's "
        "builder and `docker build` pull Docker Hub directly"
    )
    return Result(
        "cache", WARN, summary + "; the host's Docker does not use the docker.io one", evidence,
        fix="add to /etc/docker/daemon.json (rootless: ~/.config/docker/daemon.json), merged "
        "with what it has:\n" + stats.daemon_lines(hub) + "\nthen restart Docker "
        "(`sudo systemctl restart docker`; containers with --restart=always come back)",
    )  # fmt: skip
