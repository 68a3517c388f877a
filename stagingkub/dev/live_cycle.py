"""The live update as a dev cycle: its lines, its fall back to the full cycle, the pods that
must get the live changes again, and the pods that must lose them (Loop calls these)."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor

from stagingkub import pipeline
from stagingkub.console import say
from stagingkub.dev.batch import summary
from stagingkub.dev.live import live_pods
from stagingkub.dev.live_rules import Changes
from stagingkub.dev.live_sync import CompileFailed, LiveFailed

RESTART_TIMEOUT = "180s"


def serve(loop, batch, inputs) -> tuple[bool, str]:
    """(True, '') when a live update served the batch (or the app does not compile: the
    same failure a build would have); (False, why) when the full cycle must run."""
    live = loop.live
    changes = Changes.between(loop.baseline.files, inputs.files)
    why = live.reason(changes) if loop.running else "nothing runs yet"
    if why:
        return False, why if live.enabled else ""
    compiling, why = _compile_while_pods_are_read(live, changes)
    if why:
        return False, why
    loop.cycles += 1
    events = f" ({batch.events} events)" if batch.events > 1 else ""
    say(f"\n-- dev cycle {loop.cycles} ({time.strftime('%H:%M:%S')}): live update of "
        f"{summary(list(changes.paths))}{events}")  # fmt: skip
    if loop.logs is not None:
        loop.logs.pause()
    loop.in_cycle = True
    try:
        timing = live.update(changes, inputs.digest, loop.running, compiling.result())
    except CompileFailed as error:
        loop._ran(batch, inputs, None)
        say(f"dev cycle {loop.cycles}: the app does not compile:\n{error}\nThe cluster "
            "still runs what it ran; waiting for the next change (fix it and save).")  # fmt: skip
        return True, ""
    except (LiveFailed, OSError, subprocess.SubprocessError) as error:  # a file gone, a hang
        return False, f"the live update could not work: {error}"
    finally:
        loop.in_cycle = False
    loop._ran(batch, inputs, None)  # the compile writes only target/, never an input
    say(f"running {loop.running} plus live changes to {live.count} files; served "
        f"{time.monotonic() - batch.first:.1f} s after the first change ({timing.line()}). "
        "Waiting for changes (Ctrl-C stops).")  # fmt: skip
    if loop.logs is not None:
        loop.logs.follow()
    return True, ""


def _compile_while_pods_are_read(live, changes: Changes) -> tuple[Future, str]:
    """The compile, run while the pods are asked whether they can take it (about 0.1 s
    each); when they cannot, the full cycle runs after it, and its result is not used."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        compiling = pool.submit(live.compile, changes)
        try:
            why = live.unsupported()
        except (LiveFailed, OSError, subprocess.SubprocessError) as error:
            why = f"the live update could not work: {error}"
    return compiling, why


def resync(loop) -> None:
    """Between cycles: a pod that replaced one holding the live changes gets them again;
    when it cannot take them, the full cycle bakes them into an image."""
    try:
        names = loop.live.resync(loop.running)
    except (LiveFailed, OSError, subprocess.SubprocessError) as error:
        say(f"dev: a new pod could not get the live changes ({error}).")
        loop.cycle(_batch(loop), loop._read_inputs(), full="a new pod lacks the live changes")
        return
    if names:
        say(f"dev: {', '.join(names)} replaced a pod: it got the live changes to "
            f"{loop.live.count} files again and is ready.")  # fmt: skip


def reset_stale(loop) -> None:
    """Pods still running live changes that no image holds (an earlier dev, or the same
    image deployed again): restarted from their image, so nothing runs stale."""
    kubectl = loop.live.kubectl
    try:
        stale = live_pods(loop.live.read_pods())
    except LiveFailed:
        return
    loop.live.baked()
    if not stale:
        return
    spec = pipeline.release_spec(loop.settings, loop.image, "")
    deployment = f"deployment/{spec.fullname}"
    say(f"dev: {', '.join(p.name for p in stale)} ran live changes that no image holds: "
        f"restarting {deployment} from its image.")  # fmt: skip
    wait = ["rollout", "status", deployment, f"--timeout={RESTART_TIMEOUT}"]
    try:
        for argv in (["rollout", "restart", deployment], wait):
            subprocess.run([*kubectl, *argv], capture_output=True, timeout=200,
                           stdin=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        say(f"dev: the restart of {deployment} did not finish ({error}); `kubectl rollout "
            f"restart {deployment}` serves the image's code.")  # fmt: skip


def _batch(loop):
    from stagingkub.dev.batch import Batch

    return Batch(loop.debounce, loop.max_wait)
