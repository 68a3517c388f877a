"""cache.* work: the mirrors created and repaired like the registry, purged, listed, reported."""

from __future__ import annotations

import re

from stagingkub.cache import stats
from stagingkub.cache.plan import Mirror, mirrors
from stagingkub.console import human_size, say
from stagingkub.docker import state as docker_state
from stagingkub.errors import StateError
from stagingkub.registry import ops as registry_ops
from stagingkub.registry.api import RegistryHTTPError
from stagingkub.registry.health import quick_ping
from stagingkub.registry.plan import PROXY_URL, data_volumes, plan_purge
from stagingkub.runner import Runner

NONE_SET = (
    "cache.mirrors is empty, so there is no pull-through cache (the guide's behaviour). "
    "`--profile cache` (config/cache.yaml) enables docker.io, ghcr.io, quay.io and "
    "registry.k8s.io; or copy its cache: section into your profile."
)


def configured(settings) -> list[Mirror]:
    """The mirrors; none configured is a clear error for the cache tasks."""
    found = mirrors(settings)
    if not found:
        raise StateError(NONE_SET)
    return found


def ensure_all(runner: Runner, found: list[Mirror], *, recreate: bool = False, engine=None,
               assume_absent: bool = False) -> None:  # fmt: skip
    """cache.create: every mirror exists, runs, is healthy and is on the kind network; each
    port is checked before anything is started, so a taken port changes nothing."""
    engine = engine or docker_state.client()
    states = {m.registry.name: docker_state.container(engine, m.registry.name) for m in found}
    for mirror in found:
        current = states[mirror.registry.name]
        if current is None or not current.running or recreate:
            registry_ops.check_port_free(engine, mirror.registry, own=current)
        if not runner.dry and not mirror.registry.offline:
            refuse_unreachable(engine, mirror, current)
    for mirror in found:
        switch = _mode_switch(mirror, states[mirror.registry.name])
        try:
            registry_ops.ensure(runner, mirror.registry, recreate=recreate or switch,
                                engine=engine, assume_absent=assume_absent)  # fmt: skip
        except StateError:
            if not runner.dry:
                refuse_unreachable(
                    engine, mirror, docker_state.container(engine, mirror.registry.name)
                )
            raise


def _mode_switch(mirror: Mirror, state) -> bool:
    """A mirror going offline or back online (cache.offline): replaced, its data kept."""
    if state is None:
        return False
    proxy = any(item.startswith(PROXY_URL + "=") for item in state.env)
    return proxy == mirror.registry.offline


UPSTREAM_PANIC = re.compile(r"panic: (Get \S+/v2/\S*: .*)")


def refuse_unreachable(engine, mirror: Mirror, state) -> None:
    """A mirror that exits at start-up because its upstream does not answer: distribution's
    proxy asks the upstream's /v2/ before it serves anything (registry:2 and :3 alike)."""
    if state is None or state.status not in ("restarting", "exited"):
        return
    logs = engine.logs(mirror.registry.name, tail=60)
    found = UPSTREAM_PANIC.findall(logs)
    if not found or logs.rfind("listening on") > logs.rfind("panic: Get"):
        return  # it started after that (the upstream came up a moment later)
    raise StateError(
        f"The mirror {mirror.registry.name} cannot start: a pull-through cache asks its "
        f"upstream {mirror.remote_url} at start-up, and it does not answer ({found[-1]}). "
        "Without the network, serve what the caches hold: set STAGINGKUB_CACHE_OFFLINE=true "
        "(or cache.offline: true in your profile; `invoke cache.create --offline` for one "
        "run) and re-run; the nodes pull through them as before. Back online, unset it and "
        "run `invoke cache.create`."
    )


def purge(runner: Runner, found: list[Mirror], *, yes: bool, asker=None) -> None:
    """Delete every mirror and its cached images, then start them again, empty."""
    engine = docker_state.client()
    existing = engine.volume_names()
    plans = []
    for mirror in found:
        state = docker_state.container(engine, mirror.registry.name)
        plans.append(plan_purge(mirror.registry, state,
                                data_volumes(mirror.registry, state, existing)))  # fmt: skip
    say(describe_loss(engine, found, existing))
    if not yes and not runner.dry:
        (asker or ask)("Delete the mirrors and everything they cached?")
    for plan in plans:
        for argv in plan.commands:
            runner.run(argv)
    ensure_all(runner, found, engine=engine, assume_absent=runner.dry)


def describe_loss(engine, found: list[Mirror], existing: set[str]) -> str:
    df = engine.df()
    parts = []
    for mirror in found:
        volume = mirror.registry.volume
        if volume in existing:
            size = docker_state.volume_size(engine, volume, df)
            shown = human_size(size) if size is not None else "size unknown"
            parts.append(f"{mirror.upstream} ({volume}: {shown})")
    if not parts:
        return "cache.purge: the mirrors hold nothing yet (no cache volumes)."
    return ("cache.purge will delete the cached images of " + ", ".join(parts) + "; the next "
            "pulls go to the upstreams again (and need the network).")  # fmt: skip


