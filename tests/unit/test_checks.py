"""diag's engine: concurrency, prerequisites, timeouts, shared state and the reports."""

import json
import threading
import time
import xml.etree.ElementTree as ET

from stagingkub.diag.engine import (
    FAIL,
    OK,
    SKIP,
    WARN,
    Check,
    Probe,
    Result,
    render_json,
    render_junit,
    render_text,
    run_all,
    run_one,
)


def answer(verdict, fix=""):
    return lambda probe: Result("x", verdict, f"said {verdict}", ["evidence line"], fix=fix)


def test_a_check_whose_prerequisite_failed_is_skipped_with_the_reason():
    checks = [
        Check("engine", answer(FAIL, fix="start it")),
        Check("registry", answer(OK), ("engine",)),
        Check("pull", answer(OK), ("registry",)),
        Check("disk", answer(WARN)),
    ]
    results = {r.check: r for r in run_all(checks, Probe(settings=None), timeout=5)}
    assert [results[n].verdict for n in ("engine", "registry", "pull", "disk")] == [
        FAIL, SKIP, SKIP, WARN,
    ]  # fmt: skip
    assert results["registry"].summary == "skipped: engine did not pass"
    assert results["pull"].summary == "skipped: registry did not pass"


def test_a_hanging_check_is_cut_at_its_timeout_and_the_others_still_answer():
    def hang(probe):
        time.sleep(30)

    checks = [Check("hang", hang), Check("quick", answer(OK))]
    results = {r.check: r for r in run_all(checks, Probe(settings=None), timeout=0.3)}
    assert results["hang"].verdict == FAIL
    assert results["hang"].summary == "no answer within 0.3 s (diag.timeout)"
    assert results["quick"].verdict == OK


def test_an_exception_in_a_check_is_a_failure_not_a_crash():
    def broken(probe):
        raise ValueError("the engine answered half a document")

    result = run_one(Check("broken", broken), Probe(settings=None), timeout=5)
    assert result.verdict == FAIL and "half a document" in result.summary


def test_a_check_with_its_own_bound_is_not_cut_at_diag_timeout():
    def slow(probe):
        time.sleep(0.5)
        return Result("slow", OK, "done")

    cut = run_one(Check("slow", slow), Probe(settings=None), timeout=0.1)
    assert cut.verdict == FAIL and "no answer within 0.1 s (diag.timeout)" in cut.summary
    bounded = run_one(Check("slow", slow, bound=5), Probe(settings=None), timeout=0.1)
    assert bounded.verdict == OK


def test_shared_state_is_computed_once_and_may_nest():
    probe, calls = Probe(settings=None), []

    def engine():
        calls.append("engine")
        return "engine"

    def df():
        return probe.cached("engine", engine) + "+df"

    threads = [threading.Thread(target=probe.cached, args=("df", df)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads)  # no deadlock
    assert probe.cached("df", df) == "engine+df" and calls == ["engine"]


RESULTS = [
    Result("docker", OK, "engine reachable"),
    Result(
        "registry", FAIL, "container is exited", ["port 5000: free"], fix="invoke registry.start"
    ),
    Result("images", SKIP, "skipped: registry did not pass"),
    Result("disk", WARN, "little space", fix="docker system prune"),
]


def test_text_report_shows_the_fix_under_problems_and_counts():
    text = render_text(RESULTS)
    assert "registry  FAIL  container is exited" in text
    assert "fix: invoke registry.start" in text and "fix: docker system prune" in text
    assert text.splitlines()[-1] == "1 ok, 1 warn, 1 fail, 1 skipped"


def test_json_report_round_trips():
    assert [r["verdict"] for r in json.loads(render_json(RESULTS))] == [OK, FAIL, SKIP, WARN]


def test_junit_report_counts_failures_and_skips():
    suite = ET.fromstring(render_junit(RESULTS).split("?>", 1)[1])
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    failure = suite.find("testcase[@name='registry']/failure")
    assert failure.get("message") == "container is exited"
    assert "fix: invoke registry.start" in failure.text
    assert suite.find("testcase[@name='images']/skipped") is not None
