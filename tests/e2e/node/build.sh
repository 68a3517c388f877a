#!/usr/bin/env bash
# Builds, on a machine that reaches only package registries (Debian's mirror, the
# Go module proxy), everything a real kind cluster needs:
#   - the kind CLI, from its Go module sigs.k8s.io/kind;
#   - kind's base image, made like kind's images/base: a Debian root filesystem
#     from debootstrap (`docker import`), kind's own files read from the kind
#     module (images/base/files), containerd 2.x, crictl and the CNI plugins
#     built from their Go modules, Debian's runc;
#   - the node image, made like `kind build node-image`: the Kubernetes binaries
#     and image archives built by build_k8s.sh, imported into the node's
#     containerd, plus /kind/version and kind's default CNI / storage manifests
#     (read from the kind module's pkg/build/nodeimage).
# Nothing of kind, Kubernetes or containerd is copied into this repository.
#
# Every step is keyed by a hash of its inputs; a step whose output exists under
# its key is skipped, so a second run takes seconds.
# Outputs live under ${STAGINGKUB_CACHE:-/var/cache/stagingkub}/kind-node/.
# The last two lines printed are KIND=<path> and NODE_IMAGE=<image>.
#
# usage: build.sh [--rootfs-only | --no-k8s]   (stop after the rootfs / the base image)
# Environment: KIND_VERSION, K8S_VERSION, CONTAINERD_VERSION, CRICTL_VERSION,
# CNI_PLUGINS_VERSION, STAGINGKUB_CACHE, IMAGE_PREFIX (stagingkub/kind),
# K8S_OUT (a ready directory of Kubernetes binaries and images: build_k8s.sh is not run).
# Needs a running Docker engine (kind's privileged nodes need Engine >= 23 here:
# .ci/install-docker).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=/usr/local/go/bin:$PATH

KIND_VERSION=${KIND_VERSION:-v0.33.0}
K8S_VERSION=${K8S_VERSION:-v1.34.4}
SUITE=${NODE_DEBIAN_SUITE:-bookworm}
# kind v0.33's base uses containerd v2.3.4, crictl v1.36.0, CNI plugins v1.9.1,
# runc v1.4.3; we take the nearest versions the module proxy serves.
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.3.7}
CRICTL_VERSION=${CRICTL_VERSION:-v1.37.0}
CNI_PLUGINS_VERSION=${CNI_PLUGINS_VERSION:-v1.9.1}

IMAGE_PREFIX=${IMAGE_PREFIX:-stagingkub/kind}  # images: <prefix>-rootfs, -base, -node
CACHE_ROOT=${STAGINGKUB_CACHE:-/var/cache/stagingkub}/kind-node
WORK=$CACHE_ROOT/work
BIN=$CACHE_ROOT/bin
LOGS=$CACHE_ROOT/logs
mkdir -p "$WORK" "$BIN" "$LOGS"
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
T0=$SECONDS

