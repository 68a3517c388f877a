"""Cluster config generation and wiring plans: pure functions, no daemon."""

from pathlib import Path

import pytest

from stagingkub.cluster.kind_config import (
    Wiring,
    configmap_data,
    containerd_registry_state,
    hosting,
    hosts_toml,
    kind_config,
    predicted_node_names,
    registry_configmap,
)
from stagingkub.cluster.plan import (
    ClusterSpec,
    ClusterState,
    NodeState,
    WriteFile,
    check_kind_version,
    create_argv,
    plan_create_cluster,
    plan_wiring,
    predicted_state,
)
from stagingkub.errors import ConfigError, StateError
from stagingkub.parse import parse_version

WIRING = Wiring(registry_name="kind-registry", host_port=5000)
SPEC = ClusterSpec(
    name="rhdemo",
    roles=("control-plane",),
    node_image="",
    wait="120s",
    context="kind-rhdemo",
    network="kind",
    wiring=WIRING,
    files_dir=Path("/work/.stagingkub/rhdemo"),
)
GOOD_FILES = WIRING.hosts_files()
HOSTING = hosting(WIRING)


def wired(name="rhdemo-control-plane", **changes) -> NodeState:
    return NodeState(name=name, hosts_files=dict(GOOD_FILES), **changes)


def commands(plan) -> list[str]:
    return [" ".join(step) for step in plan.steps if isinstance(step, list)]


def test_hosts_toml_points_at_the_registry_over_http():
    assert hosts_toml(WIRING.endpoint) == (
        '[host."http://kind-registry:5000"]\n  capabilities = ["pull", "resolve"]\n'
    )
    assert sorted(GOOD_FILES) == ["kind-registry:5000", "localhost:5000"]


def test_generated_kind_config_has_config_path_and_no_mirrors():
    text = kind_config("rhdemo", ["control-plane"], WIRING)
    assert "kind: Cluster" in text and "name: rhdemo" in text
    assert '[plugins."io.containerd.grpc.v1.cri".registry]' in text
    assert 'config_path = "/etc/containerd/certs.d"' in text
    assert "mirrors" not in text


def test_mirrors_mode_writes_the_guides_patch_only():
    text = kind_config("rhdemo", ["control-plane"], Wiring("kind-registry", 5000, mode="mirrors"))
    assert 'registry.mirrors."localhost:5000"' in text
    assert 'endpoint = ["http://kind-registry:5000"]' in text
    assert "config_path" not in text


def test_user_config_keeps_comments_nodes_and_mounts():
    user = (
        "# ours\nkind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n"
        "  - role: control-plane\n    extraMounts:\n      - hostPath: /data  # cache\n"
        "        containerPath: /data\n  - role: worker\n"
    )
    text = kind_config("rhdemo", ["control-plane"], WIRING, user, "my.yaml")
    assert text.startswith("# ours")
    assert "# cache" in text and "role: worker" in text
    assert text.count("config_path") == 1


def test_user_config_patch_already_present_is_not_duplicated():
    once = kind_config("rhdemo", ["control-plane"], WIRING)
    assert (
        kind_config("rhdemo", ["control-plane"], WIRING, once, "x.yaml").count("config_path") == 1
    )


def test_user_config_with_mirrors_is_refused_under_hosts_wiring():
    user = kind_config("rhdemo", ["control-plane"], Wiring("kind-registry", 5000, mode="mirrors"))
    with pytest.raises(ConfigError, match=r"containerd 2\.x refuses both together"):
        kind_config("rhdemo", ["control-plane"], WIRING, user, "my.yaml")


def test_user_config_that_is_not_a_kind_config_is_refused():
    with pytest.raises(ConfigError, match="not a kind cluster config"):
        kind_config("rhdemo", ["control-plane"], WIRING, "apiVersion: v1\nkind: Pod\n", "p.yaml")


def test_configmap_is_kep_1755():
    text = registry_configmap(WIRING)
    assert configmap_data('{"data": {"localRegistryHosting.v1": "x"}}') == "x"
    assert configmap_data("not json") == ""
    assert "namespace: kube-public" in text and "name: local-registry-hosting" in text
    for line in (
        'host: "localhost:5000"',
        'hostFromContainerRuntime: "kind-registry:5000"',
        'hostFromClusterNetwork: "kind-registry:5000"',
        "help: ",
    ):
        assert line in HOSTING


def test_node_names_follow_kind():
    assert predicted_node_names("rhdemo", ["control-plane", "worker", "worker"]) == [
        "rhdemo-control-plane",
        "rhdemo-worker",
        "rhdemo-worker2",
    ]


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("kind v0.27.0 go1.23.4 linux/amd64", (0, 27, 0)),
        ("containerd github.com/containerd/containerd/v2 v2.0.3 06b99ca", (2, 0, 3)),
        ("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1", (1, 6, 20)),
        ("nothing", None),
    ],
)
def test_versions(text, version):
    assert parse_version(text) == version


