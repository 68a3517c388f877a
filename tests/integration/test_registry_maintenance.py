"""registry.prune and registry.gc against a real registry and its real garbage collector."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stagingkub.settings import ROOT
from tests.support.stack import Stack, docker, echoed, fetch, script_lines

pytestmark = pytest.mark.integration


def _created(stack: Stack) -> Stack:
    result = stack.invoke("registry.create")
    assert result.returncode == 0, result.stderr
    return stack


def _freed_bytes(stderr: str) -> int:
    found = re.search(r"Freed .*?\((\d+) B\)|Freed (\d+) B", stderr)
    assert found, stderr
    return int(found.group(1) or found.group(2))


def test_prune_without_yes_lists_and_deletes_nothing_off_a_terminal(stack):
    s = _created(stack)
    for tag in ("1.0.0", "1.1.0", "1.2.0", "1.3.0"):
        s.push(tag)
    result = s.invoke("registry.prune", "--keep", "2")  # stdin is not a terminal
    assert result.returncode == 1
    assert "Nothing was deleted" in result.stderr and "--yes" in result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines() if "delete:" in line] == [
        "1.1.0",
        "1.0.0",
    ]
    assert s.tags() == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]


def test_prune_keeps_exactly_the_newest_n_in_each_repository(stack):
    s = _created(stack)
    for tag in ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"):
        s.push(tag)
    s.push("2.0.0", repository="other-api")
    result = s.invoke("registry.prune", "--keep", "2", "--yes")
    assert result.returncode == 0, result.stderr
    assert s.tags() == ["1.3.0", "1.4.0"]
    assert s.tags("other-api") == ["2.0.0"]
    assert "Deleted 3 tag(s)" in result.stderr and "registry.gc --yes" in result.stderr


def test_prune_repo_limits_it_and_a_tag_sharing_a_kept_digest_is_kept(stack):
    s = _created(stack)
    for tag in ("1.0.0", "1.1.0", "1.2.0"):
        s.push(tag)
    s.push("9.0.0", repository="other-api")
    s.push("9.1.0", repository="other-api")
    docker("tag", f"localhost:{s.port}/rhdemo-api:1.1.0", f"localhost:{s.port}/rhdemo-api:stable")
    docker("push", f"localhost:{s.port}/rhdemo-api:stable", timeout=120)
    result = s.invoke("registry.prune", "--keep", "2", "--repo", "rhdemo-api", "--yes")
    assert result.returncode == 0, result.stderr
    # newest by creation: 1.2.0, then 1.1.0 and stable (one image; stable pushed later wins
    # the tie); 1.1.0 shares stable's digest, so deleting it would delete stable: it stays
    assert s.tags() == ["1.1.0", "1.2.0", "stable"]
    assert "same image as the kept tag stable" in result.stdout
    assert s.tags("other-api") == ["9.0.0", "9.1.0"]


def test_prune_of_an_unknown_repository_is_explained(stack):
    s = _created(stack)
    s.push("1.0.0")
    result = s.invoke("registry.prune", "--keep", "1", "--repo", "no-such-repo", "--yes")
    assert result.returncode == 1
    assert "no tags in 'no-such-repo'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("keep", ["-1", "two", ""])
def test_prune_refuses_a_bad_keep(stack, keep):
    result = stack.invoke("registry.prune", "--keep", keep, "--yes")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert echoed(result.stdout) == []


def test_prune_never_deletes_the_tag_the_helm_release_runs(app_stack):
    s = app_stack
    app = s.base["image"]["name"]
    deployed = s.invoke("deploy", "--version", "1.0.0")
    assert deployed.returncode == 0, deployed.stderr
    for tag in ("1.1.0", "1.2.0", "1.3.0"):
        s.push(tag, repository=app)
    result = s.invoke("registry.prune", "--keep", "1", "--yes")
    assert result.returncode == 0, result.stderr
    assert s.tags(app) == ["1.0.0", "1.3.0"]
    assert re.search(r"1\.0\.0 .* keep: deployed: the release runs revision 1", result.stdout)


def _deploy_versions(s, versions) -> dict[str, str]:
    """Deploy each version in turn (one helm revision each); {version: digest}."""
    digests = {}
    for number, version in enumerate(versions):
        (s.app_dir / "pom.xml").write_text(f"<project><!-- {version} --></project>\n")
        result = s.invoke("deploy", "--version", version)
        assert result.returncode == 0, result.stderr
        digests[version] = _release_state(s)["config"]["rhdemo"]["image"]["digest"]
        assert _release_state(s)["version"] == number + 1
    return digests


def _release_state(s) -> dict:
    path = Path(s.extra_env["STANDIN_STATE"]) / "helm" / f"kind-{s.cluster}" / "rhdemo-staging"
    return json.loads((path / "rhdemo.json").read_text())


def _empty_node_content(s) -> None:
    """The node forgets every blob, so its next pull asks the registry."""
    node = f"{s.cluster}-control-plane"
    listed = docker("exec", node, "ctr", "content", "ls", "-q").stdout.split()
    for digest in listed:
        docker("exec", node, "ctr", "content", "rm", digest, check=False)


def test_prune_keeps_the_rollback_targets_and_helm_rollback_to_each_still_pulls(app_stack):
    s = app_stack
    app = s.base["image"]["name"]
    versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]  # revisions 1 to 5
    digests = _deploy_versions(s, versions)
    result = s.invoke("registry.prune", "--keep", "1", "--yes")
    assert result.returncode == 0, result.stderr
    assert s.tags(app) == ["1.1.0", "1.2.0", "1.3.0", "1.4.0"]  # 1.0.0 alone is no target
    for version, why in (("1.4.0", "deployed: the release runs revision 5"),
                         ("1.3.0", "rollback target of revision 4"),
                         ("1.2.0", "rollback target of revision 3"),
                         ("1.1.0", "rollback target of revision 2")):  # fmt: skip
        assert re.search(rf"{re.escape(version)} .* keep: (newest 1|{why})", result.stdout)
    node = f"{s.cluster}-control-plane"
    for revision, version in ((4, "1.3.0"), (3, "1.2.0"), (2, "1.1.0")):
        rolled = subprocess.run(
            ["helm", "rollback", "rhdemo", str(revision), "--namespace", "rhdemo-staging",
             "--kube-context", f"kind-{s.cluster}"],
            env=s.env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert rolled.returncode == 0, rolled.stderr
        pinned = f"localhost:{s.port}/{app}:{version}@{digests[version]}"
        assert _release_state(s)["config"]["rhdemo"]["image"]["digest"] == digests[version]
        _empty_node_content(s)
        assert fetch(node, pinned).returncode == 0, pinned  # the image is still there
    _empty_node_content(s)
    gone = f"localhost:{s.port}/{app}:1.0.0@{digests['1.0.0']}"
    assert fetch(node, gone).returncode != 0  # what prune deleted is really gone


def test_prune_with_the_cluster_stopped_deletes_nothing_and_exits_1(app_stack):
    s = app_stack
    app = s.base["image"]["name"]
    _deploy_versions(s, ["1.0.0", "1.1.0"])
    for tag in ("1.2.0", "1.3.0"):
        s.push(tag, repository=app)
    docker("stop", f"{s.cluster}-control-plane")
    result = s.invoke("registry.prune", "--keep", "1", "--yes")
    assert result.returncode == 1
    assert "cannot tell which images the cluster runs" in result.stderr
    assert "is stopped" in result.stderr and "invoke cluster.create" in result.stderr
    assert "--unprotected" in result.stderr and "Traceback" not in result.stderr
    assert s.tags(app) == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]

    forced = s.invoke("registry.prune", "--keep", "1", "--yes", "--unprotected")
    assert forced.returncode == 0, forced.stderr
    assert "--unprotected" in forced.stderr
    assert s.tags(app) == ["1.3.0"]


def test_prune_when_helm_fails_deletes_nothing(app_stack):
    s = app_stack
    app = s.base["image"]["name"]
    _deploy_versions(s, ["1.0.0"])
    s.push("1.1.0", repository=app)
    s.push("1.2.0", repository=app)
    kubeconfig = Path(s.extra_env["STANDIN_STATE"]) / "kubeconfig.json"
    kubeconfig.write_text("{}")  # the kind context is gone from kubeconfig
    result = s.invoke("registry.prune", "--keep", "1", "--yes")
    assert result.returncode == 1
    assert f'context "kind-{s.cluster}" does not exist' in result.stderr
    assert s.tags(app) == ["1.0.0", "1.1.0", "1.2.0"]


def test_dry_prune_prints_curl_deletes_that_do_the_same(stack):
    s = _created(stack)
    for tag in ("1.0.0", "1.1.0", "1.2.0"):
        s.push(tag)
    printed = s.invoke("--dry", "registry.prune", "--keep", "1")
    assert printed.returncode == 0, printed.stderr
    deletes = [line for line in script_lines(printed.stdout) if line.startswith("curl")]
    assert len(deletes) == 2 and all(" -X DELETE " in line for line in deletes)
    assert all(f"{s.url}/v2/rhdemo-api/manifests/sha256:" in line for line in deletes)
    assert s.tags() == ["1.0.0", "1.1.0", "1.2.0"]  # printing deleted nothing
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", printed.stdout], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert s.tags() == ["1.2.0"]


def test_gc_frees_the_bytes_of_deleted_tags_and_every_remaining_tag_still_pulls(stack):
    s = _created(stack)
    for tag in ("1.0.0", "1.1.0", "1.2.0"):
        s.push(tag)
    old_layer = _layers(s, "1.0.0")
    assert s.invoke("registry.prune", "--keep", "1", "--yes").returncode == 0
    preview = s.invoke("registry.gc")  # a dry run; off a terminal, exit 1
    assert preview.returncode == 1 and "would be freed" in preview.stderr
    assert _blob_status(s, old_layer) == 200  # nothing collected yet
    result = s.invoke("registry.gc", "--yes")
    assert result.returncode == 0, result.stderr
    commands = echoed(result.stdout)
    assert commands[0].endswith("--delete-untagged --dry-run")
    assert commands[1:4] == [
        f"docker stop {s.name}",
        commands[0].removesuffix(" --dry-run"),
        f"docker start {s.name}",
    ]
    assert _freed_bytes(result.stderr) > 0
    assert "all 1 remaining tag(s) resolve" in result.stderr
    assert _blob_status(s, old_layer) == 404
    reference = f"localhost:{s.port}/rhdemo-api:1.2.0"
    docker("rmi", reference)
    assert docker("pull", reference, check=False, timeout=120).returncode == 0
    assert s.inspect("{{.State.Running}}") == "true"


def test_gc_with_nothing_to_free_does_not_stop_the_registry(stack):
    s = _created(stack)
    s.push("1.0.0")
    started = s.inspect("{{.State.StartedAt}}")
    result = s.invoke("registry.gc", "--yes")
    assert result.returncode == 0, result.stderr
    assert "Nothing to collect" in result.stderr
    assert s.inspect("{{.State.StartedAt}}") == started


def test_gc_is_refused_while_an_upload_is_in_progress(stack):
    s = _created(stack)
    s.push("1.0.0")
    with httpx.Client(base_url=s.url, timeout=10) as client:
        started = client.post("/v2/rhdemo-api/blobs/uploads/")
        assert started.status_code == 202
        chunk = client.patch(
            started.headers["Location"],
            content=b"x" * 4096,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert chunk.status_code == 202
    result = s.invoke("registry.gc", "--yes")
    assert result.returncode == 1
    assert "in progress" in result.stderr and "rhdemo-api" in result.stderr
    assert not any(line.startswith("docker stop") for line in echoed(result.stdout))
    assert s.inspect("{{.State.Running}}") == "true"


def test_prune_and_gc_keep_multi_arch_indexes_whole(stack):
    s = _created(stack)
    s.push("old")
    amd, arm = s.push("amd64"), s.push("arm64")
    index = _put_index(s, "multi", [_descriptor(s, arm), _descriptor(s, amd)])
    docker("rmi", amd, arm)
    pruned = s.invoke("registry.prune", "--keep", "1", "--yes")
    assert pruned.returncode == 0, pruned.stderr
    # multi is the newest; its platforms stay although they are older than the newest 1
    assert s.tags() == ["amd64", "arm64", "multi"]
    assert pruned.stdout.count("a platform of the kept multi-arch tag multi") == 2
    result = s.invoke("registry.gc", "--yes")
    assert result.returncode == 0, result.stderr
    assert "without --delete-untagged" in result.stderr
    assert all("--delete-untagged" not in line for line in echoed(result.stdout))
    with httpx.Client(base_url=s.url, timeout=10) as client:
        for child in index["manifests"]:
            got = client.get(f"/v2/rhdemo-api/manifests/{child['digest']}",
                             headers={"Accept": child["mediaType"]})  # fmt: skip
            assert got.status_code == 200


def test_gc_uses_registry_3s_config_path(tmp_path, registry3_image):
    s = Stack(tmp=tmp_path, image=registry3_image)
    try:
        _created(s)
        s.push("1.0.0")
        s.push("1.1.0")
        assert s.invoke("registry.prune", "--keep", "1", "--yes").returncode == 0
        result = s.invoke("registry.gc", "--yes")
        assert result.returncode == 0, result.stderr
        assert "garbage-collect /etc/distribution/config.yml" in result.stdout
        assert _freed_bytes(result.stderr) > 0
    finally:
        s.cleanup()


def test_gc_dry_prints_the_stop_the_world_script_and_stops_nothing(stack):
    s = _created(stack)
    s.push("1.0.0")
    result = s.invoke("--dry", "registry.gc")
    assert result.returncode == 0, result.stderr
    lines = [line for line in script_lines(result.stdout) if not line.startswith("#")]
    assert lines[0].endswith("--dry-run")
    assert lines[1] == f"docker stop {s.name}" and lines[2] == lines[0].removesuffix(" --dry-run")
    assert lines[3] == f"docker start {s.name}"
    assert s.inspect("{{.State.Running}}") == "true"


def _manifest(s: Stack, reference: str) -> httpx.Response:
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    return httpx.get(f"{s.url}/v2/rhdemo-api/manifests/{reference}",
                     headers={"Accept": accept}, timeout=10)  # fmt: skip


def _layers(s: Stack, tag: str) -> str:
    return _manifest(s, tag).json()["layers"][0]["digest"]


def _blob_status(s: Stack, digest: str) -> int:
    return httpx.head(f"{s.url}/v2/rhdemo-api/blobs/{digest}", timeout=10).status_code


def _descriptor(s: Stack, reference: str) -> dict:
    response = _manifest(s, reference.rsplit(":", 1)[1])
    arch = reference.rsplit(":", 1)[1]
    return {
        "mediaType": response.headers["Content-Type"],
        "digest": response.headers["Docker-Content-Digest"],
        "size": len(response.content),
        "platform": {"architecture": arch, "os": "linux"},
    }


def _put_index(s: Stack, tag: str, children: list[dict]) -> dict:
    media = "application/vnd.docker.distribution.manifest.list.v2+json"
    index = {"schemaVersion": 2, "mediaType": media, "manifests": children}
    response = httpx.put(f"{s.url}/v2/rhdemo-api/manifests/{tag}", json=index,
                         headers={"Content-Type": media}, timeout=10)  # fmt: skip
    assert response.status_code == 201, response.text
    return index


def test_the_check_after_gc_names_a_tag_whose_layer_is_gone(stack, busybox_image, monkeypatch):
    from stagingkub import settings
    from stagingkub.registry import gc as gc_ops
    from stagingkub.registry.plan import RegistrySpec
    from tests.support.stack import use_stack_settings

    s = _created(stack)
    s.push("1.0.0")
    s.push("1.1.0")
    layer = _layers(s, "1.0.0").split(":", 1)[1]
    blob = f"/var/lib/registry/docker/registry/v2/blobs/sha256/{layer[:2]}/{layer}"
    _blob_status(s, f"sha256:{layer}")  # now in the registry's in-memory descriptor cache
    docker("stop", s.name)  # lost while the registry is down, as during gc's collection
    docker(
        "run",
        "--rm",
        *s.label_args(),
        "-v",
        f"{s.volume}:/var/lib/registry",
        busybox_image,
        "busybox",
        "rm",
        "-r",
        blob,
    )  # fmt: skip (the stand-in links few applets)
    docker("start", s.name)
    s.wait_healthy()
    use_stack_settings(s, monkeypatch)
    checked, broken = gc_ops.broken_tags(RegistrySpec.from_settings(settings.load()))
    assert checked == 2
    assert broken == [f"rhdemo-api:1.0.0: blob sha256:{layer[:12]} answers 404"]


def _helm(s, *args: str) -> subprocess.CompletedProcess:
    argv = ["helm", *args, "--namespace", "rhdemo-staging", "--kube-context", f"kind-{s.cluster}"]
    return subprocess.run(argv, env=s.env(), capture_output=True, text=True, timeout=120)


def test_prune_protects_a_release_deployed_the_guides_way_with_the_charts_repository(
    app_stack, tmp_path
):
    # The guide's `helm upgrade --install --set rhdemo.image.tag=…` names no repository:
    # the chart's default does (here, a copy of the chart whose default is this registry).
    s = app_stack
    app = s.base["image"]["name"]
    _deploy_versions(s, ["1.0.0"])
    chart = tmp_path / "rhdemo"
    shutil.copytree(ROOT / "helm" / "rhdemo", chart)
    values = chart / "values.yaml"
    default = "repository: localhost:5000/rhdemo-api"
    assert default in values.read_text()
    values.write_text(values.read_text().replace(default, f"repository: localhost:{s.port}/{app}"))
    s.push("1.1.0", repository=app)
    upgraded = _helm(s, "upgrade", "--install", "rhdemo", str(chart), "--set",
                     "rhdemo.image.tag=1.1.0")  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    s.push("1.2.0", repository=app)
    s.push("1.3.0", repository=app)
    result = s.invoke("registry.prune", "--keep", "1", "--yes")
    assert result.returncode == 0, result.stderr
    assert s.tags(app) == ["1.0.0", "1.1.0", "1.3.0"]  # the release runs 1.1.0 by tag
    assert re.search(r"1\.1\.0 .* keep: deployed: the release runs revision 2", result.stdout)


def test_prune_protects_the_image_of_an_upgrade_still_pending(app_stack):
    s = app_stack
    app = s.base["image"]["name"]
    _deploy_versions(s, ["1.0.0"])
    (Path(s.extra_env["STANDIN_STATE"]) / "helm-slow").write_text("60\n")
    (s.app_dir / "pom.xml").write_text("<project><!-- 1.1.0 --></project>\n")
    upgrading = subprocess.Popen([sys.executable, "-m", "invoke", "deploy", "--version", "1.1.0"],
                                 cwd=ROOT, env=s.env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while _release_state(s)["info"]["status"] != "pending-upgrade":
            assert time.monotonic() < deadline and upgrading.poll() is None
            time.sleep(0.1)
        s.push("1.2.0", repository=app)
        result = s.invoke("registry.prune", "--keep", "1", "--yes")
    finally:
        os.killpg(upgrading.pid, signal.SIGTERM)
        upgrading.wait(30)
    assert result.returncode == 0, result.stderr
    assert s.tags(app) == ["1.0.0", "1.1.0", "1.2.0"]
    assert re.search(r"1\.1\.0 .* keep: revision 2 is pending-upgrade", result.stdout)
