"""The KinD cluster, wired to the local registry the way current containerd expects."""

from invoke import Collection

from stagingkub.cli import command_runner, load_settings, print_status, task

NAME_HELP = "kind cluster name (cluster.name, default rhdemo)."


def _settings(profile, name=None, image=None):
    return load_settings(
        profile, **{"cluster.name": (name, "--name"), "cluster.node_image": (image, "--image")}
    )


@task(help={"name": NAME_HELP, "image": "kind node image (cluster.node_image)."})
def create(c, name=None, image=None, profile=None):
    """Create or repair the kind cluster wired to the registry (hosts.toml, ConfigMap)."""
    from stagingkub.cluster import ops as cluster_ops

    settings = _settings(profile, name, image)
    cluster_ops.create(command_runner(c, settings), settings)


@task(help={"name": NAME_HELP, "yes": "Confirm the deletion (required off a terminal)."})
def delete(c, name=None, yes=False, profile=None):
    """Delete the kind cluster (asks, or --yes); the registry and its images stay."""
    from stagingkub.cluster import ops as cluster_ops

    settings = _settings(profile, name)
    cluster_ops.delete(command_runner(c, settings), settings, yes=yes)


@task(help={"name": NAME_HELP})
def status(c, name=None, profile=None):
    """Nodes, per-node registry wiring, ConfigMap, registry attachment; exit 1 unless all ok."""
    from stagingkub.cluster import ops as cluster_ops

    print_status(*cluster_ops.status(_settings(profile, name)))


ns = Collection("cluster", create, delete, status)
