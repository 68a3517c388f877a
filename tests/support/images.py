"""Images the integration tests need, built locally when they cannot be pulled.

These machines reach no image registry, so `registry:2` is rebuilt FROM scratch
around Debian's docker-registry binary (the same CNCF distribution code).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
# The official image's config.yml (distribution/distribution-library-image, the file
# registry:2 ships at /etc/docker/registry/config.yml and registry:3 at
# /etc/distribution/config.yml), unchanged: the in-memory blob descriptor cache answers
# HEADs for blobs it has seen, and the health section probes the storage driver.
REGISTRY_CONFIG = """\
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"""
REGISTRY_DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["/bin/registry"]
CMD ["serve", "/etc/docker/registry/config.yml"]
"""


def image_exists(reference: str) -> bool:
    return _docker("image", "inspect", reference).returncode == 0


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def _build(tag: str, labels: dict[str, str], context: str) -> None:
    label_args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    result = _docker("build", "-q", "-t", tag, *label_args, context)
    if result.returncode != 0:
        raise RuntimeError(f"docker build of {tag} failed: {result.stderr.strip()}")


def shared_libraries(binary: Path) -> list[Path]:
    """The libraries `ldd` says binary needs (libc and the loader for this one)."""
    output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    found = []
    for line in output.splitlines():
        for word in line.split():
            if word.startswith("/") and Path(word).exists():
                found.append(Path(word))
    return found


def build_registry_image(
    tag: str, labels: dict[str, str], config_path: str = "/etc/docker/registry/config.yml"
) -> None:
    """Build a registry:2 equivalent from Debian's binary, tagged `tag`; with
    config_path /etc/distribution/config.yml, a STAND-IN for registry:3's layout."""
    if not REGISTRY_BINARY.exists():
        raise FileNotFoundError(
            f"{REGISTRY_BINARY} is missing: `apt-get install docker-registry` provides it"
        )
    with tempfile.TemporaryDirectory() as context:
        root = Path(context, "rootfs")
        (root / "bin").mkdir(parents=True)
        shutil.copy2(REGISTRY_BINARY, root / "bin" / "registry")
        for library in shared_libraries(REGISTRY_BINARY):
            target = root / library.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(library.resolve(), target)
        config = root / config_path.lstrip("/")
        config.parent.mkdir(parents=True)
        config.write_text(REGISTRY_CONFIG)
        (root / "var" / "lib" / "registry").mkdir(parents=True)
        dockerfile = REGISTRY_DOCKERFILE.replace("/etc/docker/registry/config.yml", config_path)
        Path(context, "Dockerfile").write_text(dockerfile)
        _build(tag, labels, context)


def build_app_image(tag: str, labels: dict[str, str], content: str) -> None:
    """A one-file scratch image: enough to tag, push, inspect and pull."""
    with tempfile.TemporaryDirectory() as context:
        Path(context, "app.txt").write_text(content)
        Path(context, "Dockerfile").write_text("FROM scratch\nCOPY app.txt /app.txt\n")
        _build(tag, labels, context)


def registry_image(wanted: str, fallback_tag: str, labels: dict[str, str]) -> str:
    """`wanted` if present (never pulled: tests talk to loopback and their own networks
    only), else a local build tagged fallback_tag."""
    if image_exists(wanted):
        return wanted
    if not image_exists(fallback_tag):
        build_registry_image(fallback_tag, labels)
    return fallback_tag


NODE_ENTRYPOINT = """\
#!/bin/sh
mkdir -p /run/containerd /var/lib/containerd /tmp /etc/containerd/certs.d
exec /usr/bin/containerd --config /etc/containerd/config.toml
"""
BUSYBOX_TOOLS = (
    "sh", "cat", "mkdir", "rm", "ls", "wget", "sleep", "cp", "echo", "grep", "env", "timeout",
    "ssl_client",
)  # fmt: skip


def build_node_image(tag: str, labels: dict[str, str]) -> None:
    """A kind-node STAND-IN: real containerd and ctr from Debian, busybox, FROM scratch."""
    binaries = {
        "busybox": shutil.which("busybox"),
        "containerd": shutil.which("containerd"),
        "ctr": shutil.which("ctr"),
    }
    missing = [name for name, found in binaries.items() if not found]
    if missing:
        raise FileNotFoundError(
            f"{', '.join(missing)} missing: `apt-get install containerd busybox-static`"
        )
    if shared_libraries(Path(binaries["busybox"])):
        raise FileNotFoundError("busybox is not static: `apt-get install busybox-static`")
    with tempfile.TemporaryDirectory() as context:
        root = Path(context, "rootfs")
        for folder in ("bin", "usr/bin", "etc/containerd/certs.d", "run", "tmp"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy2(binaries["busybox"], root / "bin" / "busybox")
        for tool in BUSYBOX_TOOLS:
            (root / "bin" / tool).symlink_to("busybox")
        for name in ("containerd", "ctr"):
            shutil.copy2(binaries[name], root / "usr" / "bin" / name)
            for library in shared_libraries(Path(binaries[name])):
                target = root / library.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(library.resolve(), target)
        (root / "etc" / "containerd" / "config.toml").write_text("version = 2\n")
        entrypoint = root / "bin" / "entrypoint"
        entrypoint.write_text(NODE_ENTRYPOINT)
        entrypoint.chmod(0o755)
        Path(context, "Dockerfile").write_text(
            'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/bin:/bin\nENTRYPOINT ["/bin/entrypoint"]\n'
        )
        _build(tag, labels, context)


BUSYBOX_APPLETS = ("sh", "httpd", "wget", "cat", "ls", "sleep", "echo")  # at least these


def busybox_applets(busybox: str) -> list[str]:
    """Every applet of this busybox, as the public image links them all into /bin."""
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, timeout=10)
    names = [name for name in listed.stdout.split() if name and "/" not in name]
    return sorted((set(names) | set(BUSYBOX_APPLETS)) - {"busybox"})


def build_busybox_image(tag: str, labels: dict[str, str]) -> None:
    """A STAND-IN for the public busybox image: Debian's static busybox, FROM scratch."""
    busybox = shutil.which("busybox")
    if busybox is None or shared_libraries(Path(busybox)):
        raise FileNotFoundError("a static busybox is missing: `apt-get install busybox-static`")
    with tempfile.TemporaryDirectory() as context:
        bin_dir = Path(context, "rootfs", "bin")
        bin_dir.mkdir(parents=True)
        shutil.copy2(busybox, bin_dir / "busybox")
        for applet in busybox_applets(busybox):
            (bin_dir / applet).symlink_to("busybox")
        Path(context, "Dockerfile").write_text(
            'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD ["sh"]\n'
        )
        _build(tag, labels, context)


def local_or_built(wanted: str, labels: dict[str, str], build) -> str:
    """`wanted` if present (never pulled); else build it under that very name (so Dockerfiles
    that say FROM wanted build unchanged), labelled so the run removes it afterwards."""
    if not image_exists(wanted):
        build(wanted, labels)
    return wanted
