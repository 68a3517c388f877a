"""Settings: one object, five levels, every value with its source, errors that point at the line."""

import shutil
from pathlib import Path

import pytest

from stagingkub.errors import ConfigError
from stagingkub.settings import ROOT, load

NO_ENV_FILE = {"STAGINGKUB_ENV_FILE": "/nonexistent/.env"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "defaults.yaml", tmp_path / "config" / "defaults.yaml")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_are_the_guides_values():
    settings = load(environ=NO_ENV_FILE)
    assert (settings.registry.name, settings.registry.image, settings.registry.port) == (
        "kind-registry",
        "registry:2",
        5000,
    )
    assert settings.registry.bind_address == "127.0.0.1"
    assert settings.cluster.name == "rhdemo"
    assert settings.image.name == "rhdemo-api"
    assert (settings.deploy.release, settings.deploy.chart, settings.deploy.namespace) == (
        "rhdemo",
        "./helm/rhdemo",
        "rhdemo-staging",
    )
    assert settings.sources["registry.port"].startswith("config/defaults.yaml:")


def test_each_level_overrides_the_one_below(root):
    write(root / "config" / "ci.yaml", "registry:\n  port: 5100\n  name: from-profile\n")
    env_file = write(root / ".env", "# comment\nSTAGINGKUB_REGISTRY_PORT=5200\n")
    environ = {"STAGINGKUB_PROFILE": "ci", "STAGINGKUB_ENV_FILE": str(env_file)}

    only_profile = load(environ={**NO_ENV_FILE, "STAGINGKUB_PROFILE": "ci"}, root=root)
    assert only_profile.registry.port == 5100
    assert only_profile.sources["registry.port"].startswith("config/ci.yaml:2")

    with_env_file = load(environ=environ, root=root)
    assert with_env_file.registry.port == 5200
    assert with_env_file.sources["registry.port"] == ".env:2 STAGINGKUB_REGISTRY_PORT"
    assert with_env_file.registry.name == "from-profile"  # untouched keys keep the profile's

    with_environment = load(environ={**environ, "STAGINGKUB_REGISTRY_PORT": "5300"}, root=root)
    assert with_environment.registry.port == 5300
    assert with_environment.sources["registry.port"] == "environment STAGINGKUB_REGISTRY_PORT"

    with_flag = load(
        environ={**environ, "STAGINGKUB_REGISTRY_PORT": "5300"},
        flags={"registry.port": ("5400", "--port")},
        root=root,
    )
    assert with_flag.registry.port == 5400
    assert with_flag.sources["registry.port"] == "flag --port"


def test_profile_flag_beats_environment_which_beats_env_file(root):
    write(root / "config" / "a.yaml", "cluster:\n  name: from-a\n")
    write(root / "config" / "b.yaml", "cluster:\n  name: from-b\n")
    write(root / "config" / "c.yaml", "cluster:\n  name: from-c\n")
    env_file = write(root / ".env", "STAGINGKUB_PROFILE=c\n")
    base = {"STAGINGKUB_ENV_FILE": str(env_file)}
    assert load(environ=base, root=root).cluster.name == "from-c"
    assert load(environ={**base, "STAGINGKUB_PROFILE": "b"}, root=root).cluster.name == "from-b"
    chosen = load(profile="a", environ={**base, "STAGINGKUB_PROFILE": "b"}, root=root)
    assert chosen.cluster.name == "from-a"
    assert chosen.profile == "a"


def test_profile_can_be_a_path(root, tmp_path):
    profile = write(tmp_path / "jenkins.yaml", "deploy:\n  namespace: jenkins-ns\n")
    assert load(profile=str(profile), environ=NO_ENV_FILE, root=root).deploy.namespace == (
        "jenkins-ns"
    )


def test_unknown_key_names_file_line_and_closest_key(root):
    write(root / "config" / "ci.yaml", "# ci\nregistry:\n  name: x\n  prot: 5001\n")
    with pytest.raises(ConfigError) as caught:
        load(profile="ci", environ=NO_ENV_FILE, root=root)
    message = str(caught.value)
    assert "config/ci.yaml:4" in message
    assert "registry.prot" in message
    assert "Did you mean 'registry.port'?" in message


def test_unknown_section_suggests_the_section(root):
    write(root / "config" / "ci.yaml", "registy:\n  name: x\n")
    with pytest.raises(ConfigError, match=r"ci.yaml:1: unknown setting 'registy'.*'registry'"):
        load(profile="ci", environ=NO_ENV_FILE, root=root)


@pytest.mark.parametrize(
    ("yaml_text", "words"),
    [
        ('registry:\n  port: "5000"\n', r"registry.port \(config/ci.yaml:2\) must be a whole"),
        ("registry:\n  name: 123\n", r"registry.name .* must be a string \(quote it in YAML\)"),
        ("registry:\n  labels: [a]\n", r"registry.labels .* must be a mapping"),
        ("registry:\n  port: true\n", r"must be a whole number, but is bool"),
        ("registry:\n  port: 70000\n", r"registry.port \(config/ci.yaml:2\) is 70000"),
        ("registry:\n  bind_address: localhost\n", r"not an IP address"),
    ],
)
def test_wrong_type_or_value_names_the_key_and_what_was_expected(root, yaml_text, words):
    write(root / "config" / "ci.yaml", yaml_text)
    with pytest.raises(ConfigError, match=words):
        load(profile="ci", environ=NO_ENV_FILE, root=root)


