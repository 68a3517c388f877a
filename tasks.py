"""stagingkub: the rhdemo staging environment (local registry, KinD, Helm) as invoke tasks."""

import sys
from pathlib import Path

# invoke turns bytecode writing off unless --write-pyc (a guard from Python 2's tasks.pyc
# beside tasks.py), so every run compiled stagingkub from source again: about 50 ms of a
# converged cluster.create. Python 3 keeps bytecode in __pycache__, checked against the
# source; write it unless the user asked for none (-B, PYTHONDONTWRITEBYTECODE).
sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)

# tasks.py and the tasks/ folder share the name `tasks`: make this module a package
# whose submodules are found in tasks/ (which has no __init__.py on purpose).
__path__ = [str(Path(__file__).with_name("tasks"))]

from invoke import Collection  # noqa: E402 (after the bytecode switch)

from tasks import cache, cluster, deploy, dev, diag, image, registry  # noqa: E402

ns = Collection()
ns.add_collection(registry.ns)
ns.add_collection(cluster.ns)
ns.add_collection(cache.ns)
ns.add_collection(image.ns)
ns.add_collection(deploy.ns)
ns.add_collection(diag.ns)
ns.add_task(dev.dev)
