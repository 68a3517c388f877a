"""The local Docker registry the kind nodes pull from: create, manage, purge."""

from invoke import Collection

from stagingkub.cli import command_runner, load_settings, print_status, task

FLAG_HELP = {
    "name": "Registry container name (registry.name, default kind-registry).",
    "port": "Host port to publish (registry.port, default 5000).",
    "bind": "Address the port is published on (registry.bind_address, default 127.0.0.1).",
    "image": "Registry image (registry.image, default registry:2).",
    "volume": "Named volume for the data (registry.volume, default kind-registry-data).",
}


def _spec(profile, name=None, port=None, bind=None, image=None, volume=None, task_name=""):
    """(settings, the local registry's spec); a task other than create refuses an external
    registry, and create has no spec for one."""
    from stagingkub.registry.plan import RegistrySpec

    settings = load_settings(
        profile,
        **{
            "registry.name": (name, "--name"),
            "registry.port": (port, "--port"),
            "registry.bind_address": (bind, "--bind"),
            "registry.image": (image, "--image"),
            "registry.volume": (volume, "--volume"),
        },
    )
    if settings.registry.mode == "external":
        from stagingkub.console import say
        from stagingkub.registry.ops import require_local

        if task_name == "registry.create":
            say(
                f"registry.mode is external ({settings.registry.host}): there is no local "
                "registry to create. Nothing to do."
            )
            return settings, None
        require_local(settings, task_name)
    return settings, RegistrySpec.from_settings(settings)


@task(
    help={
        **FLAG_HELP,
        "recreate": "Replace a container whose image, port or volume differ "
        "from the settings (the data volume is kept).",
    }
)
def create(
    c, name=None, port=None, bind=None, image=None, volume=None, recreate=False, profile=None
):
    """Create or repair the registry: running, healthy, on the kind network (idempotent)."""
    from stagingkub.registry import ops as registry_ops

    settings, spec = _spec(profile, name, port, bind, image, volume, task_name="registry.create")
    if spec is not None:
        registry_ops.ensure(command_runner(c, settings), spec, recreate=recreate)


@task(help={"name": FLAG_HELP["name"]})
def start(c, name=None, profile=None):
    """Start the stopped registry container and wait until its API answers."""
    from stagingkub.registry import ops as registry_ops

    settings, spec = _spec(profile, name, task_name="registry.start")
    registry_ops.start(command_runner(c, settings), spec)


@task(help={"name": FLAG_HELP["name"]})
def stop(c, name=None, profile=None):
    """Stop the registry container (its data stays in the volume)."""
    from stagingkub.registry import ops as registry_ops

    settings, spec = _spec(profile, name, task_name="registry.stop")
    registry_ops.stop(command_runner(c, settings), spec)


@task(help={"name": FLAG_HELP["name"]})
def restart(c, name=None, profile=None):
    """Restart the registry container and wait until its API answers."""
    from stagingkub.registry import ops as registry_ops

    settings, spec = _spec(profile, name, task_name="registry.restart")
    registry_ops.restart(command_runner(c, settings), spec)


@task(
    help={
        "name": FLAG_HELP["name"],
        "follow": "Keep streaming new lines (Ctrl-C to stop).",
        "tail": "Show only the last N lines (default: all).",
    }
)
def logs(c, name=None, follow=False, tail="", profile=None):
    """Show the registry container's logs (docker logs)."""
    from stagingkub import validate
    from stagingkub.registry import ops as registry_ops

    if tail:
        tail = str(validate.count(tail, "--tail"))
    settings, spec = _spec(profile, name, task_name="registry.logs")
    registry_ops.logs(command_runner(c, settings), spec, follow=follow, tail=tail)


@task(help={"name": FLAG_HELP["name"]})
def status(c, name=None, profile=None):
    """State, health, port, networks, image, volume and disk use; exit 1 unless healthy."""
    from stagingkub.registry import ops as registry_ops

    print_status(*registry_ops.status(_spec(profile, name, task_name="registry.status")[1]))


@task(help={**FLAG_HELP, "yes": "Confirm deleting the registry's data (required off a terminal)."})
def purge(c, name=None, port=None, bind=None, image=None, volume=None, yes=False, profile=None):
    """Delete the registry and ALL its images, then recreate it empty (asks, or --yes)."""
    from stagingkub.registry import ops as registry_ops

    settings, spec = _spec(profile, name, port, bind, image, volume, task_name="registry.purge")
    registry_ops.purge(command_runner(c, settings), spec, yes=yes)


@task(help={"name": FLAG_HELP["name"], "port": FLAG_HELP["port"]})
def ls(c, name=None, port=None, profile=None):
    """Repositories, tags, digests and sizes in the registry (shared layers counted once)."""
    from stagingkub.registry import ops as registry_ops

    rows, footer = registry_ops.ls_table(_spec(profile, name, port, task_name="registry.ls")[1])
    from stagingkub.console import print_table

    print_table([("REPOSITORY", "TAG", "DIGEST", "SIZE"), *rows])
    print(footer)


@task(
    help={
        "keep": "How many of the newest tags to keep in each repository (required).",
        "repo": "Only this repository (default: every repository).",
        "yes": "Delete for real; without it the plan is listed and nothing is deleted.",
        "unprotected": "Delete even when helm cannot say which images the cluster runs or "
        "can roll back to (it then refuses and deletes nothing).",
    }
)
def prune(c, keep, repo="", yes=False, unprotected=False, profile=None):
    """Delete old tags (by manifest digest), keeping the newest N per repository, the image
    the helm release runs and its rollback targets; lists first, deletes only with --yes."""
    from stagingkub import validate
    from stagingkub.registry import prune as prune_ops

    keep = validate.count(keep, "--keep")
    if repo:
        validate.repository(repo, "--repo")
    settings = load_settings(profile)
    prune_ops.prune(command_runner(c, settings), settings, keep=keep, repository=repo, yes=yes,
                    unprotected=unprotected)  # fmt: skip


@task(help={"yes": "Collect for real (stops the registry meanwhile); without it, a dry run."})
def gc(c, yes=False, profile=None):
    """Garbage-collect unreferenced layers: dry run first; with --yes stop, collect, start,
    check every remaining tag, and print the bytes freed."""
    from stagingkub.registry import gc as gc_ops

    settings = load_settings(profile)
    gc_ops.gc(command_runner(c, settings), settings, yes=yes)


ns = Collection("registry", create, start, stop, restart, logs, status, purge, ls, prune, gc)
