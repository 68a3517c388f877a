"""Live update's warm javac (stagingkub/dev/javac_server.py, LiveJavac.java) with the real
JDK: it compiles what a new javac compiles, sees every save (nothing cached between
requests but the jars), says the app's errors, and when it is gone or stuck a new javac
does the compile. Live update's order: a deleted source's classes go before the compile."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stagingkub.dev.javac_server import JavacServer, ServerGone, java_of_javac
from stagingkub.dev.live import Live
from stagingkub.dev.live_compile import compile_changes
from stagingkub.dev.live_rules import Changes
from stagingkub.dev.live_sync import CompileFailed
from stagingkub.settings import ROOT

pytestmark = pytest.mark.integration

GREETER = 'package demo;\npublic class Greeter { public static String hi() { return "%s"; } }\n'
APP = "package demo;\npublic class App { String say() { return Greeter.hi(); } }\n"
# ./mvnw: dependency:build-classpath writes the (empty) classpath; compile runs javac on
# the module, as Maven's compiler plugin does
FAKE_MVNW = """#!/bin/sh
for arg in "$@"; do
  case $arg in
    -Dmdep.outputFile=*) : > "${arg#*=}" ;;
    compile) exec javac -d target/classes $(find src/main/java -name '*.java') ;;
  esac
done
"""


@pytest.fixture
def app(tmp_path) -> Path:
    if java_of_javac() is None:
        pytest.skip("no JDK (javac and java) on PATH")
    app = tmp_path / "app"
    (app / "src/main/java/demo").mkdir(parents=True)
    (app / "target/classes").mkdir(parents=True)
    (app / "pom.xml").write_text("<project/>\n")
    (app / "mvnw").write_text(FAKE_MVNW)
    (app / "mvnw").chmod(0o755)
    write(app, "Greeter", GREETER % "one")
    write(app, "App", APP)
    return app


def write(app: Path, name: str, text: str) -> None:
    (app / f"src/main/java/demo/{name}.java").write_text(text)


def greeting(app: Path) -> str:
    """The string constant in the compiled Greeter (what a pod would serve)."""
    data = (app / "target/classes/demo/Greeter.class").read_bytes()
    return next(w for w in ("one", "two", "three") if w.encode() in data)


@pytest.fixture
def server(app):
    server = JavacServer(app, java_of_javac())
    server.start()
    yield server
    server.close()


def test_the_warm_javac_compiles_each_save_as_a_new_javac_would(app, server, tmp_path):
    changes = Changes(changed=("src/main/java/demo/Greeter.java",), deleted=())
    assert compile_changes(app, changes, tmp_path / "cache", server) == "warm javac"
    assert greeting(app) == "one"
    for word in ("two", "three"):  # the same JVM: no source or class kept from before
        write(app, "Greeter", GREETER % word)
        assert compile_changes(app, changes, tmp_path / "cache", server) == "warm javac"
        assert greeting(app) == word
    warm = (app / "target/classes/demo/App.class").read_bytes()
    shutil.rmtree(app / "target/classes/demo")
    assert compile_changes(app, changes, tmp_path / "cache", None) == "javac"
    assert (app / "target/classes/demo/App.class").read_bytes() == warm


def test_the_apps_compile_error_is_said_and_the_server_keeps_serving(app, server, tmp_path):
    write(app, "Greeter", GREETER.replace("return", "retrun"))
    changes = Changes(changed=("src/main/java/demo/Greeter.java",), deleted=())
    code, said = server.compile(["-d", "target/classes"], ["src/main/java/demo/Greeter.java"], 60)
    assert code == 1 and "Greeter.java:2: error:" in said
    write(app, "Greeter", GREETER % "two")
    assert compile_changes(app, changes, tmp_path / "cache", server) == "warm javac"
    assert greeting(app) == "two"


def test_a_server_killed_or_stuck_hands_the_compile_to_a_new_javac(app, server, tmp_path):
    changes = Changes(changed=("src/main/java/demo/Greeter.java",), deleted=())
    os.kill(server._process.pid, signal.SIGKILL)
    server._process.wait(timeout=10)
    write(app, "Greeter", GREETER % "two")
    assert compile_changes(app, changes, tmp_path / "cache", server) == "javac"
    assert greeting(app) == "two"
    stuck = JavacServer(app, java_of_javac())
    stuck.start()
    os.kill(stuck._process.pid, signal.SIGSTOP)  # alive, never answering
    try:
        with pytest.raises(ServerGone, match="did not answer in time"):
            stuck.compile(["-d", "target/classes"], ["src/main/java/demo/App.java"], 1.0)
        assert not stuck.running  # closed: the next dev cycle starts another
    finally:
        stuck.close()


def test_a_deleted_class_still_in_use_fails_the_compile_instead_of_a_stale_class(app, tmp_path):
    changes = Changes(changed=(), deleted=())
    compile_changes(app, changes, tmp_path / "cache")
    (app / "src/main/java/demo/Greeter.java").unlink()  # App still calls Greeter.hi()
    live = Live(app, ["false"], "ns", "rel", "auto", tmp_path / "cache")
    deleted = Changes(changed=(), deleted=("src/main/java/demo/Greeter.java",))
    with pytest.raises(CompileFailed, match="cannot find symbol"):
        live.update(deleted, "inputs", "image")
    assert not (app / "target/classes/demo/Greeter.class").exists()


def test_no_jdk_means_no_server(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert java_of_javac() is None


def test_the_server_ends_with_the_dev_that_started_it_even_when_killed(app, tmp_path):
    """dev killed with SIGKILL leaves no JVM behind: the server's stdin closes, it exits."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from stagingkub.dev.javac_server import JavacServer, java_of_javac\n"
        "server = JavacServer(Path(sys.argv[1]), java_of_javac())\n"
        "server.start()\n"
        "print(server._process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    dev = subprocess.Popen([sys.executable, "-c", script, str(app)], stdout=subprocess.PIPE,
                           text=True, cwd=ROOT)  # fmt: skip
    pid = int(dev.stdout.readline())
    dev.kill()
    dev.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.1)
    assert not _running(pid)


def _running(pid: int) -> bool:
    try:  # a zombie has ended (its parent, gone, never reaped it)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
