"""Registry tasks' work: read state, plan, run, check. Used by tasks/registry.py."""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable

from stagingkub import ports
from stagingkub.console import confirm, human_size, say
from stagingkub.docker import state as docker_state
from stagingkub.errors import StateError
from stagingkub.registry.api import RegistryHTTPError
from stagingkub.registry.health import quick_ping
from stagingkub.registry.health import wait_healthy as wait_for_registry
from stagingkub.registry.plan import (
    PROXY_SECRETS,
    RegistrySpec,
    data_volumes,
    plan_create,
    plan_purge,
)
from stagingkub.runner import Runner
from stagingkub.waiting import poll, shell_wait


def ensure(
    runner: Runner,
    spec: RegistrySpec,
    *,
    recreate: bool = False,
    engine=None,
    assume_absent: bool = False,
) -> None:
    """registry.create: the registry exists, runs, is healthy and is on the kind network.

    assume_absent plans as if container and volume were gone (purge under --dry).
    """
    engine = engine or docker_state.client()
    renewed = _tls_ops().prepare(runner, spec) if spec.secure else []
    current = docker_state.container(engine, spec.name)
    network = docker_state.network_exists(engine, spec.network)
    plan = _plan(engine, spec, current, network, recreate=recreate, assume_absent=assume_absent)
    if plan.needs_port:
        check_port_free(engine, spec, own=current)
    _carry_out(runner, engine, spec, plan.commands)
    if renewed and current is not None and current.running and not plan.starts:
        runner.run(["docker", "restart", spec.name])  # it reads certificates and htpasswd at start
        plan.starts = True
        plan.changes.append("restarted it to load the new " + " and ".join(renewed))
    wait_healthy(runner, spec, plan.starts)
    _unfinished_gc(runner, spec)
    if spec.tls:
        _tls_ops().trust_on_host(runner, spec)
    if not plan.commands and not renewed:
        runner.note(
            f"{_title(spec)} is up to date: running, healthy at {spec.url}"
            + _network_words(network, spec)
            + ". Nothing to do."
        )
    elif not runner.dry:
        say(f"{_title(spec)}: " + "; ".join(plan.changes) + f". Healthy at {spec.url}.")


def _title(spec: RegistrySpec) -> str:
    return (
        f"Mirror {spec.name} (of {spec.proxy_url})" if spec.proxy_url else f"Registry {spec.name}"
    )


def _carry_out(runner: Runner, engine, spec: RegistrySpec, commands: list[list[str]]) -> None:
    """The plan's commands; `docker run` of a mirror takes the upstream login from its
    environment (a --dry script exports it from the settings' variables first)."""
    for argv in commands:
        env = spec.run_env if argv[:2] == ["docker", "run"] else {}
        if env and runner.dry:
            user, password = spec.credentials_from
            runner.script(f'export {PROXY_SECRETS[0]}="${user}" {PROXY_SECRETS[1]}="${password}"')
        result = runner.run(argv, warn=True, env=env or None)
        if result.exited != 0:
            _tolerate_concurrent_create(engine, spec, argv, result)


def _unfinished_gc(runner: Runner, spec: RegistrySpec) -> None:
    if spec.gc_marker.exists():
        runner.note(
            f"The last registry.gc of {spec.name} did not finish (interrupted between stop "
            "and start, or before its check): `invoke registry.gc` checks every tag first."
        )


def _plan(engine, spec: RegistrySpec, current, network: bool, *, recreate: bool,
          assume_absent: bool):  # fmt: skip
    """The create plan from the state read (or, for purge under --dry, as if it were gone)."""
    mounted = current is not None and current.data_volume == spec.volume  # so it exists
    volume = not assume_absent and (mounted or docker_state.volume_exists(engine, spec.volume))
    state = None if assume_absent else current
    return plan_create(spec, state, network_exists=network, volume_exists=volume,
                       recreate=recreate)  # fmt: skip


def _tls_ops():
    """tls_ops (and cryptography, bcrypt behind it) load only for registry.tls/auth."""
    from stagingkub.registry import tls_ops

    return tls_ops


def _network_words(network_exists: bool, spec: RegistrySpec) -> str:
    if network_exists:
        return f", on the {spec.network} network"
    return f" (no {spec.network} network yet: cluster.create will connect it)"


def _tolerate_concurrent_create(engine, spec: RegistrySpec, argv: list[str], result) -> None:
    """Another run (a parallel Jenkins job) may have done the same step a moment earlier:
    when what the step was for now holds, that is success; otherwise the failure stands."""
    from stagingkub.errors import CommandFailed
    from stagingkub.registry.plan import drift

    def done() -> bool:
        state = docker_state.container(engine, spec.name)
        return {
            "run": state is not None and not drift(spec, state),
            "start": state is not None and state.running,
            "network": state is not None and spec.network in state.networks,
            "volume": docker_state.volume_exists(engine, spec.volume),
        }.get(argv[1], False)

    # the other run may still be creating or starting it: up to 15 s, when there are signs
    # of one (a failure of our own, a missing image say, is reported at once)
    waits = _racing(engine, spec, argv, result.stderr or "")
    if not poll(done, seconds=15 if waits else 0, every=0.2):
        raise CommandFailed(shlex.join(argv), result.exited, result.stderr)
    say(f"`{shlex.join(argv)}` was already done by another run at the same time; going on.")


