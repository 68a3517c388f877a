"""image.promote between two real registries: the stack's plain-HTTP local registry (the
source, what staging runs) and a TLS + htpasswd registry on 127.0.0.2 playing the
external one (Harbor). skopeo (Debian's) reads both sides independently of the tool; the
staging release and its pods come from the helm and kubectl STAND-INS."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time

import httpx
import pytest

from stagingkub.settings import ROOT
from tests.integration.test_external_profile import HOST, PASSWORD, external_registry
from tests.support.stack import docker, echoed, script_lines

pytestmark = pytest.mark.integration

VERSION = "1.0.0"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@pytest.fixture
def external(tmp_path, registry_image):
    ext = external_registry(tmp_path / "external", registry_image, HOST)
    yield ext
    ext.cleanup()


@pytest.fixture
def promotion(deployed, external):
    """The deployed staging stack, a target profile file for the external registry, and the
    target's password in the environment as its own variable (as .env would give it)."""
    s = deployed
    s.target = s.tmp / "target.yaml"
    s.target.write_text(
        f"registry:\n  mode: external\n  host: '{HOST}'\n  port: {external.port}\n"
        f"  project: team\n  username: ci\n  ca_file: '{external.ca}'\n"
        f"cluster:\n  name: {s.cluster}\n  files_dir: '{s.files_dir}'\n"
        f"image:\n  name: {s.base['image']['name']}\n"
    )
    s.extra_env["STAGINGKUB_PROMOTE_PASSWORD"] = PASSWORD
    s.app = s.base["image"]["name"]
    s.external = external
    return s


