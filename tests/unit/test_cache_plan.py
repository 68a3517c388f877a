"""Pull-through caches, the pure parts: settings, mirror specs, hosts.toml, references,
drift, what a mirror holds, its counters, and the host Docker's mirror check."""

import json
import shutil
from pathlib import Path

import pytest

from stagingkub.cache import stats
from stagingkub.cache.plan import mirror_hosts_toml, mirrors, parse_reference
from stagingkub.cluster.kind_config import Wiring
from stagingkub.docker.engine import demultiplex
from stagingkub.docker.state import state_from_attrs
from stagingkub.errors import ConfigError
from stagingkub.registry.plan import drift, run_argv
from stagingkub.release.chart import rendered_images
from stagingkub.settings import ROOT, load

NO_ENV_FILE = {"STAGINGKUB_ENV_FILE": "/nonexistent/.env"}
HUB = "{upstream: docker.io, remote_url: https://registry-1.docker.io, port: 5101}"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "defaults.yaml", tmp_path / "config" / "defaults.yaml")
    return tmp_path


def profile(root: Path, cache: str, environ: dict | None = None):
    (root / "config" / "p.yaml").write_text("cache:\n" + cache)
    return load("p", environ={**NO_ENV_FILE, **(environ or {})}, root=root)


def test_no_mirrors_by_default_and_the_cache_profile_enables_the_usual_four():
    assert load(environ=NO_ENV_FILE).cache.mirrors == []
    found = mirrors(load("cache", environ=NO_ENV_FILE))
    assert [m.upstream for m in found] == ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"]
    hub = found[0]
    assert (hub.registry.name, hub.registry.volume) == (
        "kind-cache-docker-io",
        "kind-cache-docker-io-data",
    )
    assert (
        hub.remote_url == "https://registry-1.docker.io"
        and hub.endpoint == "http://kind-cache-docker-io:5000"
    )


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("{upstream: docker.io, port: 5101}", "upstream and remote_url, and optionally port"),
        ("{upstream: docker.io, url: https://x}", "upstream and remote_url, and optionally port"),
        ("{upstream: docker.io, remote_url: ftp://x, port: 5101}", "http(s)://host"),
        ("{upstream: 'bad host!', remote_url: https://x, port: 5101}", "not a host name"),
        ("{upstream: docker.io, remote_url: https://x, port: 70000}", "1 to 65535"),
    ],
)
def test_a_bad_mirror_entry_is_refused_with_the_fix(root, entry, words):
    with pytest.raises(ConfigError, match=r"cache\.mirrors") as error:
        profile(root, f"  mirrors: [{entry}]\n")
    assert words in str(error.value)


def test_a_mirror_without_a_port_gets_its_upstreams_usual_one_or_a_free_one(root):
    entries = [
        "{upstream: quay.io, remote_url: https://quay.io}",
        "{upstream: example.org, remote_url: https://example.org, port: 5105}",
        "{upstream: docker.io, remote_url: https://registry-1.docker.io}",
        "{upstream: mirror.gcr.io, remote_url: https://mirror.gcr.io}",
    ]
    found = mirrors(profile(root, f"  mirrors: [{', '.join(entries)}]\n"))
    assert [(m.upstream, m.registry.port) for m in found] == [
        ("quay.io", 5103), ("example.org", 5105), ("docker.io", 5101), ("mirror.gcr.io", 5106),
    ]  # fmt: skip


def test_a_mirror_left_without_a_port_never_takes_the_registrys(root):
    settings = profile(root, "  mirrors: [{upstream: docker.io, remote_url: https://x.io}]\n",
                       {"STAGINGKUB_REGISTRY_PORT": "5101"})  # fmt: skip
    assert [m.registry.port for m in mirrors(settings)] == [5105]


def test_mirrors_need_their_own_ports_and_upstreams(root):
    with pytest.raises(ConfigError, match="port 5101 more than once"):
        profile(
            root,
            f"  mirrors: [{HUB}, {{upstream: quay.io, remote_url: https://quay.io, port: 5101}}]\n",
        )
    with pytest.raises(ConfigError, match="both want port 5101"):
        profile(root, f"  mirrors: [{HUB}]\n", {"STAGINGKUB_REGISTRY_PORT": "5101"})
    with pytest.raises(ConfigError, match=r"cluster\.wiring 'hosts'"):
        profile(root, f"  mirrors: [{HUB}]\n", {"STAGINGKUB_CLUSTER_WIRING": "mirrors"})


