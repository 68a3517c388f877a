"""`invoke dev`: leave it running, save a file, and the new code runs; a save that changed
nothing runs nothing; a failure ends a cycle, not the loop; Ctrl-C leaves nothing behind.

`invoke dev` runs as a real subprocess in its own session, against the real engine and
registry, with the kind, kubectl and helm STAND-INS and the kind-node STAND-IN (real
containerd), as tests/integration/test_daily_loop.py does for `invoke deploy`.
"""

import json
import signal
import time
from pathlib import Path

import pytest

from tests.integration.test_daily_loop import VERSION, registry_digest, release
from tests.support.dev_process import DevProcess, group_members
from tests.support.stack import docker, fetch

pytestmark = pytest.mark.integration
QUIET = 2.5  # seconds to wait for output that must not come (debounce 300 ms, events 50 ms)


@pytest.fixture
def dev(demo_copy):
    """Start `invoke dev` on the demo app copy; stopped and checked for leftovers after."""
    started: list[DevProcess] = []

    def start(stack=demo_copy, *args: str) -> DevProcess:
        process = DevProcess(stack.env(), "--version", VERSION, *args)
        started.append(process)
        process.wait_for(r"^running .*; ready .* after dev started", timeout=180)
        return process

    yield start
    for process in started:
        process.kill()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def cycles(process: DevProcess) -> int:
    return sum(1 for line in process.err if line.startswith("-- dev cycle"))


def builds(process: DevProcess, since: int = 0) -> int:
    return sum(1 for c in process.commands(since) if c.startswith("docker build"))


def test_a_saved_change_rolls_out_and_a_touch_or_ignored_file_runs_nothing(dev, demo_copy):
    s = demo_copy
    process = dev()
    first = registry_digest(s, s.app_name)
    assert process.err[0].startswith(f"dev: watching {s.app_dir} (")
    assert "native events" in process.err[0] and "Ctrl-C stops" in process.err[0]

    index = s.app_dir / "www" / "index.html"
    since_out, since_err = len(process.out), len(process.err)
    index.write_text(index.read_text().replace("</body>", "<p>saved</p></body>"))
    process.wait_for(r"^running .*\(new\)", since=since_err)
    second = registry_digest(s, s.app_name)
    assert second != first
    assert release(s)["config"]["rhdemo"]["image"]["digest"] == second  # helm got it
    pinned = f"localhost:{s.port}/{s.app_name}:{VERSION}@{second}"
    assert fetch(f"{s.cluster}-control-plane", pinned).returncode == 0  # the node pulls it
    block = "\n".join(process.err[since_err:])
    assert "changed www/index.html" in block and "build" in block and "helm" in block
    assert builds(process, since_out) == 1

    since_out, since_err = len(process.out), len(process.err)
    index.touch()
    line = process.wait_for(r"^no input changed", since=since_err)
    assert "1 file (www/index.html)" in line
    for name in ("target/app.jar", ".stagingkub/x.json", "www/.index.html.swp", "www/x~"):
        write(s.app_dir / name, "not an input")
    time.sleep(QUIET)
    assert process.err[since_err + 1 :] == []  # the touch's line only: nothing for the rest
    assert builds(process, since_out) == 0
    assert release(s)["version"] == 2

    assert process.stop() == 130


def test_a_burst_of_saves_runs_exactly_one_build(dev, demo_copy):
    s = demo_copy
    process = dev()
    before_cycles, since_out = cycles(process), len(process.out)
    for number in range(50):
        write(s.app_dir / "www" / "burst" / f"page{number}.html", f"<p>{number}</p>\n")
    process.wait_for(r"^running .*\(new\)", since=len(process.err) - 1)
    time.sleep(QUIET)
    assert cycles(process) == before_cycles + 1
    assert builds(process, since_out) == 1
    assert "and 45 more" in process.text()
    assert process.stop() == 130


def test_a_broken_dockerfile_is_reported_the_loop_lives_and_the_fix_deploys(dev, demo_copy):
    s = demo_copy
    process = dev()
    dockerfile = s.app_dir / "Dockerfile"
    good = dockerfile.read_text()
    since = len(process.err)
    dockerfile.write_text(good.replace("COPY www/ /www/", "COPY missing-folder/ /www/"))
    failure = process.wait_for(r"^dev cycle \d+ failed at build", since=since)
    assert "Command failed" in failure
    assert process.process.poll() is None  # still watching
    assert release(s)["version"] == 1  # the last good release still runs

    since = len(process.err)
    dockerfile.write_text(good.replace("EXPOSE 8080", "EXPOSE 8080\nENV FIXED=1"))
    process.wait_for(r"^running .*\(new\)", since=since)
    assert release(s)["version"] == 2
    assert release(s)["config"]["rhdemo"]["image"]["digest"] == registry_digest(s, s.app_name)
    assert process.stop(signal.SIGTERM) == 130


def test_ctrl_c_during_an_mvnw_build_stops_it_and_leaves_no_process(dev, app_stack):
    s = app_stack
    write(s.app_dir / "src" / "main" / "java" / "App.java", "class App {}\n")
    process = dev(s)
    since = len(process.out)
    write(s.app_dir / "slow-build", "60\n")  # the stand-in's next build sleeps 60 s first
    deadline = time.monotonic() + 30
    while not any("./mvnw" in c for c in process.commands(since)):
        assert time.monotonic() < deadline, process.text()
        time.sleep(0.05)
    time.sleep(0.5)  # the build is in its sleep
    assert len(group_members(process.group)) > 1  # the build's processes run in the group
    started = time.monotonic()
    assert process.stop(signal.SIGINT) == 130
    assert time.monotonic() - started < 20  # the build was stopped, not waited for
    assert group_members(process.group) == []
    assert "dev stopped" in process.text()
    state = release(s)
    assert state["info"]["status"] == "deployed" and state["version"] == 1
    assert "is deployed (revision 1)" in process.text()


