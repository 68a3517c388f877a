"""Seed a registry through its HTTP API: many repositories and tags in seconds, no docker push."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import httpx

CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _upload(http: httpx.Client, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = http.post(f"/v2/{repository}/blobs/uploads/")
    start.raise_for_status()
    location = start.headers["Location"]  # relative on registry 2.8
    separator = "&" if "?" in location else "?"
    done = http.put(
        f"{location}{separator}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    done.raise_for_status()
    return digest


def seed(url: str, repositories: int, tags: int, prefix: str = "bench") -> int:
    """repositories x tags manifests sharing one layer per repository; returns tags written."""
    with httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=16)) as http:

        def one_repository(index: int) -> int:
            repository = f"{prefix}/app-{index:03d}"
            layer = f"layer of {repository}".encode()
            config = json.dumps(
                {
                    "architecture": "amd64",
                    "os": "linux",
                    "rootfs": {"type": "layers", "diff_ids": []},
                }
            ).encode()
            config_digest = _upload(http, repository, config)
            layer_digest = _upload(http, repository, layer)
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MANIFEST_TYPE,
                    "config": {
                        "mediaType": CONFIG_TYPE,
                        "size": len(config),
                        "digest": config_digest,
                    },
                    "layers": [
                        {"mediaType": LAYER_TYPE, "size": len(layer), "digest": layer_digest}
                    ],
                }
            ).encode()
            for tag in range(tags):
                response = http.put(
                    f"/v2/{repository}/manifests/1.0.{tag}",
                    content=manifest,
                    headers={"Content-Type": MANIFEST_TYPE},
                )
                response.raise_for_status()
            return tags

        with ThreadPoolExecutor(max_workers=8) as pool:
            return sum(pool.map(one_repository, range(repositories)))
