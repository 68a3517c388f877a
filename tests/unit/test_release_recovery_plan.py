"""What the next deploy does with a release an aborted run left pending-* (pure)."""

from pathlib import Path

import pytest

from stagingkub.errors import StateError
from stagingkub.parse import seconds_of
from stagingkub.release.helm import ReleaseSpec, last_good_revision, recovery

SPEC = ReleaseSpec(release="rhdemo", chart=Path("helm/rhdemo"), namespace="rhdemo-staging",
                   context="kind-rhdemo", timeout="5m", wait=True, values_files=(),
                   repository="localhost:5000/rhdemo-api", tag="1")  # fmt: skip
HISTORY = [  # `helm history -o json`
    {"revision": 1, "status": "superseded", "description": "Install complete"},
    {"revision": 2, "status": "failed", "description": "Upgrade failed"},
    {"revision": 3, "status": "superseded", "description": "Upgrade complete"},
    {"revision": 4, "status": "pending-upgrade", "description": "Preparing upgrade"},
]


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("1m30s", 90), ("90s", 90),
                                               ("1h", 3600), ("500ms", 0.5)])  # fmt: skip
def test_go_durations(text, seconds):
    assert seconds_of(text) == seconds


def test_the_rollback_goes_to_the_last_revision_that_deployed():
    assert last_good_revision(HISTORY, 4) == 3
    assert last_good_revision(HISTORY[:2], 2) == 1
    assert last_good_revision([{"revision": 1, "status": "pending-install"}], 1) is None


def test_an_old_pending_upgrade_is_rolled_back():
    argv, said = recovery(SPEC, "pending-upgrade", 4, 400, HISTORY, force=False)
    assert argv == ["helm", "rollback", "rhdemo", "3", "--namespace", "rhdemo-staging",
                    "--kube-context", "kind-rhdemo"]  # fmt: skip
    assert "left pending-upgrade (revision 4, 400 s ago)" in said


def test_a_release_that_never_deployed_is_uninstalled():
    argv, said = recovery(SPEC, "pending-install", 1, 400, HISTORY[:0], force=False)
    assert argv[:3] == ["helm", "uninstall", "rhdemo"] and "never deployed" in said


def test_a_young_one_is_refused_with_the_time_left_unless_forced():
    with pytest.raises(StateError) as error:
        recovery(SPEC, "pending-rollback", 4, 100, HISTORY, force=False)
    assert "In 200 s the next deploy recovers it" in str(error.value)
    assert "--recover" in str(error.value)
    assert recovery(SPEC, "pending-rollback", 4, 100, HISTORY, force=True)[0][1] == "rollback"
