"""The application image: its names and the build, tag, push and login commands (pure)."""

from __future__ import annotations

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
    external: bool = False  # registry.mode external: Harbor, ECR, GHCR...
    project: str = ""  # harbor project / GHCR owner: host/project/name
    local_url: str = ""  # the local registry's API (https with registry.tls)
    cafile: str | None = None
    auth: tuple[str, str] | None = field(default=None, repr=False, compare=False)
    scan: str = "never"  # auto | always | never
    scan_severity: str = "HIGH,CRITICAL"

    @classmethod
    def from_settings(cls, settings, version: str) -> ImageSpec:
        from stagingkub.registry import RegistrySpec

        i, r = settings.image, settings.registry
        app_dir = Path(i.app_dir)
        app_dir = (app_dir if app_dir.is_absolute() else settings.root / app_dir).resolve()
        external = r.mode == "external"
        local = RegistrySpec.from_settings(settings)
        cafile = _external_ca(settings) if external else local.cafile
        credentials = (r.username, r.password) if r.username else None
        return cls(
            name=i.name,
            version=version,
            strategy=i.strategy,
            app_dir=app_dir,
            maven_args=tuple(i.maven_args),
            dockerfile=(app_dir / i.dockerfile).resolve(),
            context=(app_dir / i.context).resolve(),
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
        from stagingkub.registry_api import RegistryAPI

        return RegistryAPI(self.registry_url, timeout, auth=self.auth, cafile=self.cafile)


def _external_ca(settings) -> str | None:
    if not settings.registry.ca_file:
        return None
    path = Path(settings.registry.ca_file)
    return str(path if path.is_absolute() else settings.root / path)


def build_argv(spec: ImageSpec) -> tuple[list[str], Path | None]:
    """(argv, directory to run it in): the guide's mvnw build, or docker build."""
    if spec.strategy == "dockerfile":
        argv = ["docker", "build", "-t", spec.local_ref, "-f", str(spec.dockerfile)]
        return [*argv, str(spec.context)], None
    argv = [
        "./mvnw", "-B", "clean", "spring-boot:build-image",
        f"-Dspring-boot.build-image.imageName={spec.local_ref}", *spec.maven_args,
    ]  # fmt: skip
    return argv, spec.app_dir


def tag_argv(spec: ImageSpec) -> list[str]:
    return ["docker", "tag", spec.local_ref, spec.remote_ref]


def push_argv(spec: ImageSpec) -> list[str]:
    return ["docker", "push", spec.remote_ref]


def login_argv(spec: ImageSpec, username: str) -> list[str]:
    """The password goes to stdin, never on the command line."""
    return ["docker", "login", spec.push_host, "--username", username, "--password-stdin"]
