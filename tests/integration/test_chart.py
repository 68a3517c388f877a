"""helm/rhdemo with the real helm binary: lint, and values reaching the manifests exactly."""

import subprocess
from pathlib import Path

import pytest

from stagingkub.release.helm import image_values

pytestmark = pytest.mark.integration

CHART = Path(__file__).resolve().parents[2] / "helm" / "rhdemo"


def helm(binary: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("values", [None, *sorted((CHART / "ci").glob("*.yaml"))])
def test_chart_lints_clean(real_helm, values):
    args = ["lint", str(CHART), "--strict"] + (["-f", str(values)] if values else [])
    result = helm(real_helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "tag", ["20240101", "0123", "true", "null", "1e3", "1.1.0-SNAPSHOT", "v1_2.3-rc.1"]
)
def test_image_tag_reaches_the_manifest_exactly(real_helm, tmp_path, tag):
    values = tmp_path / "values.yaml"
    values.write_text(image_values("localhost:5000/rhdemo-api", tag))
    result = helm(real_helm, "template", "rhdemo", str(CHART), "-f", str(values))
    assert result.returncode == 0, result.stderr
    assert f'image: "localhost:5000/rhdemo-api:{tag}"' in result.stdout


def test_a_numeric_tag_given_the_guides_way_is_refused_by_the_schema(real_helm):
    # --set rhdemo.image.tag=20240101 turns the tag into a number (rendered 2.0240101e+07
    # without a schema): the schema refuses it instead.
    result = helm(real_helm, "template", "rhdemo", str(CHART), "--set", "rhdemo.image.tag=20240101")
    assert result.returncode != 0
    assert "tag" in result.stderr


@pytest.mark.parametrize("value", ["a,b", "x.y", "{z}", "back\\slash", 'quo"te'])
def test_env_values_reach_the_configmap_exactly(real_helm, tmp_path, value):
    values = tmp_path / "values.yaml"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    values.write_text(f'rhdemo:\n  env:\n    SOME_SETTING: "{escaped}"\n')
    result = helm(real_helm, "template", "rhdemo", str(CHART), "-f", str(values))
    assert result.returncode == 0, result.stderr
    rendered = result.stdout
    from ruamel.yaml import YAML

    documents = list(YAML(typ="safe").load_all(rendered))
    configmap = next(d for d in documents if d and d["kind"] == "ConfigMap")
    assert configmap["data"]["SOME_SETTING"] == value


def test_helm_test_hook_and_probes_render(real_helm):
    result = helm(real_helm, "template", "rhdemo", str(CHART))
    assert '"helm.sh/hook": test' in result.stdout
    assert "path: /actuator/health/liveness" in result.stdout
    assert "path: /actuator/health/readiness" in result.stdout


DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_a_digest_pins_the_image_and_no_digest_keeps_the_tag(real_helm, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(image_values("localhost:5000/rhdemo-api", "1.1.0-SNAPSHOT", digest=DIGEST))
    pinned = helm(real_helm, "template", "rhdemo", str(CHART), "-f", str(values))
    assert pinned.returncode == 0, pinned.stderr
    assert f'image: "localhost:5000/rhdemo-api:1.1.0-SNAPSHOT@{DIGEST}"' in pinned.stdout
    again = helm(real_helm, "template", "rhdemo", str(CHART), "-f", str(values))
    assert again.stdout == pinned.stdout  # same values, same manifests: nothing would roll
    values.write_text(image_values("localhost:5000/rhdemo-api", "1.1.0-SNAPSHOT"))
    plain = helm(real_helm, "template", "rhdemo", str(CHART), "-f", str(values))
    assert 'image: "localhost:5000/rhdemo-api:1.1.0-SNAPSHOT"' in plain.stdout


@pytest.mark.parametrize(
    "digest", ["sha256:abc", "md5:" + "a" * 32, DIGEST.upper().replace("SHA", "sha"), "latest"]
)
def test_the_schema_refuses_a_digest_that_is_not_sha256_hex(real_helm, tmp_path, digest):
    values = tmp_path / "values.yaml"
    values.write_text(image_values("localhost:5000/rhdemo-api", "1", digest=digest))
    result = helm(real_helm, "template", "rhdemo", str(CHART), "-f", str(values))
    assert result.returncode != 0 and "digest" in result.stderr
