"""image.build and image.push: run the build, push only what the registry lacks, verify."""

from __future__ import annotations

import os
import re
import shlex
import shutil

from stagingkub import preflight
from stagingkub.console import say
from stagingkub.docker import state as docker_state
from stagingkub.errors import StateError
from stagingkub.registry.api import RegistryHTTPError, RegistryUnauthorized
from stagingkub.release import image_inputs
from stagingkub.release.image import (
    DIGEST_VARIABLE,
    ImageSpec,
    build_argv,
    digest_capture,
    login_argv,
    prebuild_argv,
    push_argv,
    tag_argv,
)
from stagingkub.release.promotion_record import promoted
from stagingkub.runner import Runner, require_tools

_PUSH_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def build_tools(spec: ImageSpec) -> list[str]:
    if spec.strategy == "dockerfile":
        return ["docker", "java"] if spec.prebuild[:1] == ("./mvnw",) else ["docker"]
    return ["docker", "java"]


def check_build_inputs(spec: ImageSpec) -> None:
    """Missing mvnw, pom.xml or Dockerfile: one clear message before anything runs.
    (Java is the preflight's: `preflight.require(build_tools(spec))`.)"""
    if spec.strategy == "dockerfile":
        if not spec.dockerfile.is_file():
            raise StateError(
                f"No Dockerfile at {spec.dockerfile}. Set image.dockerfile (relative to "
                f"image.app_dir = {spec.app_dir}), or use image.strategy: mvnw."
            )
        if spec.prebuild[:1] != ("./mvnw",):
            return
    mvnw, pom = spec.app_dir / "mvnw", spec.app_dir / "pom.xml"
    if not pom.is_file():
        raise StateError(
            f"No pom.xml in {spec.app_dir}: image.build runs the app's Maven wrapper there. "
            "Set image.app_dir to the app's directory (profile, STAGINGKUB_IMAGE_APP_DIR), or "
            "use image.strategy: dockerfile."
        )
    if not mvnw.is_file() or not os.access(mvnw, os.X_OK):
        raise StateError(
            f"No executable Maven wrapper at {mvnw}. Generate it in the app with "
            f"`mvn wrapper:wrapper`, or make it executable (`chmod +x {mvnw}`)."
        )


def build(runner: Runner, spec: ImageSpec, engine=None, *, checked: bool = False,
          force: bool = False, inputs: image_inputs.BuildInputs | None = None) -> str:  # fmt: skip
    """image.build, skipped when the local image was built from the same inputs; returns why
    it ran or was skipped. checked=True when the caller ran the preflight and input checks;
    inputs, when the caller read them already."""
    if not checked:
        preflight.require(build_tools(spec))
        check_build_inputs(spec)
    engine = engine or docker_state.client()
    inputs = inputs or image_inputs.collect(spec, engine, spec.files_dir)
    why = "--force-build" if force else _build_reason(engine, spec, inputs)
    if not why:
        runner.note(
            f"build skipped: {spec.local_ref} was built from these inputs "
            f"({inputs.digest[:19]}); --force-build rebuilds it"
        )
        return "inputs unchanged"
    runner.note(f"build {spec.local_ref}: {why}")
    for step in (prebuild_argv(spec), build_argv(spec)):
        if step is not None:
            runner.run(step[0], cwd=step[1])
    if runner.dry:
        return why
    built = local_image(engine, spec.local_ref)
    if built is None:
        raise StateError(
            f"The build ended without error, but there is no local image {spec.local_ref}. "
            "Check that the build names its image from "
            "-Dspring-boot.build-image.imageName (or the Dockerfile's -t)."
        )
    # The builders as the build left them (it may have pulled a newer one).
    builders = image_inputs.builder_ids(spec, engine)
    done = image_inputs.BuildInputs(inputs.files, inputs.recipe, builders)
    image_inputs.save(spec.records_dir, done, spec.local_ref, built["Id"])
    say(f"Built {spec.local_ref}.")
    return why


def _build_reason(engine, spec: ImageSpec, inputs) -> str:
    """Why the local image cannot be reused ('' when it can)."""
    image = local_image(engine, spec.local_ref)
    if image is None:
        return f"no local image {spec.local_ref}"
    return image_inputs.difference(image_inputs.load(spec.records_dir, image["Id"]), inputs)


