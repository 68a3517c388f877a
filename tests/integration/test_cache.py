"""Pull-through caches against the real engine: the registry stand-in (Debian's
distribution, the official config.yml) in proxy mode as the mirror, another one playing
docker.io as the upstream (no internet here), the kind and kubectl STAND-INS, and the
kind-node STAND-IN whose real containerd pulls `docker.io/library/<name>:<tag>` through
the hosts.toml the tool writes.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support import images
from tests.support.stack import LABELS, docker, fetch, free_port, node_exec

pytestmark = pytest.mark.integration


class Upstream:
    """A registry on the test network standing for Docker Hub, pushed to from the host."""

    def __init__(self, stack) -> None:
        self.name = f"{stack.prefix}-upstream"
        self.port = free_port()
        docker("run", "-d", "--name", self.name, "--network", stack.network,
               "-p", f"127.0.0.1:{self.port}:5000", *stack.label_args(), stack.image)  # fmt: skip
        self.url = f"http://{self.name}:5000"

    def push(self, path: str, tag: str) -> None:
        reference = f"localhost:{self.port}/{path}:{tag}"
        images.build_app_image(reference, LABELS, content=f"{path}:{tag} from the upstream")
        for _ in range(50):  # the registry takes a moment to listen after `docker run`
            if docker("push", reference, check=False, timeout=120).returncode == 0:
                return
        raise AssertionError(f"could not push {reference} to the upstream stand-in")


@pytest.fixture
def cached(kind_stack):
    """A stack whose profile mirrors docker.io through its own cache, with an upstream."""
    stack = kind_stack
    stack.make_network()
    upstream = Upstream(stack)
    stack.mirror_port = free_port()
    stack.mirror = f"{stack.prefix}-cache-docker-io"
    stack.base["cache"] = {
        "mirrors": f"[{{upstream: docker.io, remote_url: '{upstream.url}', "
        f"port: {stack.mirror_port}}}]",
        "prefix": f"{stack.prefix}-cache",
        "image": stack.image,
        "warm_images": f"['docker.io/{stack.prefix}/absent:1']",
    }
    stack.write_profile()
    stack.upstream = upstream
    return stack


def proxy_counters(stack) -> dict:
    """The mirror's own /debug/vars, read independently of the tool."""
    port = docker("port", stack.mirror, "5001/tcp").stdout.split(":")[-1].strip()
    document = httpx.get(f"http://127.0.0.1:{port}/debug/vars", timeout=5).json()
    return document["registry"]["proxy"]


def node(stack) -> str:
    return f"{stack.cluster}-control-plane"


def test_cache_serves_a_recreated_cluster_offline_and_falls_back_to_the_upstream(cached):
    s, name = cached, f"library/{cached.prefix}-db"
    s.upstream.push(name, "1")
    created = s.invoke("cluster.create")
    assert created.returncode == 0, created.stderr
    hosts = node_exec(node(s), "cat", "/etc/containerd/certs.d/docker.io/hosts.toml").stdout
    assert f'server = "{s.upstream.url}"' in hosts
    assert hosts.index(f'[host."http://{s.mirror}:5000"]') > hosts.index("server")
    assert fetch(node(s), f"docker.io/{name}:1").returncode == 0
    first = proxy_counters(s)["manifests"]
    assert first["Misses"] >= 1  # it went through the mirror, which asked the upstream
    listed = s.invoke("cache.ls")
    assert name in listed.stdout and " 1 " in listed.stdout, listed.stdout

    docker("stop", s.upstream.name)  # offline from here
    for args in (("cluster.delete", "--yes"), ("registry.purge", "--yes"), ("cluster.create",)):
        result = s.invoke(*args)
        assert result.returncode == 0, (args, result.stderr)
    before = proxy_counters(s)
    offline = fetch(node(s), f"docker.io/{name}:1")  # a new node: an empty content store
    assert offline.returncode == 0, offline.stderr + offline.stdout
    after = proxy_counters(s)
    assert after["manifests"]["Requests"] > before["manifests"]["Requests"]  # served by it,
    assert after["manifests"]["Misses"] == before["manifests"]["Misses"]  # from the cache
    assert after["blobs"]["Requests"] > before["blobs"]["Requests"]
    status = s.invoke("cache.status")
    assert status.returncode == 0 and "hits" in status.stdout, status.stdout + status.stderr

    docker("restart", s.mirror)  # a reboot without the network: the proxy cannot start
    refused = s.invoke("cache.create")
    assert refused.returncode == 1 and "STAGINGKUB_CACHE_OFFLINE" in refused.stderr, refused
    assert "connection refused" in refused.stderr or "no such host" in refused.stderr
    assert "Traceback" not in refused.stderr
    switched = s.invoke("cache.create", "--offline")  # serves what it holds, read-only
    assert switched.returncode == 0 and "cache.offline wants" in switched.stderr, switched
    again = node_exec(node(s), "ctr", "-n", "offline", "content", "fetch", "--hosts-dir",
                      "/etc/containerd/certs.d", f"docker.io/{name}:1")  # fmt: skip
    assert again.returncode == 0, again.stderr + again.stdout

    docker("start", s.upstream.name)
    online = s.invoke("cache.create")  # a mirror again, its data kept
    assert online.returncode == 0 and "serves its cache offline" in online.stderr, online.stderr
    s.upstream.push(name, "2")  # only the upstream has it
    docker("stop", s.mirror)
    fallback = fetch(node(s), f"docker.io/{name}:2")
    assert fallback.returncode == 0, fallback.stderr + fallback.stdout
    down = s.invoke("cache.status")
    assert down.returncode == 1 and "exited" in down.stdout, down.stdout
    assert s.invoke("cache.create").returncode == 0  # repaired: started again


