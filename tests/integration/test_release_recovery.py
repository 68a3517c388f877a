"""A release an aborted run left pending-* is recovered by the next deploy, without a
person: with the helm STAND-IN (it keeps revisions and answers history, rollback and
uninstall as `helm ... -o json` does) and the kind, kubectl and kind-node STAND-INS."""

import json
import time
from pathlib import Path

import pytest

from tests.support.stack import echoed

pytestmark = pytest.mark.integration

VERSION = "1.0.0"


def release_dir(s) -> Path:
    return Path(s.extra_env["STANDIN_STATE"]) / "helm" / f"kind-{s.cluster}" / "rhdemo-staging"


def leave_pending(s, status: str, seconds_ago: float, revision: int | None = None) -> int:
    """What an aborted `helm upgrade` leaves: a newer revision in a pending state."""
    path = release_dir(s) / "rhdemo.json"
    release = json.loads(path.read_text()) if path.exists() else {"version": 0, "info": {}}
    when = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(time.time() - seconds_ago))
    release["version"] = revision or release["version"] + 1
    release["info"] = {**release["info"], "status": status, "last_deployed": when}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(release))
    return release["version"]


def status(s) -> dict:
    return json.loads((release_dir(s) / "rhdemo.json").read_text())


@pytest.mark.parametrize("helm_version", ["v3.16.2", "v4.1.4"])
def test_an_old_pending_upgrade_is_rolled_back_then_upgraded(app_stack, helm_version):
    s = app_stack
    s.extra_env["STANDIN_HELM_VERSION"] = helm_version  # each refuses the other's flags
    assert s.invoke("deploy", "--version", VERSION).returncode == 0
    leave_pending(s, "pending-upgrade", seconds_ago=600)  # deploy.timeout is 2m here
    result = s.invoke("deploy.helm", "--version", VERSION)
    assert result.returncode == 0, result.stderr
    commands = echoed(result.stdout)
    assert commands[0] == (f"helm rollback rhdemo 1 --namespace rhdemo-staging "
                           f"--kube-context kind-{s.cluster}")  # fmt: skip
    assert "left pending-upgrade (revision 2" in result.stderr and "rolling back" in result.stderr
    assert status(s)["info"]["status"] == "deployed"


def test_a_young_pending_release_is_refused_with_the_time_left_unless_recover(app_stack):
    s = app_stack
    assert s.invoke("deploy", "--version", VERSION).returncode == 0
    leave_pending(s, "pending-upgrade", seconds_ago=5)
    refused = s.invoke("deploy.helm", "--version", VERSION)
    assert refused.returncode == 1
    assert "another helm run may still be working on it" in refused.stderr
    assert "--recover" in refused.stderr and echoed(refused.stdout) == []
    recovered = s.invoke("deploy.helm", "--version", VERSION, "--recover")
    assert recovered.returncode == 0, recovered.stderr
    assert echoed(recovered.stdout)[0].startswith("helm rollback rhdemo 1 ")


def test_a_pending_install_that_never_deployed_is_uninstalled_then_installed(app_stack):
    s = app_stack
    assert s.invoke("cluster.create").returncode == 0  # the registry and the cluster
    assert s.invoke("image.build", "--version", VERSION).returncode == 0
    assert s.invoke("image.push", "--version", VERSION).returncode == 0
    leave_pending(s, "pending-install", seconds_ago=600, revision=1)
    result = s.invoke("deploy.helm", "--version", VERSION)
    assert result.returncode == 0, result.stderr
    commands = echoed(result.stdout)
    assert commands[0].startswith("helm uninstall rhdemo --namespace rhdemo-staging")
    assert commands[-1].startswith("helm upgrade --install rhdemo")
    assert status(s)["info"]["status"] == "deployed" and status(s)["version"] == 1