def test_mirrors_come_from_a_profile_and_the_login_only_from_the_environment(root):
    with pytest.raises(ConfigError, match=r"set in a profile file, not in \.env"):
        load(environ={**NO_ENV_FILE, "STAGINGKUB_CACHE_MIRRORS": "docker.io"}, root=root)
    with pytest.raises(ConfigError, match="never read from YAML"):
        profile(root, "  dockerhub_password: hunter2\n")
    with pytest.raises(ConfigError, match="USERNAME too"):
        profile(root, f"  mirrors: [{HUB}]\n", {"STAGINGKUB_CACHE_DOCKERHUB_PASSWORD": "pw"})
    login = {
        "STAGINGKUB_CACHE_DOCKERHUB_USERNAME": "u",
        "STAGINGKUB_CACHE_DOCKERHUB_PASSWORD": "pw9",
    }
    settings = profile(root, f"  mirrors: [{HUB}]\n", login)
    assert "pw9" not in str(settings.rows()) and "pw9" in settings.secrets()
    argv = run_argv(mirrors(settings)[0].registry)
    assert "pw9" not in " ".join(argv) and "REGISTRY_PROXY_PASSWORD" in argv
    assert mirrors(settings)[0].registry.run_env == {
        "REGISTRY_PROXY_USERNAME": "u",
        "REGISTRY_PROXY_PASSWORD": "pw9",
    }


def test_each_node_sends_an_upstream_to_its_mirror_first_and_the_upstream_second():
    text = mirror_hosts_toml("https://registry-1.docker.io", "http://kind-cache-docker-io:5000")
    assert text.startswith('server = "https://registry-1.docker.io"')
    assert '[host."http://kind-cache-docker-io:5000"]\n  capabilities = ["pull", "resolve"]' in text
    wiring = Wiring(
        "kind-registry",
        5000,
        mirrors=(("docker.io", "https://registry-1.docker.io", "http://m:5000"),),
    )
    files = wiring.hosts_files()
    assert sorted(files) == ["docker.io", "kind-registry:5000", "localhost:5000"]
    assert wiring.mirror_names == ["m"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgres:16", "docker.io/library/postgres:16"),
        ("busybox", "docker.io/library/busybox:latest"),
        ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
        ("index.docker.io/library/nginx:1", "docker.io/library/nginx:1"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ("ghcr.io/o/app@sha256:" + "a" * 64, "ghcr.io/o/app@sha256:" + "a" * 64),
        ("localhost:5000/rhdemo-api:1.0", "localhost:5000/rhdemo-api:1.0"),
    ],
)
def test_references_are_named_the_way_containerd_resolves_them(text, shown):
    assert str(parse_reference(text)) == shown


