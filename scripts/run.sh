#!/usr/bin/env bash
# Plays a patch: scripts/run.sh [PATCH] (default patches/default.dmm).
# Installs missing system packages on Debian/Ubuntu, builds release, runs.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
if command -v dpkg >/dev/null; then
  for pkg in pkg-config libasound2-dev libvulkan1 mesa-vulkan-drivers; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if ((${#need[@]})); then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${need[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
  fi
else
  echo "note: not a Debian/Ubuntu system; make sure the ALSA development files (libasound2-dev) and pkg-config are installed" >&2
fi
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust from https://rustup.rs" >&2
  exit 1
fi

cargo build --release
bin="${CARGO_TARGET_DIR:-target}/release/dmm-synth"
patch="${1:-patches/default.dmm}"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  # The live window: picture, panel, sound card, hot reload of the patch file.
  exec "$bin" "$patch" "${@:2}"
fi
out="out/$(basename "$patch" .json)"
"$bin" render "$patch" --ticks 3750 --every 375 --out "$out"
echo "No display (DISPLAY/WAYLAND_DISPLAY unset), so no window: the patch was rendered headless to $out (PNG frames, audio.wav, trace.jsonl)."
