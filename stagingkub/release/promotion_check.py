"""image.promote's staging check: only the digest the staging release runs, with its pods
Ready, is promoted (build once; what goes further is what was tested)."""

from __future__ import annotations

from stagingkub.errors import StateError
from stagingkub.release import helm_ops
from stagingkub.release.helm import ReleaseSpec
from stagingkub.release.image import ImageSpec
from stagingkub.release.pods import not_ready, release_pods
from stagingkub.runner import Runner


def verify_staging(runner: Runner, settings, image: ImageSpec, digest: str) -> str:
    """What the staging release runs must be this digest, its pods Ready; else StateError.
    Returns the sentence that says so."""
    spec = ReleaseSpec.from_settings(settings, image.repository, image.version,
                                     helm_ops.values_path(settings))  # fmt: skip
    unknown = (f"so what staging runs is unknown. Deploy {image.version} to staging "
               f"(`invoke deploy --version {image.version}`), or pass --unverified to promote "
               "without that check.")  # fmt: skip
    try:
        release = helm_ops.release_state(runner, spec)
    except StateError as error:
        raise StateError(f"{error} The staging release cannot be read, {unknown}") from None
    if release is None:
        raise StateError(f"The staging release {spec.release} is not installed, {unknown}")
    running = ((release.get("config") or {}).get("rhdemo") or {}).get("image") or {}
    if running.get("digest") != digest:
        shown = f"{running.get('repository')}:{running.get('tag')}@{running.get('digest')}"
        raise StateError(
            f"Staging runs {shown} (release {spec.release}, revision {release.get('version')}), "
            f"not {digest}, which kind-registry holds for {image.version} now: promote only "
            f"what was tested. Deploy it to staging (`invoke deploy.helm --version "
            f"{image.version}`) and test it first, or pass --unverified."
        )
    return pods_ready(spec, digest)


def pods_ready(spec: ReleaseSpec, digest: str) -> str:
    """One read of the release's pods, one answer: all Ready, or which are not."""
    kubectl = ["kubectl", "--context", spec.context, "-n", spec.namespace]
    pods = release_pods(kubectl, spec.release)
    waiting = not_ready(pods) if pods else ["(no pod)"]
    if waiting:
        raise StateError(
            f"Staging runs {digest}, but its pods are not Ready ({', '.join(waiting)}): promote "
            "what passed, once the release is healthy (`invoke diag.k8s` says why), or pass "
            "--unverified."
        )
    return f"staging runs it with {len(pods)} pod(s) Ready (release {spec.release})"