def attrs(env: list[str], debug: bool = True) -> dict:
    ports = {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5101"}]}
    if debug:
        ports["5001/tcp"] = [{"HostIp": "127.0.0.1", "HostPort": ""}]
    return {
        "Name": "/kind-cache-docker-io",
        "Config": {"Image": "registry:2", "Env": env},
        "State": {"Status": "running"},
        "HostConfig": {"PortBindings": ports, "RestartPolicy": {"Name": "always"}},
        "NetworkSettings": {"Ports": {"5001/tcp": [{"HostPort": "49160"}]} if debug else {}},
        "Mounts": [{"Type": "volume", "Name": "kind-cache-docker-io-data",
                    "Destination": "/var/lib/registry"}],
    }  # fmt: skip


def test_a_mirror_of_another_upstream_or_offline_is_drift_and_a_registry_is_no_proxy():
    spec = mirrors(load("cache", environ=NO_ENV_FILE))[0].registry
    good = [e for e in run_argv(spec) if "=" in e and e.startswith("REGISTRY_")]
    assert drift(spec, state_from_attrs(attrs(good))) == []
    assert state_from_attrs(attrs(good)).debug_port == 49160
    other = [e.replace("registry-1.docker.io", "mirror.gcr.io") for e in good]
    assert "settings want https://registry-1.docker.io" in " ".join(
        drift(spec, state_from_attrs(attrs(other)))
    )
    assert "debug server" in " ".join(drift(spec, state_from_attrs(attrs(good, debug=False))))
    offline = load("cache", environ={**NO_ENV_FILE, "STAGINGKUB_CACHE_OFFLINE": "true"})
    offline_spec = mirrors(offline)[0].registry
    assert "cache.offline wants" in " ".join(drift(offline_spec, state_from_attrs(attrs(good))))
    registry = load(environ=NO_ENV_FILE)
    from stagingkub.registry.plan import RegistrySpec

    plain = RegistrySpec.from_settings(registry)
    assert "refuses pushes" in " ".join(drift(plain, state_from_attrs(attrs(good))))


def test_what_a_mirror_holds_is_read_from_its_storage_links():
    base = stats.REPOSITORIES
    files = {
        f"{base}/library/pg/_manifests/tags/16/current/link": "sha256:aaa",
        f"{base}/library/pg/_manifests/tags/16/index/sha256/aaa/link": "sha256:aaa",
        f"{base}/library/pg/_layers/sha256/bbb/link": "sha256:bbb",
        f"{base}/library/pg/_layers/sha256/ccc/link": "sha256:ccc",
    }
    held = stats.holdings(files)
    assert [(h.repository, h.tags, h.layers) for h in held] == [
        ("library/pg", {"16": "sha256:aaa"}, ("sha256:bbb", "sha256:ccc"))
    ]


def test_counters_say_hits_as_requests_minus_misses_and_note_registry2s_gap():
    two = stats.Counters(
        blob_requests=4, blob_misses=0, manifest_requests=3, manifest_misses=1, bytes_pulled=524
    )
    assert two.shown().startswith("manifests 2 hits / 1 misses, blobs 4 hits / 0 misses")
    assert "registry:2 does not count blob misses" in two.shown()
    three = stats.Counters(4, 2, 3, 1, 1000)
    assert "blobs 2 hits / 2 misses" in three.shown() and "registry:2" not in three.shown()


def test_the_host_docker_check_reads_the_engines_mirrors_and_prints_daemon_json():
    hub = mirrors(load("cache", environ=NO_ENV_FILE))[0]
    assert stats.daemon_uses({"RegistryConfig": {"Mirrors": ["http://127.0.0.1:5101/"]}}, hub)
    assert not stats.daemon_uses({"RegistryConfig": {"Mirrors": []}}, hub)
    assert json.loads(stats.daemon_lines(hub)) == {"registry-mirrors": ["http://127.0.0.1:5101"]}


def test_rendered_images_are_every_container_image_once():
    text = (
        "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - image: localhost:5000/rhdemo-api:1\n"
        "      initContainers:\n        - image: busybox:1.36\n"
        "---\nkind: Pod\nspec:\n  containers:\n    - image: busybox:1.36\n---\n"
    )
    assert rendered_images(text) == ["localhost:5000/rhdemo-api:1", "busybox:1.36"]


def test_a_framed_log_stream_is_demultiplexed():
    frames = b"\x01\x00\x00\x00\x00\x00\x00\x03abc" + b"\x02\x00\x00\x00\x00\x00\x00\x02de"
    assert demultiplex(frames) == b"abcde"
    assert demultiplex(b"plain tty text") == b"plain tty text"


def test_counters_are_read_directly_on_loopback_even_with_a_proxy_set(monkeypatch):
    from tests.support.http_standin import serving
    from tests.support.stack import free_port

    # distribution's expvar: registry.proxy.{blobs,manifests} (registry/proxy/proxymetrics.go)
    expvar = {"registry": {"proxy": {
        "blobs": {"Requests": 5, "Hits": 5, "Misses": 0, "BytesPulled": 0, "BytesPushed": 0},
        "manifests": {"Requests": 3, "Hits": 2, "Misses": 1, "BytesPulled": 524,
                      "BytesPushed": 0}}}}  # fmt: skip
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with serving(lambda *a: (200, {"Content-Type": "application/json"},
                             json.dumps(expvar).encode())) as (url, seen):  # fmt: skip
        found = stats.counters("127.0.0.1", int(url.rsplit(":", 1)[1]))
    assert found == stats.Counters(5, 0, 3, 1, 524)
    assert [path for _, path, _ in seen] == ["/debug/vars"]
