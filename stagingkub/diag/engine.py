"""diag's engine: results, running checks concurrently with bounds, and the reports.

A check is a function from a Probe (settings plus shared, cached state) to a Result.
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


@dataclass
class Result:
    check: str
    verdict: str
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Check:
    name: str
    function: Callable[[Any], Result]
    needs: tuple[str, ...] = ()
    help: str = ""
    # Its own bound, in seconds, when its work is longer than a question by nature (a pull);
    # None: diag.timeout.
    bound: float | None = None


class Probe:
    """What checks share: settings, the --version asked, and state read once."""

    def __init__(self, settings, version: str = "", dry: bool = False) -> None:
        self.settings = settings
        self.version = version
        self.dry = dry  # invoke --dry: checks that would change something (a pull) only say so
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """compute() once per key, even when checks ask at the same time (a lock per key,
        so one slow answer does not hold up the others, and computations may nest)."""
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]


def run_one(check: Check, probe: Probe, timeout: float) -> Result:
    """Run a check in a daemon thread, bounded by its own bound or else timeout
    (diag.timeout); errors become failures."""
    box: list[Result] = []
    limit, named = (check.bound, "its bound") if check.bound else (timeout, "diag.timeout")
    started = time.monotonic()

    def target() -> None:
        try:
            box.append(check.function(probe))
        except Exception as error:  # a check must never take diag down with it
            from stagingkub.errors import StagingkubError

            text = str(error) if isinstance(error, StagingkubError) else repr(error)
            box.append(Result(check.name, FAIL, text.splitlines()[0][:300], [text[:2000]]))

    worker = threading.Thread(target=target, daemon=True, name=f"diag-{check.name}")
    worker.start()
    worker.join(limit)
    if box:
        result = box[0]
    else:
        result = Result(
            check.name, FAIL, f"no answer within {limit:g} s ({named})",
            fix="Something hangs: the registry, the Docker engine or a node. Try "
            f"`invoke diag.{check.name}` alone, and raise diag.timeout if the host is just slow.",
        )  # fmt: skip
    result.check = check.name
    result.seconds = round(time.monotonic() - started, 3)
    return result


def run_all(checks: list[Check], probe: Probe, timeout: float) -> list[Result]:
    """Every check at once, each bounded by timeout; then a check whose prerequisite failed
    or was skipped is reported as skipped: its own answer would only repeat the cause.

    Nothing waits for its prerequisites, so the wall time is about the slowest check,
    not the longest chain. `checks` lists prerequisites before the checks that need them.
    """
    results: dict[str, Result] = {}

    def worker(check: Check) -> None:
        results[check.name] = run_one(check, probe, timeout)

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in checks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for check in checks:
        blocked = [n for n in check.needs if results[n].verdict in (FAIL, SKIP)]
        if blocked:
            seconds = results[check.name].seconds
            results[check.name] = Result(
                check.name, SKIP, f"skipped: {', '.join(blocked)} did not pass", seconds=seconds
            )
    return [results[check.name] for check in checks]


MARKS = {OK: "ok", WARN: "WARN", FAIL: "FAIL", SKIP: "skip"}


def render_text(results: list[Result], details: bool = True) -> str:
    """A summary table; evidence and the fix under anything that is not ok."""
    width = max(len(r.check) for r in results)
    lines = []
    for r in results:
        lines.append(f"{r.check.ljust(width)}  {MARKS[r.verdict]:4}  {r.summary}")
        if details and (r.verdict in (WARN, FAIL) or len(results) == 1):
            lines += [f"{' ' * width}        {line}" for line in r.evidence]
        if r.fix and r.verdict in (WARN, FAIL):
            lines.append(f"{' ' * width}        fix: {r.fix}")
    counts = {v: sum(1 for r in results if r.verdict == v) for v in MARKS}
    lines.append(
        f"{counts[OK]} ok, {counts[WARN]} warn, {counts[FAIL]} fail, {counts[SKIP]} skipped"
    )
    return "\n".join(lines)


def render_json(results: list[Result]) -> str:
    return json.dumps([asdict(r) for r in results], indent=2)


def render_junit(results: list[Result]) -> str:
    """JUnit XML for Jenkins' junit step: one testcase per check."""

    suite = ET.Element(
        "testsuite",
        name="stagingkub.diag",
        tests=str(len(results)),
        failures=str(sum(r.verdict == FAIL for r in results)),
        skipped=str(sum(r.verdict == SKIP for r in results)),
        errors="0",
        time=f"{max((r.seconds for r in results), default=0):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="stagingkub.diag",
            name=r.check,
            time=f"{r.seconds:.3f}",
        )
        body = "\n".join([*r.evidence, *([f"fix: {r.fix}"] if r.fix else [])])
        if r.verdict == FAIL:
            ET.SubElement(case, "failure", message=r.summary).text = body
        elif r.verdict == SKIP:
            ET.SubElement(case, "skipped", message=r.summary)
        else:
            ET.SubElement(case, "system-out").text = f"{r.verdict}: {r.summary}\n{body}".strip()
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
