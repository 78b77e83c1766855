#!/usr/bin/env bash
# Installs the Debian packages among its arguments that are not installed yet
# (as root; the package lists are refreshed only when an install fails):
#   bash scripts/apt-need.sh WHO PACKAGE...
# WHO names the caller in its messages. apt's output goes to a log, whose
# tail is printed when it fails. Used by install-deps.sh and flux-up.sh.
set -euo pipefail
who=$1
shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "$who: system packages present"
  exit 0
fi
echo "$who: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "/tmp/$who-apt.XXXXXX.log")
apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=900)
if ! apt-get install "${apt_opts[@]}" "${missing[@]}" > "$log" 2>&1; then
  apt-get update -q -o DPkg::Lock::Timeout=900 >> "$log" 2>&1
  apt-get install "${apt_opts[@]}" "${missing[@]}" >> "$log" 2>&1 || {
    tail -n 30 "$log" >&2
    echo "$who: apt-get install failed (log: $log)" >&2
    exit 1
  }
fi
rm -f "$log"
