#!/usr/bin/env bash
# Installs the system packages pairranker builds against, when they are missing (Debian, as root
# or with sudo). The Swift toolchain itself is expected on PATH (swift.org toolchain or image).
set -euo pipefail
need=()
for pkg in libopenblas-dev zlib1g-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "bootstrap: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (install a Swift 6 toolchain)" >&2; exit 1; }
