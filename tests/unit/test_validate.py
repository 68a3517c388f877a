"""Validators: what reaches a command line follows the distribution reference grammar."""

import pytest

from stagingkub import validate
from stagingkub.errors import InputError


@pytest.mark.parametrize(
    "tag", ["1.1.0-SNAPSHOT", "latest", "0123", "_x", "A" * 128, "v1_2.3-rc.1", "true"]
)
def test_valid_tags(tag):
    assert validate.tag(tag, "--version") == tag


@pytest.mark.parametrize(
    "tag",
    ["", "-1", ".1", "a;b", "$(id)", "`id`", "a b", "a\nb", "A" * 129, "é", "1.0/x", "a:b"],
)
def test_invalid_tags_name_the_input_and_the_rule(tag):
    with pytest.raises(InputError) as caught:
        validate.tag(tag, "--version")
    message = str(caught.value)
    assert "--version" in message and "128 characters" in message


@pytest.mark.parametrize(
    "ref",
    [
        "registry:2",
        "rhdemo-api",
        "localhost:5000/rhdemo-api:1.1.0-SNAPSHOT",
        "harbor.example.com/team/rhdemo-api:1",
        "a__b/c--d/e.f",
        "[::1]:5000/x:1",
        "registry@sha256:" + "a" * 64,
        "localhost/x",
    ],
)
def test_valid_image_references(ref):
    assert validate.image_reference(ref, "registry.image") == ref


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("RHDemo-api:1", "lowercase"),
        ("localhost:5000/RHDemo:1", "lowercase"),
        ("a;b", "not a valid repository"),
        ("x:$(id)", "not a valid image tag"),
        ("-x", "not a valid repository"),
        ("a/../b", "not a valid repository"),
        ("", "empty"),
        ("x@sha256:zz", "digest"),
        ("bad_host.com:abc/x", "registry host"),
        ("a" * 256, "longer than"),
    ],
)
def test_invalid_image_references(ref, words):
    with pytest.raises(InputError, match=words):
        validate.image_reference(ref, "registry.image")


@pytest.mark.parametrize("name", ["kind-registry", "a", "reg_2.test", "R1"])
def test_valid_docker_names(name):
    assert validate.docker_name(name, "--name") == name


@pytest.mark.parametrize("name", ["", "-x", ".x", "a b", "a;b", "a/b", "é", "x" * 129, "a\n"])
def test_invalid_docker_names(name):
    with pytest.raises(InputError, match="not a valid Docker name"):
        validate.docker_name(name, "--name")


@pytest.mark.parametrize(("raw", "port"), [("5000", 5000), (1, 1), (65535, 65535), (" 80 ", 80)])
def test_valid_ports(raw, port):
    assert validate.port(raw, "--port") == port


@pytest.mark.parametrize(
    "raw", ["0", "65536", "-1", "abc", "", "5000;", True, 1.5, "\uff15\uff10\uff10\uff10"]
)
def test_invalid_ports(raw):
    with pytest.raises(InputError, match="1 to 65535"):
        validate.port(raw, "--port")


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "::1", "::", "10.1.2.3"])
def test_valid_bind_addresses(address):
    assert validate.bind_address(address, "--bind") == address


@pytest.mark.parametrize("address", ["localhost", "", "127.0.0.1;", "300.1.1.1", "0.0.0.0:5000"])
def test_invalid_bind_addresses_explain_why_an_ip_is_needed(address):
    with pytest.raises(InputError, match="not an IP address"):
        validate.bind_address(address, "--bind")


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (validate.namespace, "rhdemo-staging", "RHDemo"),
        (validate.cluster_name, "rhdemo", "rh demo"),
        (validate.release_name, "rhdemo", "-rhdemo"),
        (validate.path, "./helm/rhdemo", "--set=x"),
        (validate.host_name, "localhost", "local host"),
        (validate.repository, "rhdemo-api", "RHDEMO"),
    ],
)
def test_kubernetes_and_path_values(check, good, bad):
    assert check(good, "x") == good
    with pytest.raises(InputError):
        check(bad, "x")


def test_labels_need_reverse_dns_keys_and_one_line_values():
    assert validate.labels({"com.example/team": "a"}, "x") == {"com.example/team": "a"}
    with pytest.raises(InputError, match="label key"):
        validate.labels({"Bad Key": "a"}, "x")
    with pytest.raises(InputError, match="one-line"):
        validate.labels({"a.b": "x\ny"}, "x")
