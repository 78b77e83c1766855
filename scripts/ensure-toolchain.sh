#!/usr/bin/env bash
# rust-toolchain.toml pins 1.95.0. These machines cannot download toolchains:
# if rustup has no toolchain named 1.95.0 but its stable one *is* 1.95.0, link it
# under that name instead of letting rustup try (and fail) to download.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sed -nE 's/^channel *= *"([^"]+)".*/\1/p' rust-toolchain.toml)
command -v rustup >/dev/null || exit 0
if ! rustup toolchain list | grep -q "^$want"; then
  have=$(rustc +stable --version 2>/dev/null | awk '{print $2}')
  if [ "$have" = "$want" ]; then
    rustup toolchain link "$want" "$(rustc +stable --print sysroot)"
    echo "ensure-toolchain: linked stable ($have) as $want"
  else
    echo "ensure-toolchain: toolchain $want missing (stable is ${have:-absent}); rustup will try to install it" >&2
  fi
fi
