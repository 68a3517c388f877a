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


ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                   "persistentVolumeClaim", "projected", "secret"}  # fmt: skip


def restricted_problems(pod: dict) -> list[str]:
    """What breaks the Kubernetes 'restricted' Pod Security Standard in a pod spec (the
    policy's rules), plus this chart's own: no token, a read-only root, resources."""
    problems = [f"hostX {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken is not false")
    problems += [f"volume {v['name']}" for v in pod.get("volumes") or []
                 if not set(v) - {"name"} <= ALLOWED_VOLUMES]  # fmt: skip
    pod_context = pod.get("securityContext") or {}
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container.get("securityContext") or {}
        name = container["name"]
        for key in ("runAsNonRoot", "seccompProfile", "runAsUser"):
            context.setdefault(key, pod_context.get(key))
        if context["runAsNonRoot"] is not True or context["runAsUser"] == 0:
            problems.append(f"{name}: may run as root")
        if (context["seccompProfile"] or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile")
        if context.get("allowPrivilegeEscalation") is not False or context.get("privileged"):
            problems.append(f"{name}: privilege escalation")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in capabilities.get("drop", []) or set(capabilities.get("add", [])) - {
            "NET_BIND_SERVICE"
        }:
            problems.append(f"{name}: capabilities")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: writable root filesystem")
        if not (container.get("resources") or {}).get("limits"):
            problems.append(f"{name}: no resource limits")
    return problems


@pytest.mark.parametrize("values", [None, *sorted((CHART / "ci").glob("*.yaml"))])
def test_every_pod_the_chart_renders_meets_the_restricted_standard(real_helm, values):
    from ruamel.yaml import YAML

    args = ["template", "rhdemo", str(CHART)] + (["-f", str(values)] if values else [])
    result = helm(real_helm, *args)
    assert result.returncode == 0, result.stderr
    documents = [d for d in YAML(typ="safe").load_all(result.stdout) if d]
    pods = {d["kind"]: d["spec"]["template"]["spec"] if d["kind"] == "Deployment" else d["spec"]
            for d in documents if d["kind"] in ("Deployment", "Pod")}  # fmt: skip
    assert set(pods) == {"Deployment", "Pod"}  # the app and the `helm test` pod
    for kind, pod in pods.items():
        assert restricted_problems(pod) == [], kind
    app = pods["Deployment"]
    assert "runAsUser" not in app["securityContext"]  # the image's own non-root user
    mount = app["containers"][0]["volumeMounts"][0]
    assert mount["mountPath"] == "/tmp"
    assert next(v for v in app["volumes"] if v["name"] == mount["name"])["emptyDir"]


def test_the_restricted_check_catches_what_the_chart_used_to_render(real_helm, tmp_path):
    values = tmp_path / "old.yaml"
    values.write_text(
        "podSecurityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: null}\n"
        "securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]},"
        " readOnlyRootFilesystem: false, seccompProfile: null}\n"
    )
    from ruamel.yaml import YAML

    result = helm(real_helm, "template", "rhdemo", str(CHART), "-f", str(values))
    assert result.returncode == 0, result.stderr
    deployment = next(d for d in YAML(typ="safe").load_all(result.stdout)
                      if d and d["kind"] == "Deployment")  # fmt: skip
    problems = restricted_problems(deployment["spec"]["template"]["spec"])
    assert problems == ["rhdemo-api: seccompProfile", "rhdemo-api: writable root filesystem"]


def test_the_demo_values_pin_the_demo_images_user(real_helm):
    demo = CHART.parents[1] / "examples" / "demo-app" / "values.yaml"
    result = helm(real_helm, "template", "rhdemo", str(CHART), "-f", str(demo))
    assert result.returncode == 0, result.stderr
    assert "runAsUser: 1000" in result.stdout


PROFILE_VALUES = [None, *sorted(Path(CHART.parents[1], "examples").glob("*/values.yaml"))]


@pytest.mark.parametrize("values", PROFILE_VALUES)
def test_only_dev_live_adds_the_writable_live_folder(real_helm, tmp_path, values):
    # every profile's render without dev's live flag is the render of a chart that has no
    # live section at all; dev's generated values add one emptyDir, mount and variable
    def render(*extra: str) -> str:
        args = ["template", "rhdemo", str(CHART)] + (["-f", str(values)] if values else [])
        result = helm(real_helm, *args, *extra)
        assert result.returncode == 0, result.stderr
        return result.stdout

    plain, generated = render(), tmp_path / "generated.yaml"
    assert "live" not in image_values("localhost:5000/rhdemo-api", "1.0")
    assert "STAGINGKUB_LIVE_DIR" not in plain and "name: live" not in plain
    generated.write_text(image_values("localhost:5000/rhdemo-api", "1.0", live=True))
    live = render("-f", str(generated))
    added = [line.strip() for line in live.splitlines() if line not in plain.splitlines()]
    assert "- name: STAGINGKUB_LIVE_DIR" in added and "mountPath: /live" in added
    assert "readOnlyRootFilesystem: true" in live