def ask(question: str) -> bool:
    from stagingkub.console import confirm

    confirm(
        question,
        "cache.purge deletes every mirror's cached images and needs confirmation, but stdin is "
        "not a terminal. Nothing was deleted. Pass --yes to confirm (`invoke cache.purge --yes`).",
    )
    return True


def status(found: list[Mirror], engine=None) -> tuple[list[tuple[str, str]], bool]:
    """(rows, healthy) for cache.status: per mirror its state, health, bytes and counters,
    and whether the host's Docker uses the docker.io mirror."""
    engine = engine or docker_state.client()
    df = engine.df()
    rows, healthy = [], True
    for mirror in found:
        line, ok = mirror_line(engine, mirror, df)
        rows.append((f"cache {mirror.upstream}", line))
        healthy = healthy and ok
    hub = stats.docker_hub_mirror(found)
    if hub is not None:
        uses = stats.daemon_uses(engine.info(), hub)
        rows.append(("host docker", "pulls Docker Hub through " + hub.registry.name if uses else
                     "pulls Docker Hub directly (`invoke diag.cache` prints the daemon.json "
                     "lines)"))  # fmt: skip
    return rows, healthy


def mirror_line(engine, mirror: Mirror, df: dict) -> tuple[str, bool]:
    spec = mirror.registry
    state = docker_state.container(engine, spec.name)
    if state is None:
        return f"{spec.name}: absent (run `invoke cache.create`)", False
    if not state.running:
        return f"{spec.name}: {state.status} (`invoke cache.create` starts it)", False
    ok, seen = quick_ping(spec.url)
    size = docker_state.volume_size(engine, spec.volume, df)
    shown = human_size(size) if size is not None else "size unknown"
    counted = stats.counters(spec.bind_address, state.debug_port)
    numbers = counted.shown() if counted else "counters unavailable (debug server not answering)"
    network = "" if spec.network in state.networks else f", NOT on the {spec.network} network"
    return (f"{spec.name} at {spec.url} -> {mirror.remote_url}: "
            f"{'healthy' if ok else 'UNHEALTHY (' + seen + ')'}{network}; {shown} stored; "
            f"{numbers}", ok and not network)  # fmt: skip


def ls_table(found: list[Mirror]) -> tuple[list[tuple[str, ...]], str]:
    """cache.ls: what each mirror holds (its own storage, not the upstream's tag lists)."""
    engine = docker_state.client()
    rows, summary = [], []
    for mirror in found:
        if docker_state.container(engine, mirror.registry.name) is None:
            summary.append(f"{mirror.upstream}: no mirror (run `invoke cache.create`)")
            continue
        held = stats.holdings(engine.read_tree(mirror.registry.name, stats.REPOSITORIES))
        for repository in held:
            size = _stored(mirror, repository.repository, repository.layers)
            for tag, digest in (repository.tags or {"(no tag)": ""}).items():
                rows.append((mirror.upstream, repository.repository, tag, digest[:19], size))
        tags = sum(len(r.tags) for r in held)
        summary.append(f"{mirror.upstream}: {len(held)} repositories, {tags} tags")
    return rows, "; ".join(summary)


def _stored(mirror: Mirror, repository: str, layers: tuple[str, ...]) -> str:
    """Bytes of a repository's cached blobs, by HEAD on the mirror (local: no upstream)."""
    if not layers:
        return "-"
    total = 0
    try:
        with mirror.registry.api(5.0) as api:
            for digest in layers:
                status, headers, _ = api.request("HEAD", f"/v2/{repository}/blobs/{digest}")
                total += int(headers.get("Content-Length") or 0) if status == 200 else 0
    except RegistryHTTPError:
        return "unknown"
    return human_size(total)


def warm_all(runner: Runner, settings, found: list[Mirror], chart_images: list[str]) -> None:
    """cache.warm: the chart's images and cache.warm_images through the running mirrors;
    a summary of what was pulled, skipped and not pulled (StateError when any failed).
    Under --dry, the `docker pull` through each mirror that does the same, and nothing else."""
    from stagingkub.cache import warm

    engine = docker_state.client()
    down = [
        m.registry.name
        for m in found
        if not (s := docker_state.container(engine, m.registry.name)) or not s.running
    ]
    images = list(dict.fromkeys([*chart_images, *settings.cache.warm_images]))
    if runner.dry:
        return warm.print_pulls(runner, found, images)
    if down:
        raise StateError(f"The mirrors {', '.join(down)} do not run: `invoke cache.create` "
                         "starts them; then re-run cache.warm. Nothing was pulled.")  # fmt: skip
    outcome = warm.warm(found, images)
    for line in outcome.skipped:
        say(f"skipped {line}: it is not pulled through a cache")
    say(f"cache.warm: {len(outcome.pulled)} pulled, {len(outcome.skipped)} skipped, "
        f"{len(outcome.failed)} could not be pulled.")  # fmt: skip
    if outcome.failed:
        raise StateError(
            "cache.warm could not pull " + "; ".join(outcome.failed) + ". The mirrors need the "
            "upstream once for each image: check the network (or the Docker Hub credentials) "
            "and the image names, then re-run."
        )