def test_dry_dev_refuses_and_points_at_dry_deploy(demo_copy):
    result = demo_copy.invoke("--dry", "dev")
    assert result.returncode == 1
    assert "invoke --dry deploy" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == "" and not demo_copy.exists()


def test_polling_is_chosen_by_flag_and_still_deploys_a_change(dev, demo_copy):
    s = demo_copy
    process = dev(s, "--poll")
    assert "polling every 1 s: --poll" in process.err[0]
    since = len(process.err)
    (s.app_dir / "www" / "index.html").write_text("<html><body>polled</body></html>\n")
    process.wait_for(r"^running .*\(new\)", since=since)
    assert json.dumps(release(s)["config"]).count(registry_digest(s, s.app_name)) == 1
    assert process.stop() == 130


def test_logs_follow_the_ready_pod_between_cycles_and_the_new_pod_after_a_rollout(dev, demo_copy):
    s = demo_copy
    process = dev(s, "--logs")
    process.wait_for(r"^\[logs\] following rhdemo-1f8b6c5-ready")
    log = Path(s.extra_env["STANDIN_STATE"]) / f"kind-{s.cluster}" / "canned" / "logs.txt"
    log.write_text("10.244.0.1 GET /actuator/health/readiness 200\n")  # what httpd -v writes
    process.wait_for(r"^\[ready\] 10\.244\.0\.1 GET /actuator/health/readiness 200$")

    since = len(process.err)
    (s.app_dir / "www" / "index.html").write_text("<html><body>v2</body></html>\n")
    process.wait_for(r"^running .*\(new\)", since=since)
    process.wait_for(r"^\[logs\] following rhdemo-2f8b6c5-ready", since=since)
    assert process.stop() == 130
    assert group_members(process.group) == []  # the log stream was stopped too


def test_a_build_that_writes_into_its_own_sources_costs_one_extra_build_not_a_storm(dev, app_stack):
    s = app_stack
    write(s.app_dir / "src" / "main" / "java" / "App.java", "class App {}\n")
    write(s.app_dir / "writes-source", "yes\n")  # each build writes src/generated/Stamp.java
    process = dev(s)
    process.wait_for(r"^the build writes src/generated/Stamp\.java inside the watched files")
    time.sleep(QUIET)
    mvnw_runs = [c for c in process.commands() if "./mvnw" in c]
    assert len(mvnw_runs) == 2  # the first deploy, then one extra: never a third
    assert ".gitignore" in process.text()

    since = len(process.out)
    write(s.app_dir / "src" / "main" / "java" / "App.java", "class App { int v = 2; }\n")
    process.wait_for(r"^running .*\(new\)", since=len(process.err) - 1)
    time.sleep(QUIET)
    assert len([c for c in process.commands(since) if "./mvnw" in c]) == 1  # a real change
    assert process.stop() == 130


@pytest.mark.parametrize(
    ("helm_version", "said"),
    [
        ("v4.1.4", "the release rhdemo is deployed (revision 3)"),  # helm rolled it back
        ("v3.6.3", "left rhdemo pending-upgrade: it was rolled back"),  # dev rolled it back
    ],
)
def test_ctrl_c_during_helm_upgrade_leaves_no_pending_release(dev, demo_copy, helm_version, said):
    s = demo_copy
    s.extra_env["STANDIN_HELM_VERSION"] = helm_version
    process = dev(s)
    first = release(s)["config"]["rhdemo"]["image"]["digest"]
    (Path(s.extra_env["STANDIN_STATE"]) / "helm-slow").write_text("60\n")
    since = len(process.out)
    (s.app_dir / "www" / "index.html").write_text("<html><body>v2</body></html>\n")
    deadline = time.monotonic() + 60
    while release(s)["info"]["status"] != "pending-upgrade":  # helm is waiting for the pods
        assert time.monotonic() < deadline, process.text()
        time.sleep(0.05)
    assert any(c.startswith("helm upgrade --install") for c in process.commands(since))
    assert process.stop(signal.SIGINT) == 130
    assert group_members(process.group) == []
    state = release(s)
    assert state["info"]["status"] == "deployed" and state["version"] == 3
    assert state["config"]["rhdemo"]["image"]["digest"] == first  # the last good release runs
    assert said in process.text()


def test_a_failed_rollout_prints_its_cause_keeps_the_release_and_a_later_save_deploys(
    dev, demo_copy
):
    s = demo_copy
    process = dev()
    node, rule = f"{s.cluster}-control-plane", f"/etc/containerd/certs.d/localhost:{s.port}"
    wiring = docker("exec", node, "cat", f"{rule}/hosts.toml").stdout
    docker("exec", node, "rm", f"{rule}/hosts.toml")  # the node can no longer reach the registry
    since = len(process.err)
    (s.app_dir / "www" / "index.html").write_text("<html><body>v2</body></html>\n")
    process.wait_for(r"^dev cycle \d+ failed at helm", since=since)
    text = "\n".join(process.err[since:])
    assert "The pods cannot pull their image" in text  # the deploy's diagnostics
    assert release(s)["version"] == 1 and process.process.poll() is None

    docker("exec", "-i", node, "sh", "-c", f"cat > {rule}/hosts.toml", stdin=wiring)
    since = len(process.err)
    (s.app_dir / "www" / "index.html").write_text("<html><body>v3</body></html>\n")
    process.wait_for(r"^running .*\(new\)", since=since)
    assert release(s)["version"] == 2
    assert release(s)["config"]["rhdemo"]["image"]["digest"] == registry_digest(s, s.app_name)
    assert process.stop() == 130