def test_containerd_config_reading():
    cri = '[plugins."io.containerd.grpc.v1.cri".registry'
    hosts = f'{cri}]\n  config_path = "/etc/containerd/certs.d"\n'
    assert containerd_registry_state(hosts) == ("/etc/containerd/certs.d", False)
    mirrors = f'{cri}.mirrors."localhost:5000"]\n  endpoint = ["http://kind-registry:5000"]\n'
    assert containerd_registry_state(mirrors) == (None, True)
    v3 = (
        'version = 3\n[plugins."io.containerd.cri.v1.images".registry]\n'
        '  config_path = "/etc/containerd/certs.d"\n'
    )
    assert containerd_registry_state(v3) == ("/etc/containerd/certs.d", False)  # containerd 2.x


def test_a_commented_out_or_foreign_config_path_does_not_count():
    commented = KIND_BASE_CONFIG + (
        '[plugins."io.containerd.grpc.v1.cri".registry]\n'
        '  # config_path = "/etc/containerd/certs.d"\n'
        "  # [registry.mirrors] was the old way\n"
    )
    assert containerd_registry_state(commented) == (None, False)
    foreign = '[plugins."io.containerd.transfer.v1.local"]\n  config_path = "/somewhere/else"\n'
    assert containerd_registry_state(foreign) == (None, False)


def test_an_older_kind_base_config_has_its_k8s_gcr_io_mirror():
    older = KIND_BASE_CONFIG + (
        '[plugins."io.containerd.grpc.v1.cri".registry.mirrors."k8s.gcr.io"]\n'
        '  endpoint = ["https://registry.k8s.io", "https://k8s.gcr.io",]\n'
    )
    assert containerd_registry_state(older) == (None, True)


def test_a_config_that_is_not_toml_is_an_error_not_a_guess():
    with pytest.raises(StateError, match="not valid TOML"):
        containerd_registry_state('[plugins."io.containerd.grpc.v1.cri".registry\n')


def test_create_argv_and_network_switch():
    assert " ".join(create_argv(SPEC)) == (
        "kind create cluster --name rhdemo --config /work/.stagingkub/rhdemo/kind-config.yaml "
        "--wait 120s"
    )
    other = ClusterSpec(**{**SPEC.__dict__, "network": "ci-kind", "node_image": "kindest/node:v1"})
    assert create_argv(other)[:2] == ["env", "KIND_EXPERIMENTAL_DOCKER_NETWORK=ci-kind"]
    assert "--image" in create_argv(other)


def test_clean_host_plan_writes_the_config_then_creates():
    plan = plan_create_cluster(SPEC, (0, 27, 0))
    assert isinstance(plan.steps[0], WriteFile)
    assert plan.steps[0].path == SPEC.config_file
    assert commands(plan) == [" ".join(create_argv(SPEC))]


def test_wiring_a_new_cluster_connects_copies_and_applies():
    plan = plan_wiring(SPEC, predicted_state(SPEC, registry_attached=False))
    assert commands(plan) == [
        "docker network connect kind kind-registry",
        "docker exec rhdemo-control-plane mkdir -p /etc/containerd/certs.d",
        "docker cp /work/.stagingkub/rhdemo/certs.d/. "
        "rhdemo-control-plane:/etc/containerd/certs.d/",
        "kubectl --context kind-rhdemo apply -f "
        "/work/.stagingkub/rhdemo/local-registry-hosting.yaml",
    ]
    written = {step.path.name: step.text for step in plan.steps if isinstance(step, WriteFile)}
    assert written["hosts.toml"] == hosts_toml("http://kind-registry:5000")


def test_correctly_wired_cluster_needs_nothing():
    state = ClusterState(exists=True, nodes=(wired(),), registry_attached=True, configmap=HOSTING)
    plan = plan_wiring(SPEC, state)
    assert plan.steps == [] and plan.repairs == []


def test_only_the_node_missing_its_hosts_toml_is_rewritten():
    by_name = {"kind-registry:5000": GOOD_FILES["kind-registry:5000"]}
    broken = NodeState(name="rhdemo-worker", hosts_files=by_name)
    state = ClusterState(
        exists=True, nodes=(wired(), broken), registry_attached=True, configmap=HOSTING
    )
    plan = plan_wiring(SPEC, state)
    assert commands(plan) == [
        "docker exec rhdemo-worker mkdir -p /etc/containerd/certs.d",
        "docker cp /work/.stagingkub/rhdemo/certs.d/. rhdemo-worker:/etc/containerd/certs.d/",
    ]
    assert plan.repairs == [
        "rhdemo-worker: wrote /etc/containerd/certs.d/localhost:5000/hosts.toml"
    ]


def test_detached_registry_only_reconnects():
    state = ClusterState(exists=True, nodes=(wired(),), registry_attached=False, configmap=HOSTING)
    assert commands(plan_wiring(SPEC, state)) == ["docker network connect kind kind-registry"]


def test_outdated_configmap_is_applied_again():
    state = ClusterState(
        exists=True, nodes=(wired(),), registry_attached=True, configmap='host: "localhost:5001"'
    )
    plan = plan_wiring(SPEC, state)
    assert commands(plan)[-1].startswith("kubectl --context kind-rhdemo apply -f")
    assert plan.repairs == ["updated ConfigMap kube-public/local-registry-hosting"]


