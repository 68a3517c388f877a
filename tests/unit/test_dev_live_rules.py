"""The rules that choose a live update or the full cycle, and what a deleted source leaves."""

import pytest

from stagingkub.dev.forward import parse
from stagingkub.dev.live_rules import (
    Changes,
    annotation_value,
    class_outputs,
    full_cycle_reason,
    parse_annotation,
)
from stagingkub.errors import InputError
from stagingkub.validate import forward

JAVA = "src/main/java/io/stagingkub/example/HelloController.java"


def reason(changed=(), deleted=(), mode="auto", maven_app=True) -> str:
    return full_cycle_reason(Changes(tuple(changed), tuple(deleted)), mode=mode,
                             maven_app=maven_app)  # fmt: skip


@pytest.mark.parametrize(
    "changed, deleted",
    [
        ([JAVA], []),
        (["src/main/resources/application.properties"], []),
        ([], ["src/main/resources/static/hello.txt"]),
        ([JAVA, "src/main/resources/static/new.txt"], ["src/main/java/io/Old.java"]),
    ],
)
def test_classes_and_resources_only_are_served_live(changed, deleted):
    assert reason(changed, deleted) == ""


@pytest.mark.parametrize(
    "changed, named",
    [
        (["pom.xml"], "pom.xml"),
        (["Dockerfile", JAVA], "Dockerfile"),
        (["src/test/java/io/AppTest.java"], "src/test/java/io/AppTest.java"),
        ([".mvn/wrapper/maven-wrapper.properties"], ".mvn/wrapper/maven-wrapper.properties"),
        (["src/main/javax/A.java"], "src/main/javax/A.java"),  # a prefix, not the folder
    ],
)
def test_anything_else_runs_the_full_cycle_and_names_the_file(changed, named):
    assert reason(changed).startswith(f"{named}")
    assert "is not a class or resource" in reason(changed)


def test_two_files_outside_are_counted():
    assert reason(["pom.xml", "Dockerfile", JAVA]) == (
        "Dockerfile and 1 more is not a class or resource (src/main/java, src/main/resources)"
    )


def test_off_and_a_non_maven_app_always_run_the_full_cycle():
    assert reason([JAVA], mode="off") == "dev.live is off"
    assert "needs a Maven app" in reason([JAVA], maven_app=False)
    assert reason() == "nothing to sync"


def test_changes_between_two_records():
    old = {"a": "1", "b": "2", "c": "3"}
    new = {"a": "1", "b": "9", "d": "4"}
    changes = Changes.between(old, new)
    assert changes.changed == ("b", "d") and changes.deleted == ("c",)


def test_a_deleted_source_names_its_class_and_nested_classes_or_its_copy():
    assert class_outputs(JAVA) == (
        "io/stagingkub/example/HelloController.class",
        "io/stagingkub/example/HelloController$*.class",
    )
    assert class_outputs("src/main/resources/static/hello.txt") == ("static/hello.txt", "")


def test_the_pod_annotation_round_trips():
    value = annotation_value("r@sha256:abc", "sha256:def", 3)
    assert parse_annotation(value) == {"from": "r@sha256:abc", "inputs": "sha256:def", "files": "3"}


@pytest.mark.parametrize("value, ports", [("8080", (8080, 8080)), ("9090:8080", (9090, 8080))])
def test_forward_takes_local_and_pod_ports(value, ports):
    assert parse(forward(value, "--forward")) == ports


@pytest.mark.parametrize("value", ["", "0", "70000", "a:8080", "1:2:3", "8080:", " 8080"])
def test_a_bad_forward_is_refused_with_the_form(value):
    with pytest.raises(InputError, match=r"\[LOCAL:\]PORT"):
        forward(value, "--forward")


def test_a_taken_forward_port_is_refused_naming_its_holder():
    import os
    import socket

    from stagingkub.dev.forward import check_free

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(
            InputError, match=rf"localhost:{port} is already taken by pid {os.getpid()}"
        ):
            check_free(port)
    check_free(port)  # released: free again
