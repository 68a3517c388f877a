"""Registry builders and plans: pure functions from state to the exact commands."""

import os
import shutil

import pytest

from stagingkub.docker.state import state_from_attrs
from stagingkub.errors import StateError
from stagingkub.registry.plan import (
    RegistrySpec,
    data_volumes,
    drift,
    plan_create,
    plan_purge,
    run_argv,
)

SPEC = RegistrySpec(
    name="kind-registry",
    image="registry:2",
    bind_address="127.0.0.1",
    port=5000,
    volume="kind-registry-data",
    network="kind",
)
LABELS = "--label io.stagingkub.managed=true --label io.stagingkub.role=registry"
RUN = (
    "docker run -d --name kind-registry --restart=always -p 127.0.0.1:5000:5000 "
    "-v kind-registry-data:/var/lib/registry -e REGISTRY_STORAGE_DELETE_ENABLED=true "
    f"{LABELS} registry:2"
)


def inspect(
    status="running",
    image="registry:2",
    host_ip="127.0.0.1",
    host_port="5000",
    volume="kind-registry-data",
    env=("REGISTRY_STORAGE_DELETE_ENABLED=true",),
    restart="always",
    networks=("bridge", "kind"),
):
    """The parts of `docker inspect` JSON the tool reads, shaped as the engine returns them."""
    mounts = []
    if volume:
        mounts.append({"Type": "volume", "Name": volume, "Destination": "/var/lib/registry"})
    return state_from_attrs(
        {
            "Id": "f" * 64,
            "Name": "/kind-registry",
            "State": {"Status": status, "StartedAt": "2026-11-28T10:00:00.1Z"},
            "Config": {"Image": image, "Env": list(env), "Labels": {}},
            "HostConfig": {
                "PortBindings": {"5000/tcp": [{"HostIp": host_ip, "HostPort": host_port}]},
                "RestartPolicy": {"Name": restart},
            },
            "Mounts": mounts,
            "NetworkSettings": {"Networks": {n: {} for n in networks}},
        }
    )


def commands(plan):
    return [" ".join(argv) for argv in plan.commands]


def test_run_argv_is_the_guides_command_made_safe():
    assert " ".join(run_argv(SPEC)) == RUN


def test_ipv6_bind_address_is_bracketed():
    spec = RegistrySpec(**{**SPEC.__dict__, "bind_address": "::1"})
    assert "[::1]:5000:5000" in run_argv(spec)
    assert spec.url == "http://[::1]:5000"


def test_extra_labels_are_added_to_the_container():
    spec = RegistrySpec(**{**SPEC.__dict__, "extra_labels": (("io.example/ci", "7"),)})
    assert "io.example/ci=7" in run_argv(spec)


def test_absent_registry_creates_volume_container_and_connects():
    plan = plan_create(SPEC, None, network_exists=True, volume_exists=False)
    assert commands(plan) == [
        f"docker volume create {LABELS} kind-registry-data",
        RUN,
        "docker network connect kind kind-registry",
    ]
    assert plan.starts and plan.needs_port


def test_without_kind_network_nothing_is_connected():
    plan = plan_create(SPEC, None, network_exists=False, volume_exists=True)
    assert commands(plan) == [RUN]


def test_converged_registry_needs_no_command():
    plan = plan_create(SPEC, inspect(), network_exists=True, volume_exists=True)
    assert plan.commands == [] and not plan.starts


def test_stopped_registry_is_started_not_recreated():
    plan = plan_create(SPEC, inspect(status="exited"), network_exists=True, volume_exists=True)
    assert commands(plan) == ["docker start kind-registry"]
    assert plan.needs_port


def test_paused_registry_is_unpaused():
    plan = plan_create(SPEC, inspect(status="paused"), network_exists=True, volume_exists=True)
    assert commands(plan) == ["docker unpause kind-registry"]


def test_detached_registry_is_connected():
    state = inspect(networks=("bridge",))
    plan = plan_create(SPEC, state, network_exists=True, volume_exists=True)
    assert commands(plan) == ["docker network connect kind kind-registry"]


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (inspect(image="registry:3"), "image is 'registry:3'"),
        (inspect(host_ip="0.0.0.0"), "published on 0.0.0.0:5000"),
        (inspect(host_ip=""), "published on 0.0.0.0:5000"),
        (inspect(host_port="5001"), "127.0.0.1:5001, settings want 127.0.0.1:5000"),
        (inspect(volume="other"), "'other' at /var/lib/registry"),
        (inspect(volume=None), "no volume"),
        (inspect(volume="a" * 64), "an anonymous volume (aaaaaaaaaaaa)"),
        (inspect(env=()), "delete API is off"),
        (inspect(restart="no"), "restart policy is 'no'"),
    ],
)
def test_drift_is_explained_and_needs_recreate(state, words):
    assert any(words in line for line in drift(SPEC, state))
    with pytest.raises(StateError) as caught:
        plan_create(SPEC, state, network_exists=True, volume_exists=True)
    assert words in str(caught.value) and "--recreate" in str(caught.value)