@pytest.mark.parametrize(
    ("node", "words"),
    [
        (wired(config_path=None, has_mirrors=True), "legacy registry.mirrors"),
        (wired(config_path=None), "no config_path"),
        (wired(config_path=None, containerd_version=(1, 7, 24)), "no config_path"),
        (wired(config_path="/etc/docker/certs.d"), "config_path = '/etc/docker/certs.d'"),
        (wired(has_mirrors=True), "both config_path and a registry.mirrors"),
    ],
)
def test_nodes_that_files_cannot_fix_stop_with_the_recreate_command(node, words):
    state = ClusterState(exists=True, nodes=(node,), registry_attached=True, configmap=HOSTING)
    with pytest.raises(StateError) as caught:
        plan_wiring(SPEC, state)
    assert words in str(caught.value)
    assert "invoke cluster.delete --name rhdemo --yes" in str(caught.value)


# kind's base config (images/base/files/etc/containerd/config.toml) as kind v0.27+ ships it:
# no config_path, no mirrors; containerd 2.x then reads its default config_path.
# kind's node base config as of its main branch (images/base/files/etc/containerd/
# config.toml, 2026-08): its tables and keys, comments left out. No config_path, no mirrors.
KIND_BASE_CONFIG = """version = 2

[proxy_plugins]
[proxy_plugins."fuse-overlayfs"]
  type = "snapshot"
  address = "/run/containerd-fuse-overlayfs.sock"

[plugins."io.containerd.grpc.v1.cri".containerd]
  discard_unpacked_layers = true
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "/etc/containerd/cri-base.json"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.test-handler]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "/etc/containerd/cri-base.json"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.test-handler.options]
    SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  tolerate_missing_hugepages_controller = true
  restrict_oom_score_adj = false
"""


def test_a_plain_kind_v027_cluster_is_wired_not_recreated():
    config_path, mirrors = containerd_registry_state(KIND_BASE_CONFIG)
    assert (config_path, mirrors) == (None, False)
    bare = NodeState(name="rhdemo-control-plane", hosts_files={h: None for h in GOOD_FILES},
                     config_path=config_path, containerd_version=(2, 1, 4))  # fmt: skip
    state = ClusterState(exists=True, nodes=(bare,), registry_attached=False, configmap=None)
    plan = plan_wiring(SPEC, state)
    steps = commands(plan)
    assert any(c.startswith("docker network connect") for c in steps)
    assert any(c.startswith("docker cp") and "rhdemo-control-plane:/etc/containerd/certs.d" in c
               for c in steps)  # fmt: skip
    assert steps[-1].startswith("kubectl --context kind-rhdemo apply -f")
    assert bare.config_path_shown == "default config_path (containerd 2.x)"


def test_a_config_path_list_that_includes_certs_d_is_read():
    node = wired(config_path="/etc/containerd/certs.d:/etc/docker/certs.d")
    state = ClusterState(exists=True, nodes=(node,), registry_attached=True, configmap=HOSTING)
    assert plan_wiring(SPEC, state).steps == []


def test_mirrors_on_a_containerd_2_node_is_refused():
    spec = ClusterSpec(**{**SPEC.__dict__, "wiring": Wiring("kind-registry", 5000, mode="mirrors")})
    node = wired(config_path=None, has_mirrors=True, containerd_version=(2, 0, 3))
    state = ClusterState(exists=True, nodes=(node,), registry_attached=True, configmap=HOSTING)
    with pytest.raises(StateError, match=r"runs containerd 2\.0\.3"):
        plan_wiring(spec, state)


@pytest.mark.parametrize(
    ("mode", "image", "version", "words"),
    [
        ("hosts", "", (0, 19, 1), "older than v0.20"),
        ("mirrors", "", (0, 27, 0), "containerd 2.x"),
    ],
)
def test_kind_version_checks(mode, image, version, words):
    spec = ClusterSpec(
        **{**SPEC.__dict__, "node_image": image, "wiring": Wiring("kind-registry", 5000, mode=mode)}
    )
    with pytest.raises(StateError, match=words):
        check_kind_version(spec, version)


def test_kind_version_checks_pass_where_they_should():
    check_kind_version(SPEC, (0, 20, 0))
    mirrors = ClusterSpec(
        **{
            **SPEC.__dict__,
            "node_image": "kindest/node:v1.25.3",
            "wiring": Wiring("r", 5000, mode="mirrors"),
        }
    )
    check_kind_version(mirrors, (0, 27, 0))  # an explicit old node image is the user's call


@pytest.mark.parametrize(
    ("version", "problem"),
    [((2, 0, 3), ""), ((1, 7, 24), "config_path is not /etc/containerd/certs.d")],
)
def test_diag_containerd_reports_the_containerd_2_default(version, problem):
    from stagingkub.diag.wiring import node_wiring as _node_wiring

    line, found, _ = _node_wiring(SPEC, wired(config_path=None, containerd_version=version))
    assert found.startswith(problem) if problem else found == ""
    if not problem:
        assert "default config_path (containerd 2.x)" in line
