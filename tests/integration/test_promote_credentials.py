"""image.promote with a login on both sides (issue 31): the source is the stack's local
registry with TLS and htpasswd (STAGINGKUB_REGISTRY_USERNAME / _PASSWORD), the target a
TLS + htpasswd registry on 127.0.0.2 with another login (STAGINGKUB_PROMOTE_USERNAME /
_PASSWORD). Each side must get its own; the --dry script, run with real skopeo, copies
the digest checked when it was printed, with the signature tags and the record."""

from __future__ import annotations

import json
import os
import ssl
import subprocess

import httpx
import pytest

from stagingkub.settings import ROOT
from tests.integration.test_external_profile import HOST, PASSWORD
from tests.integration.test_promote import external  # noqa: F401 (a fixture)
from tests.integration.test_promote_faults import (
    APP,
    OCI_MANIFEST,
    VERSION,
    push_image,
    put_blob,
    put_manifest,
    target_client,
    target_digest,
    write_target,
)
from tests.support.stack import script_lines

pytestmark = pytest.mark.integration

SOURCE_PASSWORD = "Source-only-pw-31337"


def source_client(s) -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(s.ca))
    return httpx.Client(base_url=f"https://127.0.0.1:{s.port}", auth=("src", SOURCE_PASSWORD),
                        verify=trust, timeout=30)  # fmt: skip


def sign(client: httpx.Client, digest: str, suffix: str) -> tuple[str, str]:
    """A cosign-like tag for digest (sha256-<hex><suffix>): (its tag, its digest)."""
    payload = put_blob(client, APP, json.dumps({"critical": digest, "kind": suffix}).encode())
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **put_blob(client, APP, b"{}")},
                "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                            **payload}]}  # fmt: skip
    tag = digest.replace(":", "-") + suffix
    return tag, put_manifest(client, APP, tag, document)


@pytest.fixture
def secured(stack, external):  # noqa: F811 (the fixture imported above)
    """Source and target each with TLS, htpasswd and a login of its own; the source holds
    rhdemo-api:1.0.0 signed (.sig) and attested (.att)."""
    s = stack
    s.write_profile(tls=True, auth=True, username="src", docker_certs_dir=str(s.tmp / "certs"))
    s.extra_env.update(STAGINGKUB_REGISTRY_PASSWORD=SOURCE_PASSWORD,
                       STAGINGKUB_PROMOTE_USERNAME="ci",
                       STAGINGKUB_PROMOTE_PASSWORD=PASSWORD)  # fmt: skip
    created = s.invoke("registry.create")
    assert created.returncode == 0, created.stderr
    s.ca = s.files_dir / f"registry-{s.name}" / "ca.crt"
    with source_client(s) as client:
        s.digest = push_image(client, APP, VERSION, layer_size=1 << 20)
        s.signatures = dict(sign(client, s.digest, suffix) for suffix in (".sig", ".att"))
    s.ext, s.target = external, s.tmp / "target.yaml"
    write_target(s, external.port)
    return s


def test_each_side_gets_its_own_login(secured):
    s = secured
    result = s.invoke("image.promote", "--version", VERSION, "--to", str(s.target),
                      "--unverified")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert target_digest(s.ext, VERSION) == s.digest
    for tag, digest in s.signatures.items():
        assert target_digest(s.ext, tag) == digest
    assert SOURCE_PASSWORD not in result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_a_wrong_target_password_names_the_promote_variables(secured):
    s = secured
    wrong = s.invoke("image.promote", "--version", VERSION, "--to", str(s.target),
                     "--unverified", STAGINGKUB_PROMOTE_PASSWORD="wrong")  # fmt: skip
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "STAGINGKUB_PROMOTE_PASSWORD" in wrong.stderr and f"{HOST}:" in wrong.stderr


def test_the_dry_script_copies_the_checked_digest_with_its_signatures_and_record(secured):
    s = secured
    printed = s.invoke("--dry", "image.promote", "--version", VERSION, "--to", str(s.target),
                       "--unverified")  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    lines = script_lines(printed.stdout)
    copies = [line for line in lines if line.startswith("skopeo copy --all")]
    assert len(copies) == 3 and f"/{APP}@{s.digest} " in copies[-1]  # signatures first
    assert all('--src-creds src:"$STAGINGKUB_REGISTRY_PASSWORD"' in line for line in copies)
    assert all('--dest-creds "$STAGINGKUB_PROMOTE_USERNAME:$STAGINGKUB_PROMOTE_PASSWORD"' in line
               for line in copies)  # fmt: skip
    assert SOURCE_PASSWORD not in printed.stdout and PASSWORD not in printed.stdout
    assert target_digest(s.ext, VERSION) == ""  # printing copied nothing
    with source_client(s) as client:  # the tag moves on after the script was printed
        newer = push_image(client, APP, VERSION, layer_size=1024)
    env = {**os.environ, "STAGINGKUB_REGISTRY_PASSWORD": SOURCE_PASSWORD,
           "STAGINGKUB_PROMOTE_USERNAME": "ci",
           "STAGINGKUB_PROMOTE_PASSWORD": PASSWORD}  # fmt: skip
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", printed.stdout], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert target_digest(s.ext, VERSION) == s.digest != newer  # what was checked, by digest
    for tag, digest in s.signatures.items():
        assert target_digest(s.ext, tag) == digest
    with target_client(s.ext) as client:
        path = f"/v2/team/{APP}/manifests/{VERSION}.promoted"
        record = client.get(path, headers={"Accept": OCI_MANIFEST}).json()
    assert record["annotations"]["io.stagingkub.promoted.digest"] == s.digest
    with target_client(s.ext) as client:  # someone else's image under the promoted tag
        push_image(client, f"team/{APP}", VERSION, layer_size=512)
    again = subprocess.run(["bash", "-euo", "pipefail", "-c", printed.stdout], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert again.returncode == 1 and "names another image" in again.stderr  # not pushed over
    assert target_digest(s.ext, VERSION) != s.digest