def local_image(engine, reference: str) -> dict | None:
    """`docker image inspect` of reference, or None."""
    return engine.image(reference)


def _local_digests(image: dict, repository: str) -> set[str]:
    digests = {image["Id"]}
    for repo_digest in image.get("RepoDigests") or []:
        name, _, digest = repo_digest.partition("@")
        if name == repository:
            digests.add(digest)
    return digests


def push(runner: Runner, spec: ImageSpec, *, rebuilt: bool = False) -> str:
    """Tag and push unless the registry already holds this image; returns the manifest digest
    (under --dry, the variable the script reads it into). rebuilt: a --dry script that builds
    the image first pushes it whatever the registry holds now."""
    require_tools(["docker"])
    engine = docker_state.client()
    image = None if runner.dry and rebuilt else local_image(engine, spec.local_ref)
    if image is None and not runner.dry:
        return _held_already(runner, spec)
    if spec.auth and not spec.auth[1]:
        raise StateError(_NO_PASSWORD.format(host=spec.push_host))
    # Under --dry the build has not run, or the registry may not exist yet: plan the push.
    try:
        remote = _remote_digests(spec, dry=runner.dry) if image is not None else None
    except _Unreadable:
        say(
            f"{spec.push_host} does not answer anonymous API requests and registry.username is "
            "not set: pushing without checking whether it holds this image already."
        )
        remote = None
    if remote and promoted(spec).get("digest") == remote[0]:  # the registry's record
        runner.note(f"push skipped: the registry holds {spec.remote_ref} ({remote[0]}), "
                    "promoted from staging: what was tested is deployed, not rebuilt")  # fmt: skip
        return remote[0]
    if image is not None and remote and _local_digests(image, spec.repository) & set(remote):
        tagged = local_image(engine, spec.remote_ref)
        if tagged is None or tagged["Id"] != image["Id"]:
            runner.run(tag_argv(spec))
        runner.note(f"push skipped: the registry already holds {spec.remote_ref} ({remote[0]})")
        return remote[0]
    if spec.auth or spec.external:
        login(runner, spec)
    runner.run(tag_argv(spec))
    result = runner.run(push_argv(spec))
    if runner.dry:
        runner.script(digest_capture(spec))
        return DIGEST_VARIABLE
    return verify_push(spec, result.stdout)


def _held_already(runner: Runner, spec: ImageSpec) -> str:
    """No local image to push: fine when the registry holds the tag (an image promoted
    there, or pushed from another machine); its digest is what gets deployed."""
    try:
        remote = _remote_digests(spec)
    except _Unreadable:
        remote = None
    if remote:
        runner.note(f"push skipped: there is no local image {spec.local_ref}, and the registry "
                    f"holds {spec.remote_ref} ({remote[0]}): deploying that")  # fmt: skip
        return remote[0]
    raise StateError(
        f"There is no local image {spec.local_ref} to push, and the registry has no "
        f"{spec.remote_ref}. Build it first: `invoke image.build --version {spec.version}` (or "
        "promote it there from staging: `invoke image.promote`)."
    )


def registry_digest(spec: ImageSpec) -> str:
    """The manifest digest the registry holds for the tag (deploy.helm pins it); a tag the
    registry lacks stops before any helm command."""
    try:
        remote = _remote_digests(spec)
    except _Unreadable:
        image = local_image(docker_state.client(), spec.remote_ref)
        pushed = sorted(_local_digests(image, spec.repository) - {image["Id"]}) if image else []
        if pushed:
            say(f"{spec.push_host} needs a login for its API: deploying the digest this host "
                f"pushed, {pushed[0]}.")  # fmt: skip
            return pushed[0]
        raise StateError(
            f"{spec.push_host} does not answer anonymous API requests, so the digest of "
            f"{spec.remote_ref} cannot be read: set registry.username (and "
            "STAGINGKUB_REGISTRY_PASSWORD), or push it from this host with "
            f"`invoke image.push --version {spec.version}`."
        ) from None
    if remote is None:
        raise StateError(
            f"The registry has no {spec.remote_ref}: deploy.helm deploys the image the registry "
            f"holds for the tag. Push it first with `invoke image.push --version {spec.version}` "
            f"(or run the whole pipeline: `invoke deploy --version {spec.version}`)."
        )
    return remote[0]


