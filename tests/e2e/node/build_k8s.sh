#!/usr/bin/env bash
# Builds, from published Go modules and Debian packages, every Kubernetes-specific
# part a kind node image needs (binaries + image archives), into
#   ${STAGINGKUB_CACHE:-/var/cache/stagingkub}/kind-node/k8s-<version>/
# Nothing of Kubernetes, etcd, CoreDNS or kind is copied into this repository:
# their sources are read from the Go module cache at build time.
#
# usage: build_k8s.sh [part ...]     parts: k8s etcd coredns pause lpp kindnetd rootfs images
#                                    (default: all). Last line printed: the output dir.
# Each part is keyed by a hash of its inputs (its own function body, versions, Go
# version, our files under k8s/); a part whose key matches its stamp is skipped.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=/usr/local/go/bin:$PATH

K8S_VERSION=${K8S_VERSION:-v1.34.4}
KIND_VERSION=${KIND_VERSION:-v0.33.0}
CACHE_ROOT=${STAGINGKUB_CACHE:-/var/cache/stagingkub}/kind-node
OUT=$CACHE_ROOT/k8s-$K8S_VERSION
BIN=$OUT/bin
LOGS=$OUT/logs
SRC=$OUT/src
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
mkdir -p "$BIN" "$LOGS" "$SRC" "$OUT/images" "$OUT/rootfs"
# one build at a time per output dir (a second caller waits, then finds it up to date)
exec 9>"$OUT/.lock"
flock 9

log() { printf '[build_k8s %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# modver MODULE@VERSION FIELD -> a field of `go mod download -json` (downloads it).
moddl() { go mod download -json "$1" | sed -n "s/^\t\"$2\": \"\(.*\)\",\{0,1\}$/\1/p"; }

hashdir() { [ ! -d "$1" ] || (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# what each part needs built first
deps() {
  case $1 in
    kindnetd|lpp) echo k8s ;;
    rootfs) echo k8s etcd coredns pause lpp kindnetd ;;
    images) echo rootfs ;;
  esac
}

# key PART -> hash of the part's inputs: its function (and helpers), our files it
# reads, the versions, Go, and the keys of the parts it is made from
key() {
  local part=$1 d
  { declare -f "build_$part" log moddl timed gomod kubeadm_const k8s_ldflags
    case $part in
      kindnetd) hashdir "$HERE/k8s/kindnetd" ;;
      coredns) hashdir "$HERE/k8s/coredns" ;;
      rootfs) declare -f copy_elf base_root busybox_root iptables_root image_refs need_debs; hashdir "$HERE/k8s/images" ;;
    esac
    for d in $(deps "$part"); do cat "$OUT/.stamp-$d"; done
    go env GOVERSION; echo "$K8S_VERSION $KIND_VERSION ${ETCD_VERSION:-} ${COREDNS_VERSION:-} ${LPP_VERSION:-}"
  } | sha256sum | cut -c1-16
}

# timed NAME CMD... -> runs CMD under /usr/bin/time -v, keeps the report in logs/
timed() {
  local name=$1; shift
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$LOGS/$name.time" "$@"
    log "$name: $(sed -n 's/^\tElapsed (wall clock) time (h:mm:ss or m:ss): /wall /p' "$LOGS/$name.time"), \
$(sed -n 's/^\tMaximum resident set size (kbytes): \(.*\)/maxrss \1 KiB/p' "$LOGS/$name.time")"
  else
    "$@"
  fi
}

all_exist() { local f; for f in "$@"; do [ -e "$f" ] || return 1; done; }

# outputs PART -> the files a part makes (a stamp without them does not count)
outputs() {
  local p
  case $1 in
    k8s) for p in $K8S_PKGS; do echo "$BIN/$p"; done ;;
    etcd) echo "$BIN/etcd"; echo "$BIN/etcdctl" ;;
    lpp) echo "$BIN/local-path-provisioner" ;;
    coredns|pause|kindnetd) echo "$BIN/$1" ;;
    rootfs) echo "$OUT/rootfs" ;;
    images) echo "$OUT/images/images.txt"; [ ! -f "$OUT/images/images.txt" ] || awk '{print "'"$OUT"'/" $2}' "$OUT/images/images.txt" ;;
  esac
}

