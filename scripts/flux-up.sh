#!/usr/bin/env bash
# Builds flux-core (LLNL's Flux resource manager) from the vendored source
# archive ../shared/vendor/flux-core-0.88.0.tar.gz into a prefix outside the
# repository (default /opt/flux), once: skipped when that prefix already
# reports the version. Debian packages only (recipe: shared/notes/flux.md).
# The Flux tests run genoprot inside `flux start --test-size=2`; where the
# archive is absent (a user's clone) this script says so and exits 0, and
# those tests report "skipped: no flux".
#
#   bash scripts/flux-up.sh          # build if needed; prints the flux binary
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=0.88.0
prefix=${GENOPROT_FLUX_PREFIX:-/opt/flux}
archive=${GENOPROT_FLUX_ARCHIVE:-$here/../shared/vendor/flux-core-$version.tar.gz}

if [ -x "$prefix/bin/flux" ] && "$prefix/bin/flux" version 2>/dev/null | grep -Eq "commands:[[:space:]]*$version"; then
  echo "flux-up: flux-core $version present ($prefix/bin/flux)"
  exit 0
fi
if [ ! -f "$archive" ]; then
  echo "flux-up: no $archive: the Flux tests will be skipped (no flux)"
  exit 0
fi

pkgs=(autoconf automake libtool make pkg-config libc6-dev libzmq3-dev uuid-dev libjansson-dev
  liblz4-dev libarchive-dev libhwloc-dev libsqlite3-dev lua5.1 liblua5.1-dev lua-posix python3-dev
  python3-cffi python3-ply python3-setuptools python3-yaml libncurses-dev gcc g++)
bash "$here/scripts/apt-need.sh" flux-up "${pkgs[@]}"

build=$(mktemp -d /tmp/flux-build.XXXXXX)
trap 'rm -rf "$build"' EXIT
echo "flux-up: building flux-core $version into $prefix (about 2-3 minutes on 2 cores)"
tar -xzf "$archive" -C "$build"
src=$(find "$build" -mindepth 1 -maxdepth 1 -type d | head -1)
cd "$src"
# No .git in the archive: autogen takes the version from the environment.
FLUX_VERSION=$version ./autogen.sh > "$build/autogen.log" 2>&1 || { tail -n 30 "$build/autogen.log" >&2; exit 1; }
# Debian's python: one first on PATH (pyenv) may lack ply.
./configure --prefix="$prefix" --disable-docs --disable-static PYTHON=/usr/bin/python3 \
  > "$build/configure.log" 2>&1 || { tail -n 40 "$build/configure.log" >&2; exit 1; }
make -j"$(nproc)" > "$build/make.log" 2>&1 || { tail -n 40 "$build/make.log" >&2; exit 1; }
make install > "$build/install.log" 2>&1 || { tail -n 20 "$build/install.log" >&2; exit 1; }
"$prefix/bin/flux" version | head -2
echo "flux-up: done ($prefix/bin/flux)"