def test_recreate_replaces_the_container_and_keeps_the_volume():
    plan = plan_create(
        SPEC, inspect(host_port="5001"), network_exists=True, volume_exists=True, recreate=True
    )
    assert commands(plan) == [
        "docker rm -f kind-registry",
        RUN,
        "docker network connect kind kind-registry",
    ]
    assert not any("volume rm" in c for c in commands(plan))


def test_the_guides_own_container_is_drift_with_an_anonymous_volume():
    guide = inspect(host_ip="", volume="b" * 64, env=(), networks=("bridge", "kind"))
    with pytest.raises(StateError, match=r"old data volume \(bbbbbbbbbbbb\) is kept, not copied"):
        plan_create(SPEC, guide, network_exists=True, volume_exists=False)


def test_purge_plan_stops_removes_and_deletes_the_data():
    state = inspect()
    volumes = data_volumes(SPEC, state, {"kind-registry-data", "unrelated"})
    assert commands(plan_purge(SPEC, state, volumes)) == [
        "docker stop kind-registry",
        "docker rm kind-registry",
        "docker volume rm kind-registry-data",
    ]


def test_purge_of_a_stopped_registry_with_an_anonymous_volume_deletes_both_volumes():
    state = inspect(status="exited", volume="c" * 64)
    volumes = data_volumes(SPEC, state, {"c" * 64, "kind-registry-data"})
    assert commands(plan_purge(SPEC, state, volumes)) == [
        "docker rm kind-registry",
        f"docker volume rm {'c' * 64}",
        "docker volume rm kind-registry-data",
    ]


def test_purge_with_nothing_there_plans_nothing():
    assert plan_purge(SPEC, None, data_volumes(SPEC, None, set())).commands == []


def test_dry_prune_deletes_pass_the_password_through_the_shell_never_as_an_argument():
    from stagingkub.registry.prune import delete_lines

    digest = "sha256:" + "a" * 64
    plain = delete_lines(SPEC, [("rhdemo-api", digest)])
    assert plain == [f"curl -fsS -X DELETE http://127.0.0.1:5000/v2/rhdemo-api/manifests/{digest}"]
    logins = {"tls": True, "auth": True, "username": "ci", "password": "s3cret"}
    secure = RegistrySpec(**{**SPEC.__dict__, **logins, "secure_dir": "/work/.stagingkub/reg"})
    (line,) = delete_lines(secure, [("rhdemo-api", digest)])
    assert line.startswith("""printf 'user = "%s:%s"\\n' ci "$(printf '%s' "$STAGINGKUB_""")
    assert "--config - " in line and "--cacert /work/.stagingkub/reg/ca.crt" in line
    assert "https://127.0.0.1:5000/v2/rhdemo-api/manifests/" in line and "s3cret" not in line


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("password", ['pa"ss\\word', "plain", "$HOME 'quoted' `x`"])
def test_the_dry_prune_line_sends_any_password_as_it_is_under_posix_sh(password):
    """The printed delete runs in Jenkins' `sh` (dash here): curl's config string gets the
    password escaped, so a `"` or `\\` neither ends it nor is eaten."""
    import base64
    import subprocess

    from stagingkub.registry.prune import delete_lines
    from tests.support.http_standin import serving

    with serving(lambda method, path, headers: (202, {}, b"")) as (url, seen):
        spec = RegistrySpec(**{**SPEC.__dict__, "auth": True, "username": 'c"i', "password": "x"})
        (line,) = delete_lines(spec, [("rhdemo-api", "sha256:" + "a" * 64)])
        line = line.replace("http://127.0.0.1:5000", url)
        result = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=30,
                                env={"PATH": os.environ["PATH"],
                                     "STAGINGKUB_REGISTRY_PASSWORD": password})  # fmt: skip
    assert result.returncode == 0, result.stderr
    ((method, _, headers),) = seen
    sent = base64.b64decode(headers["authorization"].split()[1]).decode()
    assert (method, sent) == ("DELETE", f'c"i:{password}')
