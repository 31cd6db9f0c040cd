#!/usr/bin/env bash
# Installs what pairranker builds and tests against, when missing (Debian, as root or with sudo):
# OpenBLAS and zlib headers, pkg-config, and for the test command's checks curl, python3 with venv
# and promtool.
# The Swift toolchain itself is expected on PATH (a swift.org toolchain or image).
set -euo pipefail
need=()
for pkg in libopenblas-dev zlib1g-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
command -v curl >/dev/null || need+=(curl)
# promtool (Debian's prometheus package) checks /metrics in the test command.
command -v promtool >/dev/null || need+=(prometheus)
{ command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; } || need+=(python3 python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "bootstrap: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (install a Swift 6 toolchain)" >&2; exit 1; }
