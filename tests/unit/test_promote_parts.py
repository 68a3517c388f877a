"""image.promote's parts without a registry (issue 31): each side's login from its own
variables, the signature tags written before the image tag, one read of the pods for
the Ready check, and a local record that is replaced whole."""

from __future__ import annotations

import json
import os

import pytest

from stagingkub.errors import StateError
from stagingkub.release import promotion_check, promotion_copy, promotion_record
from stagingkub.release.pods import Pod
from stagingkub.settings import ROOT


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    """A target profile for Harbor (its own user in YAML); no developer settings."""
    for key in [k for k in os.environ if k.startswith("STAGINGKUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("STAGINGKUB_ENV_FILE", str(tmp_path / "absent.env"))
    target = tmp_path / "harbor.yaml"
    target.write_text("registry:\n  mode: external\n  host: harbor.example.com\n  port: 443\n"
                      "  project: team\n  username: robot-from-yaml\n")  # fmt: skip
    return target


def plan(target, monkeypatch, **env):
    from stagingkub.release.promotion_plan import plan
    from stagingkub.settings import load

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return plan(load(), "1.0.0", str(target))


def test_the_target_never_gets_the_sources_login(profiles, monkeypatch):
    promotion = plan(profiles, monkeypatch, STAGINGKUB_REGISTRY_USERNAME="src",
                     STAGINGKUB_REGISTRY_PASSWORD="src-pw", STAGINGKUB_PROMOTE_USERNAME="robot",
                     STAGINGKUB_PROMOTE_PASSWORD="robot-pw")  # fmt: skip
    assert promotion.source.auth == ("src", "src-pw")
    assert promotion.target.auth == ("robot", "robot-pw")
    assert promotion.target_login == '"$STAGINGKUB_PROMOTE_USERNAME:$STAGINGKUB_PROMOTE_PASSWORD"'
    assert promotion.source_login == '"$STAGINGKUB_REGISTRY_USERNAME:$STAGINGKUB_REGISTRY_PASSWORD"'


def test_without_a_promote_user_the_target_profiles_own_user_is_used(profiles, monkeypatch):
    promotion = plan(profiles, monkeypatch, STAGINGKUB_REGISTRY_USERNAME="src",
                     STAGINGKUB_REGISTRY_PASSWORD="src-pw",
                     STAGINGKUB_PROMOTE_PASSWORD="pw")  # fmt: skip
    assert promotion.target.auth == ("robot-from-yaml", "pw")  # not "src", not "src-pw"
    assert promotion.target_login == 'robot-from-yaml:"$STAGINGKUB_PROMOTE_PASSWORD"'


def test_the_promote_credentials_are_secrets_of_the_environment_only(tmp_path):
    from stagingkub.errors import ConfigError
    from stagingkub.settings import load

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "defaults.yaml").write_text(
        (ROOT / "config" / "defaults.yaml").read_text()
    )
    (tmp_path / "config" / "leak.yaml").write_text("promote:\n  password: in-git\n")
    environ = {"STAGINGKUB_ENV_FILE": str(tmp_path / "absent.env"),
               "STAGINGKUB_PROMOTE_PASSWORD": "s3cret"}  # fmt: skip
    settings = load(environ=environ, root=tmp_path)
    assert settings.shown("promote.password") == "****" and "s3cret" in settings.secrets()
    with pytest.raises(ConfigError, match="never read from YAML"):
        load(profile="leak", environ=environ, root=tmp_path)


def test_signature_tags_are_written_before_the_image_tag(monkeypatch):
    written = []
    monkeypatch.setattr(promotion_copy, "copy_image",
                        lambda source, target, ref, tag, tally: written.append(tag))  # fmt: skip
    promotion_copy.copy(None, None, "sha256:abc", "1.0.0", ["sha256-abc.sig", "sha256-abc.att"])
    assert written == ["sha256-abc.sig", "sha256-abc.att", "1.0.0"]


def test_the_ready_check_reads_the_pods_once_and_names_those_not_ready(monkeypatch):
    from stagingkub.release.helm import ReleaseSpec

    reads = []
    pods = [Pod("web-1", "2024-01-01T00:00:00Z", True, ()),
            Pod("web-2", "2024-01-01T00:00:01Z", False, ())]  # fmt: skip
    monkeypatch.setattr(promotion_check, "release_pods",
                        lambda kubectl, release: reads.append(kubectl) or pods)  # fmt: skip
    spec = ReleaseSpec.__new__(ReleaseSpec)
    for name, value in (("context", "kind-x"), ("namespace", "ns"), ("release", "rhdemo")):
        object.__setattr__(spec, name, value)
    with pytest.raises(StateError, match=r"not Ready \(web-2\)"):
        promotion_check.pods_ready(spec, "sha256:abc")
    assert len(reads) == 1
    pods[1] = Pod("web-2", "2024-01-01T00:00:01Z", True, ())
    assert "2 pod(s) Ready" in promotion_check.pods_ready(spec, "sha256:abc")
    assert len(reads) == 2


def test_the_local_record_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    promotion_record.remember(tmp_path, "h/app:1", {"digest": "sha256:1"})
    before = (tmp_path / "promotions.json").read_text()

    def crash(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(promotion_record.os, "replace", crash)
    with pytest.raises(OSError):
        promotion_record.remember(tmp_path, "h/app:2", {"digest": "sha256:2"})
    assert (tmp_path / "promotions.json").read_text() == before  # never half a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["promotions.json"]  # no leftovers
    assert json.loads(before) == {"h/app:1": {"digest": "sha256:1"}}


def test_a_record_tag_stays_a_valid_tag():
    from stagingkub.validate import tag

    assert promotion_record.record_tag("1.0.0") == "1.0.0.promoted"
    long = promotion_record.record_tag("v" * 128)
    assert len(long) == 128 and long.endswith(".promoted")
    tag(long, "record")


def test_the_jenkins_promote_stage_binds_each_side_to_its_own_variables():
    text = (ROOT / "Jenkinsfile").read_text()
    stage = text[text.index("stage('Promote')") : text.index("stage('Maintenance')")]
    assert "withUsernamePassword(params.PROMOTE_CREDENTIALS, 'STAGINGKUB_PROMOTE')" in stage
    assert "withRegistryCredentials" in stage  # the source keeps STAGINGKUB_REGISTRY_*
    assert "(params.PROMOTE_CREDENTIALS, 'STAGINGKUB_REGISTRY')" not in stage
