"""The demo app and config/demo.yaml: built with its Dockerfile unchanged (busybox:1.36 is a
local STAND-IN where it cannot be pulled), serving the chart's probe paths, deployed by the
whole pipeline with the kind, kubectl and helm STAND-INS and pulled by the kind-node STAND-IN.
"""

import time

import httpx
import pytest
from ruamel.yaml import YAML

from stagingkub.settings import ROOT
from tests.support.stack import docker, echoed, fetch, free_port, remove_app_images

pytestmark = pytest.mark.integration


@pytest.fixture
def demo(kind_stack, busybox_image):
    """The stack with config/demo.yaml's image and deploy sections (paths made absolute)."""
    profile = YAML(typ="safe").load((ROOT / "config" / "demo.yaml").read_text())
    image, deploy = dict(profile["image"]), dict(profile["deploy"])
    image["app_dir"] = str(ROOT / image["app_dir"])
    image["name"] = f"{kind_stack.prefix}-{image['name']}"  # never the user's rhdemo-demo
    deploy["values_file"] = str(ROOT / deploy["values_file"])
    kind_stack.base.update(image=image, deploy=deploy)
    kind_stack.write_profile()
    kind_stack.demo_image = image["name"]
    yield kind_stack
    kind_stack.cleanup()  # its containers first: an image a container uses stays
    remove_app_images(kind_stack.prefix)  # built on a busybox:1.36 an earlier run labelled


def test_the_demo_image_answers_the_charts_probe_paths(demo):
    result = demo.invoke("image.build", "--version", "0.1.0")
    assert result.returncode == 0, result.stderr
    app = ROOT / "examples" / "demo-app"
    assert echoed(result.stdout) == [
        f"docker build -t {demo.demo_image}:0.1.0 -f {app / 'Dockerfile'} {app}"
    ]
    port = free_port()
    docker("run", "-d", "--name", f"{demo.prefix}-demo", *demo.label_args(),
           "-p", f"127.0.0.1:{port}:8080", f"{demo.demo_image}:0.1.0")  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            answers = {
                path: httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code
                for path in ("/", "/actuator/health/liveness", "/actuator/health/readiness")
            }
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the demo app never answered"
            time.sleep(0.2)
    assert answers == {
        "/": 200,
        "/actuator/health/liveness": 200,
        "/actuator/health/readiness": 200,
    }


def test_the_demo_profile_runs_the_whole_pipeline(demo):
    result = demo.invoke("deploy", "--version", "0.1.0")
    assert result.returncode == 0, result.stderr
    commands = echoed(result.stdout)
    assert any(line.startswith("docker build -t") for line in commands)
    assert not any("mvnw" in line for line in commands)
    assert "values.yaml" in commands[-1] and commands[-1].startswith("helm upgrade --install")
    reference = f"localhost:{demo.port}/{demo.demo_image}:0.1.0"
    assert fetch(f"{demo.cluster}-control-plane", reference).returncode == 0
