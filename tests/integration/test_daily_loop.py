"""The daily loop: `invoke deploy --version V` again and again as the code changes.

Real engine and registry; the kind, kubectl and helm STAND-INS and the kind-node STAND-IN
(real containerd): the helm stand-in renders with the real `helm template`, pulls every
rendered image in the node through hosts.toml, and keeps the release as `helm status -o
json` prints it. A changed app must roll to its new digest; an unchanged one must run
no build, no push and no helm upgrade.
"""

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from stagingkub.settings import ROOT
from tests.support.stack import RUN_ID, TEST_LABEL, docker, echoed, fetch, script_lines

pytestmark = pytest.mark.integration

VERSION = "1.1.0-SNAPSHOT"
MANIFESTS = (
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json"
)


def registry_digest(s, name: str, tag: str = VERSION) -> str:
    answer = httpx.head(f"{s.url}/v2/{name}/manifests/{tag}", headers={"Accept": MANIFESTS},
                        timeout=5)  # fmt: skip
    assert answer.status_code == 200, answer.status_code
    return answer.headers["Docker-Content-Digest"]


def release(s) -> dict:
    """What the helm stand-in keeps: the release as `helm status -o json` prints it."""
    path = Path(s.extra_env["STANDIN_STATE"]) / "helm" / f"kind-{s.cluster}" / "rhdemo-staging"
    return json.loads((path / "rhdemo.json").read_text())


def rendered(s) -> str:
    """The manifests the real `helm template` rendered for the last upgrade."""
    path = Path(s.extra_env["STANDIN_STATE"]) / "helm" / f"kind-{s.cluster}" / "rhdemo-staging"
    return (path / "rhdemo.yaml").read_text()


def pods(s) -> list[dict]:
    path = Path(s.extra_env["STANDIN_STATE"]) / f"kind-{s.cluster}" / "canned" / "pods.json"
    return json.loads(path.read_text())["items"]


def calls(s, since: int) -> list[list[str]]:
    lines = s.standin_log.read_text().splitlines()[since:] if s.standin_log.exists() else []
    return [json.loads(line) for line in lines]


def log_length(s) -> int:
    return len(s.standin_log.read_text().splitlines()) if s.standin_log.exists() else 0


def deploy(s, *args: str, **env: str):
    result = s.invoke("deploy", "--version", VERSION, *args, **env)
    assert result.returncode == 0, result.stderr
    return result


def test_demo_app_change_rolls_the_new_digest_and_an_unchanged_deploy_does_nothing(demo_copy):
    s = demo_copy
    first = deploy(s)
    digest1 = registry_digest(s, s.app_name)
    assert release(s)["config"]["rhdemo"]["image"]["digest"] == digest1
    pod1 = pods(s)[0]
    assert pod1["status"]["containerStatuses"][0]["imageID"].endswith(digest1)
    assert "step" in first.stderr and "total" in first.stderr  # the closing table

    index = s.app_dir / "www" / "index.html"
    index.write_text(index.read_text().replace("</body>", "<p>changed</p></body>"))
    second = deploy(s)
    digest2 = registry_digest(s, s.app_name)
    assert digest2 != digest1
    assert "changed www/index.html" in second.stderr
    commands = echoed(second.stdout)
    assert any(c.startswith("docker build") for c in commands)
    assert f"docker push localhost:{s.port}/{s.app_name}:{VERSION}" in commands
    assert commands[-1].startswith("helm upgrade --install")
    assert release(s)["config"]["rhdemo"]["image"]["digest"] == digest2
    pinned = f"localhost:{s.port}/{s.app_name}:{VERSION}@{digest2}"
    assert f'image: "{pinned}"' in rendered(s)  # the real helm template
    assert fetch(f"{s.cluster}-control-plane", pinned).returncode == 0  # the node's containerd
    pod2 = pods(s)[0]
    assert pod2["metadata"]["name"] != pod1["metadata"]["name"]  # it rolled
    assert pod2["status"]["containerStatuses"][0]["imageID"].endswith(digest2)

    since = log_length(s)
    third = deploy(s)
    assert echoed(third.stdout) == []  # no build, no tag, no push, no helm upgrade
    assert not [c for c in calls(s, since) if c[:2] == ["helm", "upgrade"]]
    assert "build skipped" in third.stderr and "helm upgrade skipped" in third.stderr
    assert pods(s)[0]["metadata"]["name"] == pod2["metadata"]["name"]  # the same pod
    assert release(s)["version"] == 2


