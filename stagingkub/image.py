"""The application image: its names and the build, tag, push and login commands (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


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

    @classmethod
    def from_settings(cls, settings, version: str) -> ImageSpec:
        i, r = settings.image, settings.registry
        app_dir = Path(i.app_dir)
        app_dir = (app_dir if app_dir.is_absolute() else settings.root / app_dir).resolve()
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
        )

    @property
    def local_ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def push_host(self) -> str:
        host = f"[{self.registry_host}]" if ":" in self.registry_host else self.registry_host
        return f"{host}:{self.registry_port}"

    @property
    def repository(self) -> str:
        """What pods pull: localhost:5000/rhdemo-api."""
        return f"{self.push_host}/{self.name}"

    @property
    def remote_ref(self) -> str:
        return f"{self.repository}:{self.version}"

    @property
    def is_local_registry(self) -> bool:
        return self.registry_host in LOCAL_HOSTS

    @property
    def registry_url(self) -> str:
        scheme = "http" if self.is_local_registry else "https"
        host = "127.0.0.1" if self.registry_host == "localhost" else self.registry_host
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.registry_port}"


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