def _racing(engine, spec: RegistrySpec, argv: list[str], stderr: str) -> bool:
    """Signs that another run is doing the same step: docker says the name is taken or the
    step already done (the engine reserves a name before the container can be inspected),
    or the container exists after our `docker run` failed."""
    words = stderr.lower()
    if argv[1] == "run":
        return "already in use" in words or docker_state.container(engine, spec.name) is not None
    return argv[1] in ("start", "network") and "already" in words and "allocated" not in words


def check_port_free(engine, spec: RegistrySpec, own=None) -> None:
    """Fail before `docker run` when the host port is taken, naming the holder.

    `own` is our registry container as it is now: the port it holds is about to be freed.
    """
    holders = docker_state.containers_publishing(engine, spec.port, exclude=spec.name)
    own_holds = (
        own is not None
        and own.running
        and any(port == str(spec.port) for _, port in own.port_bindings)
    )
    if not holders and not own_holds and ports.port_in_use(spec.bind_address, spec.port):
        process = ports.process_holding(spec.port)
        holders = [process or f"another process (find it with {ports.holder_hint(spec.port)})"]
    if holders:
        raise StateError(
            f"Port {spec.port} on {spec.bind_address} is already in use by "
            + ", ".join(holders)
            + "."
            + ports.holder_advice(" ".join(holders))
            + " Stop that, or choose another port for the registry: set registry.port in "
            "a profile, STAGINGKUB_REGISTRY_PORT in .env, or pass --port (image names then "
            "become localhost:<port>/...). Nothing was changed."
        )


def wait_healthy(runner: Runner, spec: RegistrySpec, started: bool) -> None:
    if runner.dry:
        if started:
            runner.script(wait_script(spec.url, spec.health_timeout, spec.cafile))
        return
    wait_for_registry(
        spec.url, spec.health_timeout, cafile=spec.cafile, progress_every=runner.progress_every
    )


def wait_script(url: str, timeout: float, cafile: str | None = None) -> str:
    """The --dry script's wait: a bounded shell loop until GET /v2/ answers 200 (or 401 from
    a registry with logins), failing the script when it does not within the timeout."""
    seconds = max(1, math.ceil(timeout))
    curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2"]
    if cafile:
        curl += ["--cacert", cafile]
    probe = shlex.join([*curl, f"{url}/v2/"])
    answered = f'case "$({probe} || true)" in 200|401) true ;; *) false ;; esac'
    return shell_wait(answered, seconds, f"stagingkub: the registry at {url}/v2/ did not "
                      f"answer within {seconds} s")  # fmt: skip


def start(runner: Runner, spec: RegistrySpec) -> None:
    engine = docker_state.client()
    state = _existing(engine, spec)
    if state.running and state.status != "paused":
        say(f"Registry {spec.name} is already running.")
    else:
        check_port_free(engine, spec, own=state)
        runner.run(["docker", "start", spec.name])
    wait_healthy(runner, spec, started=True)


def stop(runner: Runner, spec: RegistrySpec) -> None:
    state = _existing(docker_state.client(), spec)
    if not state.running:
        say(f"Registry {spec.name} is already stopped ({state.status}).")
        return
    runner.run(["docker", "stop", spec.name])


def restart(runner: Runner, spec: RegistrySpec) -> None:
    _existing(docker_state.client(), spec)
    runner.run(["docker", "restart", spec.name])
    wait_healthy(runner, spec, started=True)


def logs(runner: Runner, spec: RegistrySpec, *, follow: bool, tail: str) -> None:
    _existing(docker_state.client(), spec)
    argv = ["docker", "logs"]
    if follow:
        argv.append("--follow")
    if tail:
        argv += ["--tail", tail]
    runner.run([*argv, spec.name])


def _existing(engine, spec: RegistrySpec):
    state = docker_state.container(engine, spec.name)
    if state is None:
        raise StateError(
            f"There is no registry container named {spec.name!r}. Create it with "
            "`invoke registry.create` (or check registry.name with `invoke diag.config`)."
        )
    return state


def require_local(settings, task: str) -> RegistrySpec:
    """The local registry's spec; an external registry is refused with what to use instead."""
    if settings.registry.mode != "local":
        raise StateError(
            f"{task} works on the local registry container; registry.mode is 'external' "
            f"({settings.sources['registry.mode']}). An external registry is run by its own "
            "tools: its UI or API lists images, and it has its own retention and garbage "
            "collection (Harbor: tag retention and GC in the project; ECR: lifecycle policies)."
        )
    return RegistrySpec.from_settings(settings)