_NO_PASSWORD = (
    "registry.username is set for {host} but no password: set STAGINGKUB_REGISTRY_PASSWORD "
    "in .env or the environment (in Jenkins, through withCredentials)."
)


class _Unreadable(Exception):
    """An external registry wants credentials for its API, and none are configured (the user
    ran `docker login` by hand): the push goes on unchecked."""


def _remote_digests(spec: ImageSpec, dry: bool = False) -> tuple[str, str] | None:
    try:
        with spec.api(10.0) as api:
            return api.digests(spec.path, spec.version)
    except RegistryUnauthorized:
        if spec.external and not spec.auth:
            raise _Unreadable from None
        if dry:
            return None
        raise
    except RegistryHTTPError as error:
        if dry:
            return None
        raise StateError(
            f"Cannot ask the registry at {spec.registry_url} about {spec.remote_ref}: {error}"
        ) from None


def verify_push(spec: ImageSpec, push_output: str) -> str:
    """The registry must resolve the tag to the digest docker push reported."""
    pushed = _PUSH_DIGEST.findall(push_output)
    try:
        remote = _remote_digests(spec)
    except _Unreadable:
        if not pushed:
            raise StateError(
                f"docker push ended without a digest, and {spec.push_host} cannot be asked "
                "without registry.username: set it (and STAGINGKUB_REGISTRY_PASSWORD) to verify."
            ) from None
        say(f"Pushed {spec.remote_ref}@{pushed[-1]} (not verified: the API needs a login).")
        return pushed[-1]
    if remote is None or (pushed and remote[0] != pushed[-1]):
        raise StateError(
            f"docker push reported {pushed[-1] if pushed else 'success'}, but the registry "
            f"resolves {spec.remote_ref} to {remote[0] if remote else 'nothing'}. Another push "
            "may have raced this one, or the registry lost the upload: run image.push again."
        )
    say(f"Pushed {spec.remote_ref}@{remote[0]}.")
    return remote[0]


def login(runner: Runner, spec: ImageSpec) -> None:
    if not spec.auth:
        say(
            f"{spec.push_host} is an external registry and registry.username is not set: "
            "assuming `docker login` was done already."
        )
        return
    username, password = spec.auth
    if not password:
        raise StateError(_NO_PASSWORD.format(host=spec.push_host))
    if runner.dry:  # the script reads the secret from the environment, never inlines it
        runner.script(
            f'printf %s "$STAGINGKUB_REGISTRY_PASSWORD" | {shlex.join(login_argv(spec, username))}'
        )
        return
    runner.run(login_argv(spec, username), stdin=password)


TRIVY_HINT = (
    "Linux: https://trivy.dev/latest/getting-started/installation/ (or `apt-get install "
    "trivy` from Aqua's apt repository); macOS: `brew install trivy`"
)


def scan_argv(spec: ImageSpec) -> list[str]:
    return [
        "trivy", "image", "--exit-code", "1", "--severity", spec.scan_severity,
        "--no-progress", spec.local_ref,
    ]  # fmt: skip


def scan(runner: Runner, spec: ImageSpec) -> None:
    """image.scan: trivy on the local image before it is pushed, per image.scan."""

    if spec.scan == "never":
        runner.note("image scan off (image.scan: never)")
        return
    if shutil.which("trivy") is None:
        if spec.scan == "always":
            raise StateError(
                f"image.scan is 'always' but trivy is not installed ({TRIVY_HINT}). Install "
                "it, or set image.scan: auto to scan only where trivy is present. Nothing "
                "was pushed."
            )
        hint = "" if getattr(runner, "trivy_hint_said", False) else f" ({TRIVY_HINT})"
        runner.note(f"image scan skipped: trivy is not installed{hint}")  # hint: once per run
        runner.trivy_hint_said = True
        return
    result = runner.run(scan_argv(spec), warn=True)
    if result.exited != 0 and not runner.dry:
        raise StateError(
            f"trivy found {spec.scan_severity.replace(',', ' or ')} vulnerabilities in "
            f"{spec.local_ref} (its report is above), or could not scan it (exit code "
            f"{result.exited}). Nothing was pushed. Fix the image (update its base or "
            "dependencies), or change image.scan_severity / image.scan deliberately."
        )
    if not runner.dry:
        say(f"trivy: no {spec.scan_severity} vulnerabilities in {spec.local_ref}.")
