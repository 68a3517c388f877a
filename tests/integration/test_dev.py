"""`invoke dev`: leave it running, save a file, and the new code runs; a save that changed
nothing runs nothing; a failure ends a cycle, not the loop; Ctrl-C leaves nothing behind.

`invoke dev` runs as a real subprocess in its own session, against the real engine and
registry, with the kind, kubectl and helm STAND-INS and the kind-node STAND-IN (real
containerd), as tests/integration/test_daily_loop.py does for `invoke deploy`.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.integration.test_daily_loop import VERSION, registry_digest, release
from tests.support.dev_process import DevProcess, group_members
from tests.support.stack import docker, fetch

pytestmark = pytest.mark.integration
QUIET = 2.5  # seconds to wait for output that must not come (debounce 200 ms, events 50 ms)


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
    for name in ("node_modules/x.js", ".stagingkub/x.json", "www/.index.html.swp", "www/x~"):
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
    echo = r"^src/generated/Stamp\.java changed while each of the last two builds ran"
    process.wait_for(echo)
    time.sleep(QUIET)
    mvnw_runs = [c for c in process.commands() if "./mvnw" in c]
    assert len(mvnw_runs) == 2  # the first deploy, then one extra: never a third
    assert ".gitignore" in process.text()

    since, since_err = len(process.out), len(process.err)
    write(s.app_dir / "src" / "main" / "java" / "App.java", "class App { int v = 2; }\n")
    process.wait_for(r"^running .*\(new\)", since=since_err)
    process.wait_for(echo, since=since_err)
    time.sleep(QUIET)
    # The change, then the one extra build its stamp costs: nothing is silenced for good.
    assert len([c for c in process.commands(since) if "./mvnw" in c]) == 2
    assert process.stop() == 130


def test_a_file_saved_during_two_builds_in_a_row_is_still_built_when_saved_again(dev, app_stack):
    s = app_stack
    app_java = s.app_dir / "src" / "main" / "java" / "App.java"
    write(app_java, "class App {}\n")
    process = dev(s)

    def during_next_build(text: str) -> None:
        since = len(process.out)
        deadline = time.monotonic() + 60
        while not any("./mvnw" in c for c in process.commands(since)):
            assert time.monotonic() < deadline, process.text()
            time.sleep(0.05)
        time.sleep(0.5)  # the build is in its sleep
        write(app_java, text)

    write(s.app_dir / "slow-build", "4\n")  # each build now takes 4 s
    during_next_build("class App { int v = 1; }\n")
    during_next_build("class App { int v = 2; }\n")  # saved while two builds in a row ran
    skipped = len(process.err)
    process.wait_for(r"^running ", since=skipped, timeout=60)  # that second build's cycle
    time.sleep(QUIET)
    since, since_err = len(process.out), len(process.err)
    write(app_java, "class App { int v = 3; }\n")  # saved while no build runs: built
    process.wait_for(r"^running .*\(new\)", since=since_err, timeout=60)
    assert "changed src/main/java/App.java" in "\n".join(process.err[since_err:])
    assert len([c for c in process.commands(since) if "./mvnw" in c]) == 1
    # The save during the second build looked like a build writing its sources: said so.
    said = "\n".join(process.err[skipped:since_err])
    assert "src/main/java/App.java changed while each of the last two builds ran" in said
    assert process.stop() == 130


def test_the_demo_apps_target_folder_is_an_input_and_starts_a_cycle(dev, demo_copy):
    # The Dockerfile strategy: our build writes no target/, so what an IDE writes there
    # (a `mvn package` for `COPY target/*.jar app.jar`) starts a cycle that names it.
    s = demo_copy
    process = dev()
    since = len(process.err)
    write(s.app_dir / "target" / "app.jar", "built by the IDE")
    write(s.app_dir / "src" / "main" / "java" / "com" / "acme" / "build" / "Version.java", "v")
    header = process.wait_for(r"^-- dev cycle \d+ ", since=since)
    assert "added src/main/java/com/acme/build/Version.java, target/app.jar" in header
    process.wait_for(r"^running ", since=since)
    assert process.stop() == 130


def test_ctrl_c_again_while_dev_stops_still_exits_130_with_its_message(dev, demo_copy):
    process = dev()
    os.kill(process.process.pid, signal.SIGINT)
    for _ in range(20):  # Ctrl-C pressed again and again while dev stops
        time.sleep(0.05)
        if process.process.poll() is not None:
            break
        os.kill(process.process.pid, signal.SIGINT)
    code = process.stop()
    assert code == 130, process.text()
    assert any(line.startswith("stagingkub: dev stopped") for line in process.err), process.text()
    assert "Traceback" not in process.text()
    assert group_members(process.group) == []


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
