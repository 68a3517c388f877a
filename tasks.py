"""stagingkub: the rhdemo staging environment (local registry, KinD, Helm) as invoke tasks."""

from pathlib import Path

# tasks.py and the tasks/ folder share the name `tasks`: make this module a package
# whose submodules are found in tasks/ (which has no __init__.py on purpose).
__path__ = [str(Path(__file__).with_name("tasks"))]

from invoke import Collection

from tasks import cache, cluster, deploy, diag, image, registry

ns = Collection()
ns.add_collection(registry.ns)
ns.add_collection(cluster.ns)
ns.add_collection(cache.ns)
ns.add_collection(image.ns)
ns.add_collection(deploy.ns)
ns.add_collection(diag.ns)