def test_invalid_yaml_gives_the_line(root):
    write(root / "config" / "ci.yaml", "registry:\n  port: 5000\n   name: [x\n")
    with pytest.raises(ConfigError, match=r"ci.yaml:\d+ is not valid YAML"):
        load(profile="ci", environ=NO_ENV_FILE, root=root)


def test_missing_profile_lists_the_known_ones(root):
    write(root / "config" / "ci.yaml", "")
    with pytest.raises(ConfigError, match=r"'nope'.*does not exist\. Known profiles: ci"):
        load(profile="nope", environ=NO_ENV_FILE, root=root)


def test_a_secret_in_yaml_is_refused(root):
    write(root / "config" / "ci.yaml", "registry:\n  password: hunter2\n")
    with pytest.raises(ConfigError) as caught:
        load(profile="ci", environ=NO_ENV_FILE, root=root)
    assert "STAGINGKUB_REGISTRY_PASSWORD" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_secret_from_the_environment_is_masked_everywhere_it_is_shown(root):
    settings = load(environ={**NO_ENV_FILE, "STAGINGKUB_REGISTRY_PASSWORD": "hunter2"}, root=root)
    assert settings.registry.password == "hunter2"
    shown = {key: (value, source) for key, value, source in settings.rows()}
    assert shown["registry.password"] == ("****", "environment STAGINGKUB_REGISTRY_PASSWORD")
    assert "hunter2" not in repr(settings.rows())
    assert settings.secrets() == ["hunter2"]


def test_unknown_variable_in_env_file_suggests_the_right_one(root):
    env_file = write(root / ".env", "OTHER_TOOL=1\nSTAGINGKUB_REGISTRY_PROT=5001\n")
    with pytest.raises(ConfigError, match=r"\.env:2: unknown setting .*STAGINGKUB_REGISTRY_PORT"):
        load(environ={"STAGINGKUB_ENV_FILE": str(env_file)}, root=root)


def test_bad_environment_value_names_the_variable(root):
    with pytest.raises(ConfigError, match="environment STAGINGKUB_REGISTRY_PORT is 'x'"):
        load(environ={**NO_ENV_FILE, "STAGINGKUB_REGISTRY_PORT": "x"}, root=root)


def test_labels_from_text(root):
    settings = load(
        environ={**NO_ENV_FILE, "STAGINGKUB_REGISTRY_LABELS": "com.example/team=qa, ci.job=7"},
        root=root,
    )
    assert settings.registry.labels == {"com.example/team": "qa", "ci.job": "7"}


def test_env_example_documents_every_variable():
    text = (ROOT / ".env.example").read_text()
    from stagingkub.schema import ENV_TO_KEY, META_VARIABLES

    missing = [name for name in [*ENV_TO_KEY, *META_VARIABLES] if name not in text]
    assert not missing


def test_the_shipped_demo_profile_loads():
    settings = load(profile="demo", environ=NO_ENV_FILE)
    assert settings.image.strategy == "dockerfile"
    assert settings.image.app_dir == "examples/demo-app"
    assert (ROOT / settings.image.app_dir / settings.image.dockerfile).is_file()
    assert (ROOT / settings.deploy.values_file).is_file()
    assert settings.sources["image.strategy"].startswith("config/demo.yaml:")


def test_the_shipped_external_profile_names_harbor_and_an_existing_context():
    from stagingkub.pipeline import release_spec
    from stagingkub.release.helm_ops import values_path
    from stagingkub.release.image import ImageSpec

    env = {**NO_ENV_FILE, "STAGINGKUB_REGISTRY_PASSWORD": "pw"}
    settings = load(profile="external", environ=env)
    image = ImageSpec.from_settings(settings, "1.1.0-SNAPSHOT")
    assert image.remote_ref == "harbor.example.com/rhdemo/rhdemo-api:1.1.0-SNAPSHOT"
    assert image.registry_url == "https://harbor.example.com"
    release = release_spec(settings, image, "")
    assert release.context == "staging-admin@staging"
    assert release.pull_secret == "rhdemo-registry" and release.pull_server == "harbor.example.com"
    assert values_path(settings).name == "values-rhdemo.yaml"


@pytest.mark.parametrize(
    ("yaml_text", "words"),
    [
        ("cluster:\n  mode: existing\n", "needs cluster.context"),
        ("registry:\n  mode: external\n", "an external registry is another machine"),
        ("registry:\n  mode: external\n  host: ghcr.io\n  tls: true\n", "its own"),
        ("registry:\n  auth: true\n", "needs a user"),
        ("registry:\n  tls: true\ncluster:\n  wiring: mirrors\n", "no place for the registry's CA"),
        ("image:\n  scan_severity: HIGH,SEVERE\n", "UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL"),
        ("registry:\n  username: 'robot ci'\n", "registry user name"),
    ],
)
def test_settings_that_do_not_go_together_are_explained(root, yaml_text, words):
    write(root / "config" / "p.yaml", yaml_text)
    with pytest.raises(ConfigError) as error:
        load(profile="p", environ=NO_ENV_FILE, root=root)
    assert words in str(error.value)
    assert "p.yaml" in str(error.value) or "image.scan_severity" in str(error.value)