def running_registry(engine, spec: RegistrySpec):
    """The registry's state; it must exist and run (prune and gc talk to it)."""
    state = _existing(engine, spec)
    if not state.running:
        raise StateError(
            f"The registry {spec.name} is {state.status}; start it with "
            "`invoke registry.start` and re-run."
        )
    return state


def status(spec: RegistrySpec) -> tuple[list[tuple[str, str]], bool]:
    """(rows of label and value, healthy) for registry.status."""
    engine = docker_state.client()
    state = docker_state.container(engine, spec.name)
    if state is None:
        return [("container", f"{spec.name}: absent (run `invoke registry.create`)")], False
    healthy, seen = False, "not checked (container not running)"
    if state.running:
        healthy, seen = quick_ping(spec.url, cafile=spec.cafile)
    bindings = ", ".join(f"{ip or '0.0.0.0'}:{port}" for ip, port in state.port_bindings)
    size = docker_state.volume_size(engine, state.data_volume) if state.data_volume else None
    rows = [
        ("container", f"{spec.name} ({state.id[:12]})"),
        ("state", f"{state.status}, started {state.started_at[:19].replace('T', ' ')} UTC"),
        ("health", f"{'healthy' if healthy else 'unhealthy'}: GET {spec.url}/v2/ -> {seen}"),
        ("port", (bindings or "not published") + " -> 5000/tcp"),
        ("networks", ", ".join(state.networks) or "none"),
        ("image", state.image),
        ("volume", state.data_volume or "none (data lives in the container)"),
        ("disk use", human_size(size) if size is not None else "unknown"),
        ("restart", state.restart_policy or "no"),
        (
            "managed",
            "yes"
            if state.labels.get(docker_state.MANAGED_LABEL)
            else "no (not created by stagingkub)",
        ),
    ]
    return rows, healthy


def purge(
    runner: Runner, spec: RegistrySpec, *, yes: bool, asker: Callable[[str], bool] | None = None
) -> None:
    """Stop, remove, delete the data, recreate, reconnect: only after --yes or a typed 'yes'."""
    engine = docker_state.client()
    state = docker_state.container(engine, spec.name)
    existing = engine.volume_names()
    volumes = data_volumes(spec, state, existing)
    say(describe_loss(engine, spec, state, volumes))
    if not yes and not runner.dry:
        (asker or ask)(f"Delete {spec.name} and its data for good?")
    for argv in plan_purge(spec, state, volumes).commands:
        runner.run(argv)
    ensure(runner, spec, engine=engine, assume_absent=runner.dry)


def describe_loss(engine, spec: RegistrySpec, state, volumes: list[str]) -> str:
    """What purge deletes: repositories, tags and bytes, as far as they can be read."""
    parts = []
    if state is not None and state.running:
        try:
            with spec.api(5.0) as api:
                usage = api.usage()
            parts.append(
                f"{usage.repositories} repositories, {usage.tags} tags, "
                f"{human_size(usage.unique_bytes)} of image data"
            )
        except (RegistryHTTPError, ValueError, KeyError) as error:
            # a broken registry is often why people purge: say what cannot be read, go on
            parts.append(f"contents unknown (registry API: {type(error).__name__})")
    elif state is not None:
        parts.append("contents unknown (registry stopped)")
    for volume in volumes:
        size = docker_state.volume_size(engine, volume)
        parts.append(f"volume {volume}: {human_size(size) if size is not None else 'size unknown'}")
    if not parts:
        return f"Nothing to delete: no container {spec.name!r} and no volume {spec.volume!r}."
    return f"registry.purge will delete {spec.name!r} and its data: " + "; ".join(parts) + "."


def ask(question: str) -> bool:
    """Ask on a terminal; refuse when stdin is not one (Jenkins, pipes)."""
    confirm(
        question,
        "registry.purge deletes the registry's data and needs confirmation, but stdin "
        "is not a terminal. Nothing was deleted. Pass --yes to confirm (in Jenkins: "
        "`invoke registry.purge --yes`).",
    )
    return True


def ls_table(spec: RegistrySpec) -> tuple[list[tuple[str, str, str, str]], str]:
    """registry.ls: rows of repository, tag, digest, size; and a footer with shared bytes."""
    try:
        with spec.api(10.0) as api:
            tags = api.all_tags()
    except RegistryHTTPError as error:
        raise StateError(
            f"Cannot list the registry at {spec.url}: {error} `invoke registry.status` "
            "tells whether it runs."
        ) from None
    tags.sort(key=lambda t: (t.repository, t.tag))
    rows = [(t.repository, t.tag, t.digest, human_size(t.size)) for t in tags]
    unique: dict[str, int] = {}
    for info in tags:
        unique.update(info.blobs)
    repositories = len({t.repository for t in tags})
    footer = (
        f"{repositories} repositories, {len(tags)} tags; {human_size(sum(unique.values()))} "
        f"stored (each shared layer once), {human_size(sum(t.size for t in tags))} as listed"
    )
    return rows, footer