declare -A CHECKED=()
run_part() {
  local part=$1 k stamp d
  [ -z "${CHECKED[$part]:-}" ] || return 0
  CHECKED[$part]=1
  for d in $(deps "$part"); do run_part "$d"; done
  k=$(key "$part")
  stamp=$OUT/.stamp-$part
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$k" ] && all_exist $(outputs "$part"); then
    log "$part: up to date ($k)"; return 0
  fi
  log "$part: building (key $k)"
  local t0=$SECONDS
  "build_$part"
  echo "$k" >"$stamp"
  log "$part: done in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- Kubernetes
K8S_PKGS="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
# The version stamp hack/lib/version.sh gives, gitCommit left empty (the proxy does
# not say it), buildDate = the module's publish time. kindnetd and lpp are linked
# with the very same -ldflags: the go command keys its compile cache on them, so
# any other -ldflags would recompile ~450 shared packages.
k8s_ldflags() {
  local ld="-s -w" v date minor
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  date=$(moddl "k8s.io/kubernetes@$K8S_VERSION" Info | xargs sed -n 's/.*"Time":"\([^"]*\)".*/\1/p')
  for v in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld="$ld -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitCommit= -X $v.gitTreeState=clean -X $v.buildDate=$date"
  done
  echo "$ld"
}
build_k8s() {
  local kdir staging ver=${K8S_VERSION#v}
  kdir=$(moddl "k8s.io/kubernetes@$K8S_VERSION" Dir)
  # the staging modules are published as k8s.io/<name> v0.<minor>.<patch>
  staging="v0.${ver#*.}"
  local d=$SRC/k8s
  rm -rf "$d"; mkdir -p "$d"
  {
    echo "module stagingkub.test/kindnode/k8s"
    echo
    # the same language version and GODEBUG defaults as kubernetes' own go.mod
    grep -E '^(go|godebug) ' "$kdir/go.mod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    # every module kubernetes' go.mod points at ./staging/src and also requires
    awk '/=> \.\/staging\/src\//{print $1}' "$kdir/go.mod" | while read -r m; do
      if grep -qE "^[[:space:]]+$m v0\.0\.0" "$kdir/go.mod"; then echo "	$m => $m $staging"; fi
    done
    echo ")"
  } >"$d/go.mod"
  cp "$kdir/go.sum" "$d/go.sum"; chmod u+w "$d/go.sum"
  local ld; ld=$(k8s_ldflags)
  local pkgs="" p
  for p in $K8S_PKGS; do pkgs="$pkgs k8s.io/kubernetes/cmd/$p"; done
  # module download (measured on its own), then one go build for all binaries
  (cd "$d" && timed k8s-download go list -mod=mod -deps $pkgs >/dev/null)
  (cd "$d" && timed k8s-build go build -mod=mod -trimpath -ldflags "$ld" -o "$BIN/" $pkgs)
  "$BIN/kubeadm" version -o short
}


# gomod NAME MODULE@VERSION... -> a fresh module dir $SRC/NAME of ours that requires them
gomod() {
  local name=$1 d=$SRC/$1 mv; shift
  rm -rf "$d"; mkdir -p "$d"
  { echo "module stagingkub.test/kindnode/$name"; echo; echo "go 1.24.0"; echo
    for mv in "$@"; do echo "require ${mv%@*} ${mv#*@}"; done
  } >"$d/go.mod"
  echo "$d"
}

# ---------------------------------------------------------------- etcd
# kubeadm's etcd image tag (constants.go DefaultEtcdVersion, e.g. 3.6.5-0) -> go.etcd.io/etcd v3.6.5
kubeadm_const() { sed -n "s/^[[:space:]]*$1 = \"\(.*\)\"$/\1/p" "$(moddl "k8s.io/kubernetes@$K8S_VERSION" Dir)/cmd/kubeadm/app/constants/constants.go"; }
ETCD_VERSION=${ETCD_VERSION:-}
COREDNS_VERSION=${COREDNS_VERSION:-}
build_etcd() {
  local v=${ETCD_VERSION:-v$(kubeadm_const DefaultEtcdVersion | sed 's/-[0-9]*$//')} d
  d=$(gomod etcd "go.etcd.io/etcd/server/v3@$v" "go.etcd.io/etcd/etcdctl/v3@$v")
  (cd "$d" && timed etcd-download go list -mod=mod -deps go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 >/dev/null)
  mkdir -p "$d/out"
  (cd "$d" && timed etcd-build go build -mod=mod -trimpath -ldflags "-s -w" -o out/ go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3)
  mv -f "$d/out/server" "$BIN/etcd"; mv -f "$d/out/etcdctl" "$BIN/etcdctl"
  "$BIN/etcd" --version | head -1
}

# ---------------------------------------------------------------- CoreDNS
# Only the plugins the kubeadm Corefile uses: our own main in k8s/coredns/main.go.
build_coredns() {
  local v=${COREDNS_VERSION:-$(kubeadm_const CoreDNSVersion)} d
  d=$(gomod coredns "github.com/coredns/coredns@$v")
  cp "$HERE/k8s/coredns/main.go" "$d/"
  (cd "$d" && timed coredns-download go list -mod=mod -deps . >/dev/null)
  (cd "$d" && timed coredns-build go build -mod=mod -trimpath -ldflags "-s -w" -o "$BIN/coredns" .)
  "$BIN/coredns" -version | head -1
  "$BIN/coredns" -plugins | tr '\n' ' '; echo
}

# ---------------------------------------------------------------- pause
# kubernetes' own build/pause/linux/pause.c, read from the module cache
build_pause() {
  local kdir v
  need_debs gcc libc6-dev binutils
  kdir=$(moddl "k8s.io/kubernetes@$K8S_VERSION" Dir)
  v=$(kubeadm_const PauseVersion)
  timed pause-build gcc -Os -Wall -Werror -static -DVERSION="v$v-stagingkub" -o "$BIN/pause" "$kdir/build/pause/linux/pause.c"
  strip "$BIN/pause"
  "$BIN/pause" -v
}

# ---------------------------------------------------------------- local-path-provisioner
# The version kind's images/local-path-provisioner/Makefile names, else the newest served.
# Built in a copy of the k8s module (client-go & co at v0.34.x, not its own v0.30): it
# compiles as is and reuses the Kubernetes compile cache (~100 s instead of 170 s here;
# v0.0.30 in its own module graph also builds, with client-go v0.30).
LPP_VERSION=${LPP_VERSION:-}
build_lpp() {
  local kind v d=$SRC/lpp
  kind=$(moddl "sigs.k8s.io/kind@$KIND_VERSION" Dir)
  v=${LPP_VERSION:-$(sed -n 's/^VERSION=//p' "$kind/images/local-path-provisioner/Makefile")}
  if ! go mod download "github.com/rancher/local-path-provisioner@$v" 2>"$LOGS/lpp-download.err"; then
    log "lpp: $v not served ($(tr '\n' ' ' <"$LOGS/lpp-download.err")); using the newest served"
    v=$(go list -m -versions github.com/rancher/local-path-provisioner | tr ' ' '\n' | tail -1)
  fi
  echo "$v" >"$OUT/lpp.version"
  rm -rf "$d"; mkdir -p "$d"
  sed 's#^module .*#module stagingkub.test/kindnode/lpp#' "$SRC/k8s/go.mod" >"$d/go.mod"
  echo "require github.com/rancher/local-path-provisioner $v" >>"$d/go.mod"
  cp "$SRC/k8s/go.sum" "$d/go.sum"
  (cd "$d" && timed lpp-download go list -mod=mod -deps github.com/rancher/local-path-provisioner >/dev/null)
  (cd "$d" && timed lpp-build go build -mod=mod -trimpath -ldflags "$(k8s_ldflags) -X main.VERSION=$v" -o "$BIN/local-path-provisioner" github.com/rancher/local-path-provisioner)
  "$BIN/local-path-provisioner" --version
}

# ---------------------------------------------------------------- kindnetd
# sigs.k8s.io/kind/images/kindnetd is not served by the proxy: our own stand-in
# (k8s/kindnetd/main.go), built in a copy of the k8s module so that it shares the
# Kubernetes build's module graph and compile cache.
build_kindnetd() {
  local d=$SRC/kindnetd
  rm -rf "$d"; mkdir -p "$d"
  sed 's#^module .*#module stagingkub.test/kindnode/kindnetd#' "$SRC/k8s/go.mod" >"$d/go.mod"
  cp "$SRC/k8s/go.sum" "$d/go.sum"
  cp "$HERE/k8s/kindnetd/main.go" "$d/"
  (cd "$d" && timed kindnetd-build go build -mod=mod -trimpath -ldflags "$(k8s_ldflags)" -o "$BIN/kindnetd" .)
}

# ---------------------------------------------------------------- image root filesystems
# copy_elf ROOT FILE... -> FILE and the shared libraries it loads (ldd), same paths
copy_elf() {
  local root=$1 f lib; shift
  for f in "$@"; do
    cp -d --parents "$f" "$root/"
    [ -L "$f" ] && cp --parents -L "$(readlink -f "$f")" "$root/"
    for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*'); do
      [ -e "$root$lib" ] || cp --parents -L "$lib" "$root/"
    done
  done
}

base_root() {   # the few files distroless/static gives a Go binary
  local r=$1
  mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/var/run" "$r/run" "$r/usr/local/bin"
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$r/etc/group"
  echo 'hosts: files dns' >"$r/etc/nsswitch.conf"
  [ ! -f /etc/ssl/certs/ca-certificates.crt ] || cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
}

busybox_root() {  # Debian's static busybox and its applets in /bin
  local r=$1 a
  mkdir -p "$r/bin"
  cp /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
}

iptables_root() {  # Debian's iptables (both backends), nft, conntrack + our wrapper
  local r=$1 multi c x
  mkdir -p "$r/etc" "$r/usr/sbin"
  busybox_root "$r"
  multi=$(command -v xtables-nft-multi)
  copy_elf "$r" "$multi" "$(command -v xtables-legacy-multi)" "$(command -v nft)" "$(command -v conntrack)"
  for x in /usr/lib/x86_64-linux-gnu/xtables/*.so; do copy_elf "$r" "$x"; done
  for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    rm -f "$r/bin/$c" "$r/usr/sbin/$c"
    ln -s xtables-nft-multi "$r/usr/sbin/${c/tables/tables-nft}"
    ln -s xtables-legacy-multi "$r/usr/sbin/${c/tables/tables-legacy}"
    ln -s iptables-wrapper "$r/usr/sbin/$c"
  done
  install -m 0755 "$HERE/k8s/images/iptables-wrapper.sh" "$r/usr/sbin/iptables-wrapper"
  for x in /etc/protocols /etc/services /etc/ethertypes; do [ ! -f $x ] || cp $x "$r/etc/"; done
}

need_debs() {  # the Debian packages the image roots copy from (CI: a fresh machine)
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}

# image refs: kubeadm's list for this version + the kind release's CNI/storage images
image_refs() {
  "$BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null
  local kind; kind=$(moddl "sigs.k8s.io/kind@$KIND_VERSION" Dir)
  sed -n 's/^const \(kindnetdImage\|storageProvisionerImage\|storageHelperImage\) = "\(.*\)"$/\2/p' \
    "$kind/pkg/build/nodeimage/const_cni.go" "$kind/pkg/build/nodeimage/const_storage.go"
}

build_rootfs() {
  need_debs iptables nftables conntrack busybox-static ca-certificates
  local ref name r df
  rm -rf "$OUT/rootfs"; mkdir -p "$OUT/rootfs"
  image_refs | while read -r ref; do
    name=${ref##*/}; name=${name%%:*}
    r=$OUT/rootfs/$name/root; mkdir -p "$r"
    df=$name
    case $name in
      kube-apiserver|kube-controller-manager|kube-scheduler)
        base_root "$r"; cp "$BIN/$name" "$r/usr/local/bin/"; df=kube ;;
      kube-proxy)
        base_root "$r"; iptables_root "$r"; cp "$BIN/kube-proxy" "$r/usr/local/bin/" ;;
      etcd)
        base_root "$r"; mkdir -p "$r/var/lib/etcd"; cp "$BIN/etcd" "$BIN/etcdctl" "$r/usr/local/bin/" ;;
      pause)
        cp "$BIN/pause" "$r/pause"
        # also under the name kind's containerd config.toml gives as sandbox_image
        sed -n 's/^[[:space:]]*sandbox_image = "\(.*\)"$/\1/p' \
          "$(moddl "sigs.k8s.io/kind@$KIND_VERSION" Dir)/images/base/files/etc/containerd/config.toml" \
          | grep -vxF "$ref" >"$OUT/rootfs/$name/extra-refs" || true ;;
      coredns)
        base_root "$r"; cp "$BIN/coredns" "$r/coredns" ;;
      kindnetd)
        base_root "$r"; iptables_root "$r"; cp "$BIN/kindnetd" "$r/bin/kindnetd" ;;
      local-path-provisioner)
        base_root "$r"; cp "$BIN/local-path-provisioner" "$r/usr/local/bin/" ;;
      local-path-helper)
        base_root "$r"; busybox_root "$r" ;;
      *) echo "no recipe for image $ref" >&2; return 1 ;;
    esac
    cp "$HERE/k8s/images/$df.Dockerfile" "$OUT/rootfs/$name/Dockerfile"
    echo "$ref" >"$OUT/rootfs/$name/ref"
  done
  du -sh "$OUT"/rootfs/*/root | sed 's#/root$##; s#'"$OUT"'/rootfs/##' >&2
}

# docker build (nothing pulled: every Dockerfile is FROM scratch) + docker save
build_images() {
  docker info >/dev/null 2>&1 || { echo "the docker engine is not up: images not built (rootfs/ is ready)" >&2; return 1; }
  local dir name ref extra refs label="stagingkub.kind-node=$K8S_VERSION"
  rm -f "$OUT"/images/*.tar "$OUT/images/images.txt"
  for dir in "$OUT"/rootfs/*/; do
    name=$(basename "$dir"); ref=$(cat "$dir/ref")
    DOCKER_BUILDKIT=0 docker build -q --label "$label" -t "$ref" "$dir" >/dev/null 2>"$LOGS/docker-build-$name.err" \
      || { cat "$LOGS/docker-build-$name.err" >&2; return 1; }
    refs=("$ref")
    if [ -s "$dir/extra-refs" ]; then
      while read -r extra; do docker tag "$ref" "$extra"; refs+=("$extra"); done <"$dir/extra-refs"
    fi
    docker save -o "$OUT/images/$name.tar" "${refs[@]}"
    for ref in "${refs[@]}"; do echo "$ref images/$name.tar" >>"$OUT/images/images.txt"; done
  done
  # our own earlier builds of these tags, now untagged (only images carrying our label)
  docker image prune -f --filter "label=$label" >/dev/null
  du -sh "$OUT"/images/*.tar >&2
}

main() {
  local parts=("$@")
  [ ${#parts[@]} -gt 0 ] || parts=(k8s etcd coredns pause lpp kindnetd images)
  for p in "${parts[@]}"; do run_part "$p"; done
  echo "$OUT"
}
main "$@"; exit $?
