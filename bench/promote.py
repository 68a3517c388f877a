"""bench scenario: image.promote of a one-layer image (500 MiB at full size) from the stand-in
stack's local registry to a TLS + htpasswd registry on 127.0.0.2, against `skopeo copy --all
--preserve-digests` of the same image in the same run (alternating, each to a repository of
its own, so each copy is whole); the tool's peak RSS (os.wait4); a repeated promote (nothing
to send) against `invoke --list`."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.integration.test_external_profile import HOST, PASSWORD, external_registry
from tests.support.stack import Stack, docker

ROOT = Path(__file__).resolve().parent.parent
VERSION = "9.0.0"


def timed(argv: list[str], env: dict) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of one run, which must succeed."""
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {argv[:4]} failed: {process.stderr.read().decode()[-800:]}")
    return seconds, usage.ru_maxrss * 1024


def big_image(stack: Stack, size: int) -> str:
    """<app>:9.0.0 with one layer of `size` random bytes, pushed to the local registry."""
    reference = f"localhost:{stack.port}/{stack.base['image']['name']}:{VERSION}"
    with tempfile.TemporaryDirectory() as context:
        with open(Path(context, "layer"), "wb") as handle:
            for _ in range(size >> 20 or 1):
                handle.write(os.urandom(1 << 20))
        Path(context, "Dockerfile").write_text("FROM scratch\nCOPY layer /layer\n")
        docker("build", "-q", *stack.label_args(), "-t", reference, context, timeout=600)
    docker("push", reference, timeout=600)
    return reference


_MADE: list[Path] = []  # folders the run made outside its stack, removed at its end


def _readable_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="stagingkub-bench-"))
    folder.chmod(0o755)
    _MADE.append(folder)
    return folder


def _fresh_skopeo() -> list[str]:
    """skopeo with an empty blob-location cache: as root it keeps one in /var/lib/containers
    and mounts a layer it copied before from that repository instead of copying it again,
    which would time a mount, not a copy. Unprivileged, it keeps it under XDG_DATA_HOME: a
    new folder each run (and the host's cache is left alone)."""
    home = _readable_dir()
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env",
            f"HOME={home}", f"XDG_DATA_HOME={home}", "skopeo"]  # fmt: skip


def target_profile(stack: Stack, ext: Stack, name: str) -> Path:
    path = stack.tmp / f"target-{name}.yaml"
    path.write_text(
        f"registry:\n  mode: external\n  host: '{HOST}'\n  port: {ext.port}\n  project: team\n"
        f"  username: ci\n  ca_file: '{ext.ca}'\ncluster:\n  name: {stack.cluster}\n"
        f"  files_dir: '{stack.files_dir}'\nimage:\n  name: {name}\n"
    )
    return path


def promote_rows(stack: Stack, size: int, reps: int, row, env: dict) -> list:
    ext = external_registry(stack.tmp / "promote-target", stack.image, HOST)
    try:
        source = big_image(stack, size)
        env = {**env, "STAGINGKUB_PROMOTE_PASSWORD": PASSWORD}  # the target's own login
        certs = _readable_dir()  # the CA alone (skopeo reads *.key as client keys)
        (certs / "ca.crt").write_bytes(ext.ca.read_bytes())
        (certs / "ca.crt").chmod(0o644)
        ours, theirs, peaks = [], [], []
        for rep in range(reps):
            argv = [sys.executable, "-m", "invoke", "image.promote", "--version", VERSION, "--to",
                    str(target_profile(stack, ext, f"promo-{rep}")), "--unverified"]  # fmt: skip
            seconds, peak = timed(argv, env)
            ours.append(seconds)
            peaks.append(peak)
            theirs.append(timed([*_fresh_skopeo(), "copy", "--all", "--preserve-digests",
                                 "--src-tls-verify=false", f"--dest-cert-dir={certs}",
                                 f"--dest-creds=ci:{PASSWORD}", f"docker://{source}",
                                 f"docker://{HOST}:{ext.port}/team/skopeo-{rep}:{VERSION}"],
                                env)[0])  # fmt: skip
        again = [timed(argv, env)[0] for _ in range(reps)]  # the last target holds it all
        start = statistics.median(
            timed([sys.executable, "-m", "invoke", "--list"], env)[0] for _ in range(reps)
        )
        return _rows(row, size, ours, theirs, max(peaks), statistics.median(again), start)
    finally:
        ext.cleanup()
        for folder in _MADE:
            shutil.rmtree(folder, ignore_errors=True)


def _rows(row, size, ours, theirs, peak, again, start) -> list:
    mine, skopeo = statistics.median(ours), statistics.median(theirs)
    mib = size >> 20
    return [
        row(f"image.promote of a {mib} MiB layer vs skopeo copy --all --preserve-digests", mine,
            skopeo, mine / skopeo, "<= 1.2x skopeo", mine <= 1.2 * skopeo,
            f"TLS + htpasswd target on {HOST}"),
        row(f"image.promote peak RSS ({mib} MiB layer), MiB", peak / (1 << 20), None, None,
            "< 100 MiB", peak < 100 << 20, f"{peak / (1 << 20):.1f} MiB"),
        row("repeated image.promote (everything there)", again, start, again / start,
            "<= start-up + 0.3 s", again - start <= 0.3, f"overhead {again - start:+.3f} s"),
    ]  # fmt: skip
