"""A failed pull is named by its cause: the classifier against the messages kubelet and
containerd produce (kubelet's `Failed to pull image "<ref>": rpc error: ... desc = failed to
pull and unpack image "<ref>": <containerd's error>`, and `ctr content fetch`'s own)."""

import pytest

from stagingkub.pull_errors import Known, classify

REF = "localhost:5000/rhdemo-api:1.1.0-SNAPSHOT"
HEAD = 'Head "{scheme}://{host}/v2/rhdemo-api/manifests/1.1.0-SNAPSHOT"'


def kubelet(code: str, containerd: str) -> str:
    return (f'Failed to pull image "{REF}": rpc error: code = {code} desc = failed to pull and '
            f'unpack image "{REF}": {containerd}')  # fmt: skip


def resolve(detail: str) -> str:
    return f'failed to resolve reference "{REF}": {detail}'


CASES = [
    ("https-to-http", kubelet("Unknown", resolve("failed to do request: " + HEAD.format(
        scheme="https", host="localhost:5000") + ": http: server gave HTTP response to HTTPS "
        "client")), "invoke cluster.create"),
    ("not-found", kubelet("NotFound", resolve(f"{REF}: not found")),
     "invoke image.push --version 1.1.0-SNAPSHOT"),
    ("platform", kubelet("NotFound", "no match for platform in manifest: not found"), "--platform"),
    ("rate-limit", kubelet("Unknown", "failed to copy: httpReadSeeker: failed open: unexpected "
        "status code https://registry-1.docker.io/v2/library/postgres/manifests/sha256:0f3c: "
        "429 Too Many Requests - Server message: toomanyrequests: You have reached your pull "
        "rate limit. You may increase the limit by authenticating and upgrading: "
        "https://www.docker.com/increase-rate-limit"), "Docker Hub account"),
    ("not-on-network", kubelet("Unknown", resolve("failed to do request: " + HEAD.format(
        scheme="http", host="kind-registry:5000") + ": dial tcp: lookup kind-registry on "
        "172.18.0.1:53: no such host")), "invoke diag.network"),
    ("registry-stopped", kubelet("Unknown", resolve("failed to do request: " + HEAD.format(
        scheme="http", host="kind-registry:5000") + ": dial tcp 172.18.0.2:5000: connect: "
        "connection refused")), "invoke registry.start"),
    ("no-hosts-toml", kubelet("Unknown", resolve("failed to do request: " + HEAD.format(
        scheme="https", host="localhost:5000") + ": dial tcp [::1]:5000: connect: connection "
        "refused")), "hosts.toml"),
    ("unauthorized", kubelet("Unknown", resolve("unexpected status from HEAD request to "
        "http://kind-registry:5000/v2/rhdemo-api/manifests/1.1.0-SNAPSHOT: 401 Unauthorized")),
     "STAGINGKUB_REGISTRY_PASSWORD"),
    ("unauthorized", kubelet("Unknown", resolve("pull access denied, repository does not exist "
        "or may require authorization: server message: insufficient_scope: authorization "
        "failed")), "pull secret"),
    ("unknown-ca", kubelet("Unknown", resolve("failed to do request: " + HEAD.format(
        scheme="https", host="kind-registry:5000") + ": tls: failed to verify certificate: "
        "x509: certificate signed by unknown authority")), "CA"),
]  # fmt: skip


@pytest.mark.parametrize(("cause", "message", "fix"), CASES, ids=[c[0] for c in CASES])
def test_each_cause_is_named_with_its_fix(cause, message, fix):
    found = classify(message, REF, "1.1.0-SNAPSHOT")
    assert found is not None and found.cause == cause
    assert fix in found.fix


def test_ctr_fetch_words_classify_alike():
    ctr = (f"ctr: failed to resolve reference \"{REF}\": failed to do request: "
           + HEAD.format(scheme="https", host="localhost:5000")
           + ": dial tcp 127.0.0.1:5000: connect: connection refused")  # fmt: skip
    assert classify(ctr, REF).cause == "no-hosts-toml"


def test_a_stopped_registry_no_longer_resolves_and_is_named_so():
    message = resolve("dial tcp: lookup skt-registry on 127.0.0.11:53: no such host")
    assert classify(message, REF, known=Known(registry_running=False)).cause == "registry-stopped"
    assert classify(message, REF, known=Known(registry_running=True)).cause == "not-on-network"


LOOPBACK = ("trying next host - response was http.StatusNotFound\n" + resolve(
    "failed to do request: " + HEAD.format(scheme="http", host="localhost:5000")
    + ": dial tcp 127.0.0.1:5000: connect: connection refused"))  # fmt: skip


def test_the_registrys_404_then_the_nodes_own_loopback_is_a_missing_tag():
    """containerd reports the first error: after the mirror's 404 it is the loopback's."""
    bare = LOOPBACK.split("\n", 1)[1]  # kubelet's event has no containerd log line
    assert classify(LOOPBACK, REF).cause == "not-found"
    assert classify(bare, REF, known=Known(tag_present=False, hosts_ok=True)).cause == "not-found"
    assert classify(bare, REF, known=Known(tag_present=True)).cause == "no-hosts-toml"
    assert classify(bare, REF, known=Known(tag_present=False, hosts_ok=False)).cause == (
        "no-hosts-toml"
    )


def test_an_unknown_message_is_left_for_the_caller_to_show_as_it_is():
    assert classify("something nobody has seen before", REF) is None


def test_kubelets_waiting_message_carries_the_error_without_the_event_prefix():
    from stagingkub.diag.pods import waiting_pull_error

    error = f'rpc error: code = NotFound desc = failed to pull and unpack image "{REF}": ' + (
        "no match for platform in manifest: not found"
    )
    pulling = {"reason": "ErrImagePull", "message": error}
    backing_off = {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{REF}"'}
    pods = [
        {"status": {"containerStatuses": [{"image": REF, "state": {"waiting": pulling}}]}},
        {"status": {"containerStatuses": [{"image": REF, "state": {"waiting": backing_off}}]}},
    ]
    image, message = waiting_pull_error(pods)
    assert image == REF and classify(message, image).cause == "platform"
    assert waiting_pull_error(pods[1:]) is None