def skopeo_digest(reference: str, *options: str) -> str:
    """sha256 of the manifest skopeo reads (its raw bytes are what the digest names)."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", *options, f"docker://{reference}"],
                         capture_output=True, timeout=60, check=True).stdout  # fmt: skip
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def source_digest(s, tag: str = VERSION, repository: str = "") -> str:
    return skopeo_digest(f"localhost:{s.port}/{repository or s.app}:{tag}", "--tls-verify=false")


def target_digest(s, tag: str = VERSION, repository: str = "") -> str:
    certs = s.tmp / "skopeo-certs"  # the CA alone: skopeo reads every *.key as a client key
    certs.mkdir(exist_ok=True)
    (certs / "ca.crt").write_bytes(s.external.ca.read_bytes())
    reference = f"{HOST}:{s.external.port}/team/{repository or s.app}:{tag}"
    return skopeo_digest(reference, f"--cert-dir={certs}", f"--creds=ci:{PASSWORD}")


def target_api(s) -> httpx.Client:
    """An independent client of the external registry: its CA, its login."""
    trust = ssl.create_default_context(cafile=str(s.external.ca))
    return httpx.Client(base_url=f"https://{HOST}:{s.external.port}", auth=("ci", PASSWORD),
                        verify=trust, timeout=10)  # fmt: skip


def target_tags(s, repository: str = "") -> list[str]:
    with target_api(s) as api:
        answer = api.get(f"/v2/team/{repository or s.app}/tags/list")
    return [] if answer.status_code == 404 else sorted(answer.json().get("tags") or [])


def promote(s, *args: str, **env: str):
    return s.invoke("image.promote", "--version", VERSION, "--to", str(s.target), *args, **env)


def test_promote_copies_the_digest_staging_runs_and_a_second_run_does_nothing(promotion):
    s = promotion
    result = promote(s)
    assert result.returncode == 0, result.stderr
    digest = source_digest(s)
    assert target_digest(s) == digest  # skopeo reads the same digest on both sides
    assert "staging runs it with 1 pod(s) Ready" in result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("promoted "))
    assert f"localhost:{s.port}/{s.app}:{VERSION}@{digest} to {HOST}:" in line
    assert f"/team/{s.app}:{VERSION}: 2 blobs, 0 already there" in line
    again = promote(s)
    assert again.returncode == 0 and "nothing to promote" in again.stderr


def test_staging_running_another_digest_is_refused_and_unverified_promotes_it(promotion):
    s = promotion
    staged = source_digest(s)
    s.push(VERSION, repository=s.app)  # the tag now names another image than staging runs
    newer = source_digest(s)
    refused = promote(s)
    assert refused.returncode == 1
    assert f"Staging runs localhost:{s.port}/{s.app}:{VERSION}@{staged}" in refused.stderr
    assert f"not {newer}" in refused.stderr and "--unverified" in refused.stderr
    assert target_tags(s) == []  # nothing reached the target
    forced = promote(s, "--unverified")
    assert forced.returncode == 0, forced.stderr
    assert "--unverified" in forced.stderr and target_digest(s) == newer


def put_blob(url: str, repository: str, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = httpx.post(f"{url}/v2/{repository}/blobs/uploads/", timeout=10)
    location = httpx.URL(url).join(start.headers["Location"]).copy_add_param("digest", digest)
    assert httpx.put(location, content=data, timeout=30).status_code == 201
    return {"digest": digest, "size": len(data)}


def put_manifest(url: str, repository: str, reference: str, document: dict, media: str) -> str:
    raw = json.dumps(document).encode()
    answer = httpx.put(f"{url}/v2/{repository}/manifests/{reference}", content=raw,
                       headers={"Content-Type": media}, timeout=10)  # fmt: skip
    assert answer.status_code == 201, answer.text
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def oci_image(url: str, repository: str, arch: str) -> tuple[str, int]:
    config = {"architecture": arch, "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": []}}  # fmt: skip
    config_blob = put_blob(url, repository, json.dumps(config).encode())
    layer = put_blob(url, repository, f"a layer for {arch} {time.time()}".encode())
    config_type = "application/vnd.oci.image.config.v1+json"
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": config_type, **config_blob},
                "layers": [{"mediaType": OCI_LAYER, **layer}]}  # fmt: skip
    digest = put_manifest(url, repository, f"{arch}-only", document, OCI_MANIFEST)
    return digest, len(json.dumps(document).encode())


def test_a_multi_platform_index_arrives_whole_with_the_same_digest(promotion):
    s = promotion
    children = [(arch, *oci_image(s.url, s.app, arch)) for arch in ("amd64", "arm64")]
    entries = [{"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                "platform": {"architecture": arch, "os": "linux"}}
               for arch, digest, size in children]  # fmt: skip
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    digest = put_manifest(s.url, s.app, "2.0.0", index, OCI_INDEX)
    result = s.invoke("image.promote", "--version", "2.0.0", "--to", str(s.target),
                      "--unverified")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert target_digest(s, "2.0.0") == digest == source_digest(s, "2.0.0")
    for _, child, _ in children:  # every platform's manifest, by digest
        with target_api(s) as api:
            answer = api.head(f"/v2/team/{s.app}/manifests/{child}",
                              headers={"Accept": OCI_MANIFEST})  # fmt: skip
        assert answer.status_code == 200 and answer.headers["Docker-Content-Digest"] == child


def test_a_cosign_signature_tag_goes_along(promotion):
    s = promotion
    digest = source_digest(s)
    signature = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                 "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                            **put_blob(s.url, s.app, b"{}")},
                 "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                             **put_blob(s.url, s.app, b'{"critical": "signed"}')}]}  # fmt: skip
    sig_tag = digest.replace(":", "-") + ".sig"
    sig_digest = put_manifest(s.url, s.app, sig_tag, signature, OCI_MANIFEST)
    result = promote(s)
    assert result.returncode == 0, result.stderr
    assert sig_tag in target_tags(s) and target_digest(s, sig_tag) == sig_digest


def test_wrong_credentials_and_an_unknown_profile_change_nothing(promotion):
    s = promotion
    wrong = promote(s, STAGINGKUB_PROMOTE_PASSWORD="not-the-password")
    assert wrong.returncode == 1 and "(401)" in wrong.stderr and "Traceback" not in wrong.stderr
    unknown = s.invoke("image.promote", "--version", VERSION, "--to", "no-such-profile")
    assert unknown.returncode == 1 and "no-such-profile" in unknown.stderr
    local = s.invoke("image.promote", "--version", VERSION, "--to", str(s.profile))
    assert local.returncode == 1 and "names the source itself" in local.stderr
    missing = s.invoke("image.promote", "--version", "9.9.9", "--to", str(s.target))
    assert missing.returncode == 1 and "kind-registry has no" in missing.stderr
    assert target_tags(s) == []


def test_the_dry_line_run_with_real_skopeo_gives_the_same_digest(promotion):
    s = promotion
    printed = s.invoke("--dry", "image.promote", "--version", VERSION, "--to", str(s.target))
    assert printed.returncode == 0, printed.stderr
    lines = script_lines(printed.stdout)
    copies = [line for line in lines if line.startswith("skopeo copy --all --preserve-digests ")]
    assert copies and all('--dest-creds ci:"$STAGINGKUB_PROMOTE_PASSWORD"' in c for c in copies)
    assert PASSWORD not in printed.stdout and target_tags(s) == []  # printing copied nothing
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", printed.stdout], cwd=ROOT,
                         env={**os.environ, "STAGINGKUB_PROMOTE_PASSWORD": PASSWORD},
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert target_digest(s) == source_digest(s)


def test_a_killed_promote_is_finished_by_the_next_run_and_the_tag_waits_for_it(promotion):
    s = promotion
    big = s.tmp / "big"
    big.mkdir()
    (big / "layer").write_bytes(os.urandom(96 << 20))
    (big / "Dockerfile").write_text("FROM scratch\nCOPY layer /layer\n")
    reference = f"localhost:{s.port}/{s.app}:3.0.0"
    docker("build", "-q", *s.label_args(), "-t", reference, str(big), timeout=300)
    docker("push", reference, timeout=300)
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "image.promote", "--version", "3.0.0", "--to",
         str(s.target), "--unverified"], cwd=ROOT, env=s.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    uploads = f"/var/lib/registry/docker/registry/v2/repositories/team/{s.app}/_uploads"
    with httpx.Client(transport=httpx.HTTPTransport(uds="/var/run/docker.sock")) as engine:
        deadline = time.monotonic() + 60
        while engine.head(f"http://docker/containers/{s.external.name}/archive",
                          params={"path": uploads}, timeout=5).status_code != 200:  # fmt: skip
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
    time.sleep(0.3)  # into the big layer
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    assert "3.0.0" not in target_tags(s)  # the manifest goes last: no tag names half an image
    again = s.invoke("image.promote", "--version", "3.0.0", "--to", str(s.target),
                     "--unverified", timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert target_digest(s, "3.0.0") == source_digest(s, "3.0.0")


def test_the_target_profile_deploys_the_promoted_digest_and_says_staging_tested_it(promotion):
    s = promotion
    assert promote(s).returncode == 0
    digest = source_digest(s)
    existing = f"cluster:\n  mode: existing\n  context: kind-{s.cluster}\n  name: {s.cluster}\n"
    s.target.write_text(s.target.read_text().replace(f"cluster:\n  name: {s.cluster}\n", existing))
    for task in (["deploy", "--skip-build"], ["deploy.helm"]):
        result = s.invoke(
            *task,
            "--profile",
            str(s.target),
            "--version",
            VERSION,
            STANDIN_HELM_PULL="0",
            STAGINGKUB_REGISTRY_PASSWORD=PASSWORD,
        )  # its own registry's login
        assert result.returncode == 0, result.stderr
        assert "This is the digest staging tested (promoted from " in result.stderr
        assert not any(c.startswith("docker push") for c in echoed(result.stdout))
        release = json.loads((s.tmp / "kubectl-state" / "helm" / f"kind-{s.cluster}" /
                              "rhdemo-staging" / "rhdemo.json").read_text())  # fmt: skip
        image = release["config"]["rhdemo"]["image"]
        assert image["repository"] == f"{HOST}:{s.external.port}/team/{s.app}"
        assert image["digest"] == digest


def test_within_one_registry_blobs_are_mounted_not_sent(stack):
    from stagingkub.registry.api import RegistryAPI
    from stagingkub.registry.copy import Side, Tally, copy_image

    assert stack.invoke("registry.create").returncode == 0
    stack.push(VERSION)
    api = RegistryAPI(stack.url, 10)
    tally = Tally()
    digest = copy_image(Side(api, "rhdemo-api"), Side(api, "release/rhdemo-api"), VERSION,
                        VERSION, tally)  # fmt: skip
    assert (tally.mounted, tally.sent, tally.bytes_sent) == (2, 0, 0)
    assert skopeo_digest(f"localhost:{stack.port}/release/rhdemo-api:{VERSION}",
                         "--tls-verify=false") == digest  # fmt: skip


def test_to_tag_names_the_target_tag_and_a_bad_one_is_refused(promotion):
    s = promotion
    renamed = promote(s, "--to-tag", "1.0.0-approved")
    assert renamed.returncode == 0, renamed.stderr
    assert target_tags(s) == ["1.0.0-approved", "1.0.0-approved.promoted"]  # and its record
    assert target_digest(s, "1.0.0-approved") == source_digest(s)
    bad = promote(s, "--to-tag", "-bad tag")
    assert bad.returncode == 1 and "--to-tag" in bad.stderr and "Traceback" not in bad.stderr


def test_another_machine_never_pushes_over_a_promoted_tag(promotion):
    """A Jenkins agent whose workspace never promoted (no promotions.json), with a local
    image of its own under the same tag: the target registry's record stops the push."""
    from tests.support import images
    from tests.support.stack import LABELS

    s = promotion
    assert promote(s).returncode == 0
    digest = target_digest(s)
    for record in s.tmp.rglob("promotions.json"):
        record.unlink()
    images.build_app_image(f"{s.app}:{VERSION}", LABELS, content=f"rebuilt elsewhere {s.prefix}")
    pushed = s.invoke("image.push", "--profile", str(s.target), "--version", VERSION,
                      STAGINGKUB_REGISTRY_PASSWORD=PASSWORD)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert "promoted from staging" in pushed.stderr
    assert not any(c.startswith("docker push") for c in echoed(pushed.stdout))
    assert target_digest(s) == digest
