#!/usr/bin/env bash
# Installs the system packages hpo builds and tests against (Debian/Ubuntu), if missing:
# OpenMPI, OpenBLAS/LAPACK, libclang (for the MPI bindings), pkg-config, Python 3 (the Python
# objective's tests).
set -euo pipefail

packages=(libopenmpi-dev openmpi-bin libclang-dev pkg-config libopenblas-dev python3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust first: https://rustup.rs (then open a new shell)" >&2
    exit 1
fi