log() { printf '[build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
hash16() { sha256sum | cut -c1-16; }
# the source of our own functions named, so that changing a step re-runs it
fnsrc() { declare -f "$@"; }
moddir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",\{0,1\}$/\1/p'; }
# fresh NAME KEY: step NAME last completed with this KEY (marker in $WORK)
fresh() { [ -f "$WORK/.done-$1" ] && [ "$(cat "$WORK/.done-$1")" = "$2" ]; }
done_() { echo "$2" >"$WORK/.done-$1"; }
timed() { # timed NAME CMD...: runs CMD, logs its wall time
  local name=$1 t=$SECONDS; shift
  "$@"
  log "$name: $((SECONDS - t)) s"
  echo "$name $((SECONDS - t))" >>"$LOGS/timings"
}
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
# prune_tags KEEP: other tags of KEEP's repository (ours: stagingkub/kind-*) are
# removed; one still used by a container stays (docker rmi without -f refuses).
prune_tags() {
  local repo=${1%:*} ref
  docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo" | while read -r ref; do
    [ "$ref" = "$1" ] || docker rmi "$ref" >/dev/null 2>&1 || true
  done
}

command -v docker >/dev/null || die "docker CLI missing (run .ci/install-docker)"
docker info >/dev/null 2>&1 || die "no Docker engine answers (run .ci/install-docker)"

# ------------------------------------------------------------------ kind CLI
KIND_DIR=$(moddir "sigs.k8s.io/kind@$KIND_VERSION")
[ -d "$KIND_DIR/images/base/files" ] || die "kind module source not found for $KIND_VERSION"
KIND=$BIN/kind
build_kind() {
  GOBIN=$BIN CGO_ENABLED=0 go install -trimpath -ldflags '-s -w' "sigs.k8s.io/kind@$KIND_VERSION"
}
k=$(echo "$KIND_VERSION $(go env GOVERSION) $(fnsrc build_kind)" | hash16)
if fresh kind "$k" && [ -x "$KIND" ]; then log "kind: up to date"; else
  log "kind: building $KIND_VERSION"; timed kind build_kind; done_ kind "$k"; fi
"$KIND" version >&2

# ------------------------------------------------------------- Debian rootfs
# kind's base installs these Debian packages (images/base/Dockerfile); runc is
# Debian's too (it links Debian's libseccomp).
NODE_PACKAGES="systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod
libseccomp2 pigz fuse-overlayfs nfs-common open-iscsi e2fsprogs bash ca-certificates curl jq
procps runc"
debian_mirror() { # the machine's own Debian mirror: the first URI of a source for bookworm
  local f
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -e "$f" ] || continue
      awk 'BEGIN { RS = ""; FS = "\n" }
           { u = ""; ok = 0
             for (i = 1; i <= NF; i++) {
               if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u) }
               if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok = 1
               if ($i ~ /^Enabled:[ \t]*no/) { ok = 0; break }
             }
             if (ok) print u }' "$f"
    done
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
      awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^[a-z+]+:\/\//) { if ($(i + 1) == "bookworm") print $i; break } }'
  } | tr ' ' '\n' | grep -E '://' | grep -v security | head -n1
}
build_rootfs() {
  local dir=$WORK/rootfs mirror
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || die "no Debian mirror URI in the apt sources"
  command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  rm -rf "$dir"
  debootstrap --variant=minbase --include="$(echo $NODE_PACKAGES | tr ' ' ',')" \
    "$SUITE" "$dir" "$mirror" >"$LOGS/debootstrap.log" 2>&1 || { tail -n 30 "$LOGS/debootstrap.log"; die "debootstrap failed"; }
  # what kind's clean-install removes
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/cache/debconf/* "$dir"/var/lib/apt/lists/* "$dir"/var/log/* "$dir"/tmp/* \
    "$dir"/var/tmp/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/local/*
  # the machine's mirror is not the node's business
  : >"$dir/etc/apt/sources.list"
  tar -C "$dir" --numeric-owner -c . | docker import - "$ROOTFS_IMAGE" >/dev/null
  rm -rf "$dir"
}
k=$(echo "$SUITE $NODE_PACKAGES $(fnsrc build_rootfs debian_mirror)" | hash16)
ROOTFS_IMAGE=$IMAGE_PREFIX-rootfs:$k
if image_exists "$ROOTFS_IMAGE"; then log "rootfs: up to date ($ROOTFS_IMAGE)"; else
  log "rootfs: debootstrap $SUITE"; timed rootfs build_rootfs; prune_tags "$ROOTFS_IMAGE"; fi

[ "${1:-}" = "--rootfs-only" ] && exit 0

# ------------------------------------------------- runtime binaries (Go modules)
# containerd, ctr, the runc shim, crictl and the CNI plugins kind's base ships.
# Static (CGO_ENABLED=0); containerd without the snapshotters kind drops.
CTRD_MOD=github.com/containerd/containerd/v2
build_runtime() {
  local out=$1 ld='-s -w'
  rm -rf "$out.tmp"; mkdir -p "$out.tmp/bin" "$out.tmp/cni"
  GOBIN=$out.tmp/bin CGO_ENABLED=0 go install -trimpath -tags 'no_aufs no_zfs no_btrfs no_devmapper' \
    -ldflags "$ld -X $CTRD_MOD/version.Version=$CONTAINERD_VERSION -X $CTRD_MOD/version.Package=$CTRD_MOD" \
    "$CTRD_MOD/cmd/containerd@$CONTAINERD_VERSION" "$CTRD_MOD/cmd/ctr@$CONTAINERD_VERSION" \
    "$CTRD_MOD/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
  GOBIN=$out.tmp/bin CGO_ENABLED=0 go install -trimpath \
    -ldflags "$ld -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  local p=github.com/containernetworking/plugins
  GOBIN=$out.tmp/cni CGO_ENABLED=0 go install -trimpath \
    -ldflags "$ld -X $p/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
    "$p/plugins/ipam/host-local@$CNI_PLUGINS_VERSION" "$p/plugins/main/loopback@$CNI_PLUGINS_VERSION" \
    "$p/plugins/main/ptp@$CNI_PLUGINS_VERSION" "$p/plugins/meta/portmap@$CNI_PLUGINS_VERSION"
  rm -rf "$out"; mv "$out.tmp" "$out"
}
k=$(echo "$CONTAINERD_VERSION $CRICTL_VERSION $CNI_PLUGINS_VERSION $(go env GOVERSION) $(fnsrc build_runtime)" | hash16)
RUNTIME=$WORK/runtime-$k
if [ -x "$RUNTIME/bin/containerd" ]; then log "runtime binaries: up to date ($k)"; else
  log "runtime binaries: building containerd $CONTAINERD_VERSION, crictl $CRICTL_VERSION, CNI plugins $CNI_PLUGINS_VERSION"
  timed runtime build_runtime "$RUNTIME"
  find "$WORK" -maxdepth 1 -name 'runtime-*' ! -path "$RUNTIME" -exec rm -rf {} +; fi

# ------------------------------------------------------------------ base image
# Our Dockerfile.base on the rootfs, with kind's images/base/files and the
# runtime binaries in its context (legacy builder: modes are set here).
build_base() {
  local ctx=$WORK/base-ctx f
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp -r "$KIND_DIR/images/base/files" "$ctx/files"
  chmod -R u+w "$ctx/files"
  find "$ctx/files" -type d -exec chmod 0755 {} +
  find "$ctx/files" -type f -exec chmod 0644 {} +
  chmod 0755 "$ctx"/files/usr/local/bin/* "$ctx"/files/kind/bin/*
  cp -r "$RUNTIME" "$ctx/runtime"
  cp "$HERE/Dockerfile.base" "$ctx/Dockerfile"
  docker build --build-arg "ROOTFS=$ROOTFS_IMAGE" -t "$BASE_IMAGE" "$ctx" >"$LOGS/base-build.log" 2>&1 ||
    { tail -n 30 "$LOGS/base-build.log"; die "base image build failed"; }
  rm -rf "$ctx"
}
k=$( { echo "$ROOTFS_IMAGE $RUNTIME"; fnsrc build_base; cat "$HERE/Dockerfile.base";
       (cd "$KIND_DIR/images/base/files" && find . -type f | sort | xargs sha256sum); } | hash16)
BASE_IMAGE=$IMAGE_PREFIX-base:$k
if image_exists "$BASE_IMAGE"; then log "base image: up to date ($BASE_IMAGE)"; else
  log "base image: building $BASE_IMAGE"; timed base build_base; prune_tags "$BASE_IMAGE"; fi

[ "${1:-}" = "--no-k8s" ] && { echo "BASE_IMAGE=$BASE_IMAGE"; exit 0; }

# ------------------------------------------- Kubernetes binaries and images (B)
# build_k8s.sh builds kubeadm/kubelet/kubectl and the image archives
# (images/*.tar, listed in images/images.txt); its last line is its output dir.
# (K8S_OUT set: use that directory as it is, build nothing there.)
if [ -z "${K8S_OUT:-}" ]; then
  # its output goes to our stderr as it comes; its last line is kept
  K8S_OUT=$(K8S_VERSION=$K8S_VERSION KIND_VERSION=$KIND_VERSION bash "$HERE/build_k8s.sh" |
    { last=; while IFS= read -r line; do printf '%s\n' "$line" >&2; last=$line; done; printf '%s' "$last"; })
fi
[ -x "$K8S_OUT/bin/kubeadm" ] && [ -f "$K8S_OUT/images/images.txt" ] || die "build_k8s.sh gave no binaries/images in $K8S_OUT"

# ------------------------------------------------------------------ node image
# What `kind build node-image` does (kind's pkg/build/nodeimage/buildcontext.go),
# done here because kind's builder pulls every image it did not build itself
# (etcd, CoreDNS, pause, kindnetd, local-path-*) and nothing can be pulled:
# binaries to /usr/bin, /kind/version, kind's default CNI and storage manifests,
# every image archive imported into the node's containerd (k8s.io namespace,
# pinned, not unpacked), the pause image containerd's config names, docker commit.
KIND_NODEIMAGE=$KIND_DIR/pkg/build/nodeimage
kindconst() { (cd "$HERE/kindconsts" && go run . "$1" "$KIND_NODEIMAGE/const_cni.go" "$KIND_NODEIMAGE/const_storage.go"); }
build_node() {
  local id=stagingkub-kind-build-$$ ctx=$WORK/node-ctx b ref tar required missing have sandbox
  rm -rf "$ctx"; mkdir -p "$ctx/manifests"
  kindconst defaultCNIManifest >"$ctx/manifests/default-cni.yaml"
  kindconst defaultStorageManifest >"$ctx/manifests/default-storage.yaml"
  { kindconst defaultCNIImages; kindconst defaultStorageImages; } >"$ctx/kind-images"
  docker rm -f -v "$id" >/dev/null 2>&1 || true
  docker run -d --entrypoint=sleep --name "$id" --label io.stagingkub.kind-build=1 \
    --security-opt seccomp=unconfined "$BASE_IMAGE" infinity >/dev/null
  # shellcheck disable=SC2064
  trap "docker rm -f -v $id >/dev/null 2>&1 || true" EXIT
  for b in kubeadm kubelet kubectl; do
    docker cp -L "$K8S_OUT/bin/$b" "$id:/usr/bin/$b"
    docker exec "$id" sh -c "chmod +x /usr/bin/$b && chown root:root /usr/bin/$b"
  done
  printf '%s' "$K8S_VERSION" | docker exec -i "$id" sh -c 'mkdir -p /kind && cp /dev/stdin /kind/version'
  docker exec "$id" mkdir -p /kind/manifests
  docker cp "$ctx/manifests/." "$id:/kind/manifests/"
  # the images kind's builder requires: kubeadm's list without its pause, the
  # pause image containerd's config names, kind's CNI and storage images
  sandbox=$(docker exec "$id" cat /etc/containerd/config.toml | sed -n 's/^[[:space:]]*sandbox_image[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p')
  [ -n "$sandbox" ] || die "no sandbox_image in the base's containerd config"
  required=$( { docker exec "$id" kubeadm config images list --kubernetes-version "$K8S_VERSION" | grep -v pause
                echo "$sandbox"; cat "$ctx/kind-images"; } )
  # ctr in k8s.io, without containerd's cgroup v1 deprecation notice on every call
  nctr() { docker exec -i "$id" ctr --namespace=k8s.io "$@" 2> >(grep -v 'support for cgroup v1 is deprecated' >&2); }
  docker exec "$id" bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
  for _ in $(seq 1 30); do docker exec "$id" ctr info >/dev/null 2>&1 && break; sleep 1; done
  docker exec "$id" ctr info >/dev/null 2>&1 || { docker exec "$id" tail -n 20 /var/log/containerd-build.log; die "containerd did not start in the build container"; }
  while read -r ref tar; do
    nctr images import --label=io.cri-containerd.pinned=pinned \
      --all-platforms --no-unpack --digests - <"$K8S_OUT/$tar" >/dev/null
  done <"$K8S_OUT/images/images.txt"
  have=$(nctr images list -q </dev/null)
  # the sandbox image: kind's config names pause:3.10, kubeadm 1.34 pause:3.10.1;
  # one pause binary serves both names
  if ! grep -qxF "$sandbox" <<<"$have"; then
    b=$(grep -E '/pause:' <<<"$have" | grep -v '@' | head -n1)
    [ -n "$b" ] || die "no pause image among the archives"
    log "node: tagging $b as $sandbox (containerd's sandbox_image)"
    nctr images tag --force "$b" "$sandbox" </dev/null >/dev/null
    nctr images label "$sandbox" io.cri-containerd.pinned=pinned </dev/null >/dev/null
    have=$(nctr images list -q </dev/null)
  fi
  missing=$(grep -vxF -f <(echo "$have") <<<"$required" || true)
  [ -z "$missing" ] || die "images missing from the node (nothing can be pulled): $(echo $missing)"
  docker exec "$id" pkill containerd || true
  for _ in $(seq 1 20); do docker exec "$id" pgrep -x containerd >/dev/null || break; sleep 0.5; done
  docker exec "$id" rm -f /var/log/containerd-build.log
  docker commit \
    --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
    --change 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""' \
    "$id" "$NODE_IMAGE" >/dev/null
  docker rm -f -v "$id" >/dev/null
  trap - EXIT
  rm -rf "$ctx"
}
k=$( { echo "$BASE_IMAGE $K8S_VERSION"; fnsrc build_node kindconst; cat "$HERE"/kindconsts/*;
       cat "$KIND_NODEIMAGE/const_cni.go" "$KIND_NODEIMAGE/const_storage.go";
       cat "$K8S_OUT/images/images.txt"; cat "$K8S_OUT"/.stamp-* 2>/dev/null;
       cd "$K8S_OUT" && sha256sum bin/kubeadm bin/kubelet bin/kubectl images/*.tar; } | hash16)
NODE_IMAGE=$IMAGE_PREFIX-node:$K8S_VERSION-$k
if image_exists "$NODE_IMAGE"; then log "node image: up to date ($NODE_IMAGE)"; else
  log "node image: building $NODE_IMAGE"; timed node build_node; prune_tags "$NODE_IMAGE"; fi

# kubectl of the same release beside kind: the tests put kind's folder first on PATH
install -m 0755 "$K8S_OUT/bin/kubectl" "$BIN/kubectl.new" && mv -f "$BIN/kubectl.new" "$BIN/kubectl"

log "all done in $((SECONDS - T0)) s"
echo "KIND=$KIND"
echo "NODE_IMAGE=$NODE_IMAGE"
