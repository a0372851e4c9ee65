#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (Debian/Ubuntu: apt-get; sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in pkg-config libasound2-dev mesa-vulkan-drivers libvulkan1 xvfb xauth; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  if command -v apt-get >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${need[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
  else
    echo "please install: ${need[*]} (names from Debian; use your system's equivalents)" >&2
    exit 1
  fi
fi

# Mesa lavapipe (installed above) is a GPU adapter on every machine: tests/gpu.rs must run, and
# fail when no adapter opens, instead of skipping.
export REQUIRE_GPU=1

run_tests() {
  if command -v cargo-nextest >/dev/null; then
    cargo nextest run --no-fail-fast "$@"
  else
    cargo test --no-fail-fast "$@"
  fi
  cargo test --doc
  # The benchmarks must keep compiling (they are run by hand: cargo bench).
  cargo test --benches --no-run
}

# Window tests need an X server: use the real one if there is one, else re-run under Xvfb.
# -noreset: by default Xvfb resets whenever its last client leaves, and a window test connecting
# during that reset is refused ("Failed to open connection to X server"); seen under parallel runs.
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  run_tests "$@"
else
  exec xvfb-run -a -s "-screen 0 1280x800x24 -noreset" "$0" "$@"
fi