def test_cache_warm_pulls_the_charts_images_and_names_what_it_could_not(cached):
    s = cached
    s.upstream.push("library/busybox", "1.36")  # the chart's test image (busybox:1.36)
    assert s.invoke("cache.create").returncode == 0
    warmed = s.invoke("cache.warm", "--version", "1.0.0")
    assert warmed.returncode == 1, warmed.stderr
    assert "pulled docker.io/library/busybox:1.36" in warmed.stderr
    assert f"could not pull docker.io/{s.prefix}/absent:1" in warmed.stderr
    assert "skipped localhost:" in warmed.stderr  # the app's image is the registry's
    catalog = httpx.get(f"http://127.0.0.1:{s.mirror_port}/v2/_catalog", timeout=5).json()
    assert "library/busybox" in catalog["repositories"]
    docker("stop", s.upstream.name)
    offline = httpx.get(
        f"http://127.0.0.1:{s.mirror_port}/v2/library/busybox/manifests/1.36",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=10,
    )
    assert offline.status_code == 200  # served from the cache with the upstream gone


def test_cache_purge_asks_then_empties_the_mirrors_and_keeps_the_registry(cached):
    s = cached
    s.upstream.push("library/busybox", "1.36")
    assert s.invoke("cache.create").returncode == 0
    assert s.invoke("registry.create").returncode == 0
    assert s.invoke("cache.warm").returncode == 1  # busybox pulled, absent:1 not
    refused = s.invoke("cache.purge")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert "Traceback" not in refused.stderr
    catalog = f"http://127.0.0.1:{s.mirror_port}/v2/_catalog"
    assert httpx.get(catalog, timeout=5).json()["repositories"] == ["library/busybox"]
    purged = s.invoke("cache.purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert httpx.get(catalog, timeout=5).json()["repositories"] == []
    assert s.healthy()  # the registry was not touched


def test_cache_wiring_is_checked_by_diag_and_status_and_repaired_by_cluster_create(cached):
    s = cached
    assert s.invoke("cluster.create").returncode == 0
    network = s.invoke("diag.network")
    assert network.returncode == 0 and "1 mirror(s)" in network.stdout, network.stdout
    cache = s.invoke("diag.cache")
    assert cache.returncode == 0, cache.stdout  # a warning: the host's Docker is not using it
    assert f'"registry-mirrors": ["http://127.0.0.1:{s.mirror_port}"]' in cache.stdout
    node_exec(node(s), "rm", "/etc/containerd/certs.d/docker.io/hosts.toml")
    docker("network", "disconnect", s.network, s.mirror)
    containerd = s.invoke("diag.containerd")
    assert containerd.returncode == 1
    assert "docker.io/hosts.toml is missing" in containerd.stdout, containerd.stdout
    assert s.mirror in s.invoke("diag.network").stdout
    status = s.invoke("cluster.status")
    assert status.returncode == 1 and f"{s.mirror} NOT attached" in status.stdout, status.stdout
    repaired = s.invoke("cluster.create")
    assert repaired.returncode == 0, repaired.stderr
    assert "docker.io/hosts.toml" in repaired.stderr and s.mirror in repaired.stderr
    assert s.invoke("diag.containerd").returncode == 0
    assert s.invoke("cluster.status").returncode == 0


def test_cache_docker_hub_login_reaches_the_mirror_through_its_environment_only(cached):
    s = cached
    login = {
        "STAGINGKUB_CACHE_DOCKERHUB_USERNAME": "hubber",
        "STAGINGKUB_CACHE_DOCKERHUB_PASSWORD": "pw-one-7f3",
    }
    created = s.invoke("cache.create", **login)
    assert created.returncode == 0, created.stderr
    env = docker("inspect", "-f", "{{json .Config.Env}}", s.mirror).stdout
    assert "REGISTRY_PROXY_USERNAME=hubber" in env and "REGISTRY_PROXY_PASSWORD=pw-one-7f3" in env
    assert "pw-one-7f3" not in created.stdout + created.stderr
    assert "up to date" in s.invoke("cache.create", **login).stderr
    changed = {**login, "STAGINGKUB_CACHE_DOCKERHUB_PASSWORD": "pw-two-9c1"}
    drifted = s.invoke("cache.create", **changed)
    assert drifted.returncode == 1 and "login differs" in drifted.stderr
    assert "pw-" not in drifted.stdout + drifted.stderr
    assert s.invoke("cache.create", "--recreate", **changed).returncode == 0
    env = docker("inspect", "-f", "{{json .Config.Env}}", s.mirror).stdout
    assert "REGISTRY_PROXY_PASSWORD=pw-two-9c1" in env
