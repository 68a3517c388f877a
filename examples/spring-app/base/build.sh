#!/bin/sh
# Builds a local Java 17 JRE base image from Debian 12 packages (nothing can be
# pulled): debootstrap --variant=minbase, then `docker import`, like
# tests/e2e/node/build.sh builds its rootfs. The Debian mirror is the machine's
# own, read from its apt sources. Needs root, debootstrap and a Docker engine.
#
# usage: build.sh [IMAGE]   (default stagingkub/jre:17)
# The image is also tagged IMAGE-<hash of the inputs>; when that tag exists the
# build is skipped. The last stdout line is BASE_IMAGE=<IMAGE>.
set -eu

IMAGE=${1:-stagingkub/jre:17}
case ${IMAGE##*/} in *:*) ;; *) IMAGE=$IMAGE:latest ;; esac
SUITE=bookworm
# tar, sh (dash), cp are in minbase; procps brings kill (docker exec C kill -HUP 1)
PACKAGES="openjdk-17-jre-headless procps"

log() { echo "[jre] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

debian_mirror() { # the first URI of an apt source for $SUITE (deb822 or one-line)
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -e "$f" ] || continue
      awk -v s="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
           { u = ""; ok = 0
             for (i = 1; i <= NF; i++) {
               if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u) }
               if ($i ~ /^Suites:/ && $i ~ ("[ \t]" s "([ \t]|$)")) ok = 1
               if ($i ~ /^Enabled:[ \t]*no/) { ok = 0; break }
             }
             if (ok) print u }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v s="$SUITE" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^[a-z+]+:\/\//) { if ($(i + 1) == s) print $i; break } }'
  } | tr ' ' '\n' | grep -E '://' | grep -v security | head -n1
}

build() { # build DIR TAG: debootstrap into DIR, slim it, import it as TAG
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || die "no Debian mirror URI for $SUITE in the apt sources"
  command -v debootstrap >/dev/null || { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  debootstrap --variant=minbase --include="$(echo "$PACKAGES" | tr ' ' ',')" \
    "$SUITE" "$1/rootfs" "$mirror" >"$1/debootstrap.log" 2>&1 ||
    { tail -n 30 "$1/debootstrap.log" >&2; die "debootstrap failed"; }
  r=$1/rootfs
  for b in tar sh kill cp mv java; do chroot "$r" test -x "/usr/bin/$b" || die "no /usr/bin/$b in the image"; done
  chroot "$r" apt-get clean
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/var/cache/debconf/*-old \
    "$r"/var/log/* "$r"/tmp/* "$r"/var/tmp/* "$r"/usr/share/doc/* "$r"/usr/share/man/* \
    "$r"/usr/share/info/* "$r"/usr/share/locale/*
  : >"$r/etc/apt/sources.list"  # the machine's mirror is not the image's business
  tar -C "$r" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 LANG=C.UTF-8' \
    --change 'LABEL io.stagingkub.base=jre' --change 'CMD ["/bin/sh"]' - "$2" >/dev/null
}

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot)"
docker info >/dev/null 2>&1 || die "no Docker engine answers"

# the inputs: suite, packages and the text of the two functions above
key=$( { echo "$SUITE $PACKAGES"; sed -n '/^debian_mirror()/,/^}/p; /^build()/,/^}/p' "$0"; } |
  sha256sum | cut -c1-16)
HASHED=$IMAGE-$key
if docker image inspect "$HASHED" >/dev/null 2>&1; then
  log "up to date ($HASHED)"; echo "up to date"
else
  log "building $HASHED (debootstrap $SUITE: $PACKAGES)"
  work=$(mktemp -d "${TMPDIR:-/var/tmp}/stagingkub-jre.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  build "$work" "$HASHED"
fi
docker tag "$HASHED" "$IMAGE"
# older hash tags of this image go (docker rmi refuses one a container uses)
docker image ls --format '{{.Repository}}:{{.Tag}}' "${IMAGE%:*}" | while read -r ref; do
  case $ref in "$IMAGE"-*) [ "$ref" = "$HASHED" ] || docker rmi "$ref" >/dev/null 2>&1 || true ;; esac
done
echo "BASE_IMAGE=$IMAGE"