def test_forcing_a_step_runs_it_and_an_identical_upgrade_renders_the_same(demo_copy):
    s = demo_copy
    deploy(s)
    manifest, pod = rendered(s), pods(s)[0]["metadata"]["name"]
    forced = deploy(s, "--force-build", "--force-deploy")
    commands = echoed(forced.stdout)
    assert any(c.startswith("docker build") for c in commands)
    assert commands[-1].startswith("helm upgrade --install")
    assert not any(c.startswith("docker push") for c in commands)  # the same image
    assert rendered(s) == manifest and pods(s)[0]["metadata"]["name"] == pod
    assert release(s)["version"] == 2


def test_diag_k8s_names_a_pod_that_runs_an_older_digest_than_the_registry(demo_copy):
    s = demo_copy
    deploy(s)
    old = registry_digest(s, s.app_name)
    (s.app_dir / "www" / "index.html").write_text("<html><body>new</body></html>\n")
    for task in ("image.build", "image.push"):  # pushed, not deployed
        assert s.invoke(task, "--version", VERSION).returncode == 0
    new = registry_digest(s, s.app_name)
    report = s.invoke("diag.k8s")
    assert report.returncode == 1
    text = report.stdout + report.stderr
    assert f"stale: runs {old}, the registry has {new} for {VERSION}" in text
    assert f"invoke deploy.helm --version {VERSION}" in text
    assert s.invoke("deploy.helm", "--version", VERSION).returncode == 0
    assert s.invoke("diag.k8s").returncode == 0


def test_mvnw_app_rebuilds_on_a_source_change_and_not_on_ignored_files(app_stack):
    s = app_stack
    source = s.app_dir / "src" / "main" / "java" / "App.java"
    source.parent.mkdir(parents=True)
    source.write_text('class App { String hello() { return "1"; } }\n')
    (s.app_dir / ".gitignore").write_text("target/\n*.log\n")
    git = ["git", "-C", str(s.app_dir)]
    subprocess.run([*git, "init", "-q"], check=True, timeout=30)
    subprocess.run([*git, "add", "-A"], check=True, timeout=30)

    deploy(s)
    digest1 = registry_digest(s, s.base["image"]["name"])
    (s.app_dir / "target").mkdir()
    (s.app_dir / "target" / "app.jar").write_text("build output")
    (s.app_dir / "debug.log").write_text("ignored by git")
    unchanged = deploy(s)
    assert echoed(unchanged.stdout) == []

    source.write_text('class App { String hello() { return "2"; } }\n')
    (s.app_dir / "NOTES.md").write_text("untracked, not ignored: an input")
    changed = deploy(s)
    assert "changed src/main/java/App.java; added NOTES.md" in changed.stderr
    assert any("./mvnw" in c for c in echoed(changed.stdout))
    digest2 = registry_digest(s, s.base["image"]["name"])
    assert digest2 != digest1
    assert release(s)["config"]["rhdemo"]["image"]["digest"] == digest2
    pinned = f"localhost:{s.port}/{s.base['image']['name']}:{VERSION}@{digest2}"
    assert fetch(f"{s.cluster}-control-plane", pinned).returncode == 0
    assert echoed(deploy(s).stdout) == []


