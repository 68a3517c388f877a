"""The application image: its names and the build, tag, push and login commands (pure)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ImageSpec:
    """rhdemo-api:V, built locally, pushed as <registry host>/rhdemo-api:V."""

    name: str
    version: str
    strategy: str  # mvnw | dockerfile
    app_dir: Path
    maven_args: tuple[str, ...]
    dockerfile: Path
    context: Path
    registry_host: str  # localhost, or harbor.example.com
    registry_port: int
    build_args: tuple[tuple[str, str], ...] = ()
    prebuild: tuple[str, ...] = ()  # dockerfile strategy: run in app_dir before docker build
    builder_pull: str = "if_not_present"  # spring-boot.build-image.pullPolicy, lower case
    files_dir: Path = Path(".stagingkub")  # this tool's generated files (never an input)
    external: bool = False  # registry.mode external: Harbor, ECR, GHCR...
    project: str = ""  # harbor project / GHCR owner: host/project/name
    local_url: str = ""  # the local registry's API (https with registry.tls)
    cafile: str | None = None
    auth: tuple[str, str] | None = field(default=None, repr=False, compare=False)
    scan: str = "never"  # auto | always | never
    scan_severity: str = "HIGH,CRITICAL"

    @classmethod
    def from_settings(cls, settings, version: str) -> ImageSpec:
        from stagingkub.registry.plan import RegistrySpec

        i, r = settings.image, settings.registry
        external = r.mode == "external"
        local = RegistrySpec.from_settings(settings)
        cafile = _external_ca(settings) if external else local.cafile
        credentials = (r.username, r.password) if r.username else None
        return cls(
            name=i.name,
            version=version,
            strategy=i.strategy,
            app_dir=settings.path("image.app_dir"),
            maven_args=tuple(i.maven_args),
            dockerfile=settings.path("image.app_dir", i.dockerfile),
            context=settings.path("image.app_dir", i.context),
            build_args=tuple(sorted(i.build_args.items())),
            prebuild=tuple(i.prebuild) if i.strategy == "dockerfile" else (),
            builder_pull=i.builder_pull,
            files_dir=settings.path("cluster.files_dir"),
            registry_host=r.host,
            registry_port=r.port,
            external=external,
            project=r.project,
            local_url="" if external else local.url,
            cafile=cafile,
            auth=credentials,
            scan=i.scan,
            scan_severity=i.scan_severity,
        )

    @property
    def records_dir(self) -> Path:
        """Where the inputs of each local build are recorded, by image ID."""
        return self.files_dir / "builds"

    @property
    def local_ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def push_host(self) -> str:
        """localhost:5000; an external registry on 443 is named without its port (ghcr.io)."""
        host = f"[{self.registry_host}]" if ":" in self.registry_host else self.registry_host
        if self.external and self.registry_port == 443:
            return host
        return f"{host}:{self.registry_port}"

    @property
    def path(self) -> str:
        """The repository inside the registry: rhdemo-api, or project/rhdemo-api."""
        return f"{self.project}/{self.name}" if self.project else self.name

    @property
    def repository(self) -> str:
        """What pods pull: localhost:5000/rhdemo-api (harbor.example.com/team/rhdemo-api)."""
        return f"{self.push_host}/{self.path}"

    @property
    def remote_ref(self) -> str:
        return f"{self.repository}:{self.version}"

    @property
    def is_local_registry(self) -> bool:
        return not self.external

    @property
    def registry_url(self) -> str:
        """Where the API answers: the local registry's published port, or https://host."""
        if not self.external:
            return self.local_url
        return f"https://{self.push_host}"

    def api(self, timeout: float = 10.0):
        from stagingkub.registry.api import RegistryAPI

        return RegistryAPI(self.registry_url, timeout, auth=self.auth, cafile=self.cafile)


def _external_ca(settings) -> str | None:
    return str(settings.abspath("registry.ca_file")) if settings.registry.ca_file else None


PULL_POLICY = "-Dspring-boot.build-image.pullPolicy="


def prebuild_argv(spec: ImageSpec) -> tuple[list[str], Path | None] | None:
    """image.prebuild, run in app_dir before docker build; None when there is none."""
    if not spec.prebuild:
        return None
    return list(spec.prebuild), None if spec.app_dir == Path(".") else spec.app_dir


def build_argv(spec: ImageSpec) -> tuple[list[str], Path | None]:
    """(argv, directory to run it in, None for the repository root): the guide's mvnw
    build, or docker build."""
    if spec.strategy == "dockerfile":
        argv = ["docker", "build", "-t", spec.local_ref, "-f", str(spec.dockerfile)]
        for name, value in spec.build_args:
            argv += ["--build-arg", f"{name}={value}"]
        return [*argv, str(spec.context)], None
    argv = [
        "./mvnw", "-B", "clean", "spring-boot:build-image",
        f"-Dspring-boot.build-image.imageName={spec.local_ref}",
    ]  # fmt: skip
    if not any(arg.startswith(PULL_POLICY) for arg in spec.maven_args):
        argv.append(PULL_POLICY + spec.builder_pull.upper())
    argv += spec.maven_args
    return argv, None if spec.app_dir == Path(".") else spec.app_dir


# Under --dry, the digest is known only once the script has pushed: it reads it from the
# engine (the repo digest `docker push` records) into this variable.
DIGEST_VARIABLE = "$STAGINGKUB_DIGEST"


def digest_capture(spec: ImageSpec) -> str:
    """The --dry script's lines that read the pushed digest, failing when there is none."""
    template = (
        '{{range .RepoDigests}}{{$p := split . "@"}}'
        f'{{{{if eq (index $p 0) "{spec.repository}"}}}}{{{{index $p 1}}}}{{{{end}}}}{{{{end}}}}'
    )
    inspect = shlex.join(["docker", "image", "inspect", "--format", template, spec.remote_ref])
    failure = shlex.quote(f"stagingkub: docker push left no digest for {spec.remote_ref}")
    return (
        f"STAGINGKUB_DIGEST=$({inspect})\n"
        f'[ -n "$STAGINGKUB_DIGEST" ] || {{ echo {failure} >&2; exit 1; }}'
    )


def tag_argv(spec: ImageSpec) -> list[str]:
    return ["docker", "tag", spec.local_ref, spec.remote_ref]


def push_argv(spec: ImageSpec) -> list[str]:
    return ["docker", "push", spec.remote_ref]


def login_argv(spec: ImageSpec, username: str) -> list[str]:
    """The password goes to stdin, never on the command line."""
    return ["docker", "login", spec.push_host, "--username", username, "--password-stdin"]