def test_a_missing_record_or_another_builder_setting_rebuilds_and_says_why(app_stack):
    s = app_stack
    assert s.invoke("image.build", "--version", VERSION).returncode == 0
    shutil.rmtree(s.files_dir / "builds")
    again = s.invoke("image.build", "--version", VERSION)
    assert "no record of the inputs that built the local image" in again.stderr
    s.base["image"]["builder_pull"] = "always"
    s.write_profile()
    other = s.invoke("image.build", "--version", VERSION)
    assert "other build settings (pull_policy)" in other.stderr
    assert "-Dspring-boot.build-image.pullPolicy=ALWAYS" in other.stdout


def test_the_version_comes_from_the_pom_when_left_out(app_stack):
    s = app_stack
    (s.app_dir / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <parent><artifactId>spring-boot-starter-parent</artifactId>"
        "<version>3.4.1</version></parent>\n"
        "  <version>${revision}</version>\n"
        "  <properties><revision>2.3.4-SNAPSHOT</revision></properties>\n"
        "  <dependencies><dependency><version>9.9.9</version></dependency></dependencies>\n"
        "</project>\n"
    )
    result = s.invoke("deploy")
    assert result.returncode == 0, result.stderr
    assert "version 2.3.4-SNAPSHOT (from " in result.stderr and "pom.xml <version>" in result.stderr
    assert s.tags(s.base["image"]["name"]) == ["2.3.4-SNAPSHOT"]
    assert release(s)["config"]["rhdemo"]["image"]["tag"] == "2.3.4-SNAPSHOT"


def test_the_dry_script_runs_in_another_checkout_under_bash_strict_mode(kind_stack, busybox_image,
                                                                       tmp_path):  # fmt: skip
    s = kind_stack
    checkout = tmp_path / "jenkins-workspace"
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                             check=True, timeout=30).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    dockerfile = checkout / "examples" / "demo-app" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f'LABEL {TEST_LABEL}="{RUN_ID}"\n')
    name = f"{s.prefix}-demo"
    s.base.update(
        image={"strategy": "dockerfile", "app_dir": "examples/demo-app", "name": name},
        deploy={"values_file": "examples/demo-app/values.yaml", "timeout": "2m"},
    )
    s.write_profile(cluster={"files_dir": f".stagingkub-{s.prefix}"})
    printed = s.invoke("--dry", "deploy", "--version", VERSION)
    assert printed.returncode == 0, printed.stderr
    script = printed.stdout
    assert str(ROOT) not in script  # no path of the checkout it was printed in
    assert "./helm/rhdemo" in script and "for i in $(seq 1 20)" in script  # a real wait
    assert not s.exists()  # printing ran nothing

    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=checkout,
                         env=s.env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert s.tags(name) == [VERSION]
    digest = registry_digest(s, name)
    assert release(s)["config"]["rhdemo"]["image"]["digest"] == digest
    assert (checkout / f".stagingkub-{s.prefix}" / s.cluster / "kind-config.yaml").is_file()
    assert fetch(f"{s.cluster}-control-plane", f"localhost:{s.port}/{name}:{VERSION}@{digest}"
                 ).returncode == 0  # fmt: skip
    docker("rmi", f"{name}:{VERSION}", f"localhost:{s.port}/{name}:{VERSION}", check=False)


def test_the_dry_script_of_a_converged_host_says_why_each_step_is_skipped(demo_copy):
    s = demo_copy
    deploy(s)
    printed = s.invoke("--dry", "deploy", "--version", VERSION)
    assert printed.returncode == 0, printed.stderr
    lines = script_lines(printed.stdout)
    assert lines and all(line.startswith("# ") for line in lines), lines
    text = "\n".join(lines)
    for words in ("up to date", "build skipped", "push skipped", "helm upgrade skipped"):
        assert words in text, words
    since = log_length(s)
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", printed.stdout], cwd=ROOT,
                         env=s.env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ran.returncode == 0 and calls(s, since) == []
