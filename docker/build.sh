#!/usr/bin/env bash
# The build stage of docker/Dockerfile, step by step; scripts/check-docker.sh runs the same
# steps natively (debug profile, reusing target/) so CI tests what the image build runs.
#
#   docker/build.sh packages   the apt packages for TARGETARCH (amd64 or arm64), installed
#   docker/build.sh toolchain  the Rust target for TARGETARCH
#   docker/build.sh build      cargo build of the courtier binary, copied to OUT (out/courtier)
#
# The stage runs on the build machine's own architecture and cross-compiles when TARGETARCH
# differs: RocksDB is Debian's prebuilt library of the target architecture (multiarch
# packages, librocksdb-dev:arm64), linked, never compiled; no emulator runs the compiler.
# PROFILE (default release) picks the cargo profile; APT_GET=echo prints the apt commands.
set -euo pipefail

native="$(dpkg --print-architecture)"
arch="${TARGETARCH:-$native}"
case "$arch" in
amd64) triple=x86_64-unknown-linux-gnu gnu=x86_64-linux-gnu ;;
arm64) triple=aarch64-unknown-linux-gnu gnu=aarch64-linux-gnu ;;
*)
    echo "docker/build.sh: architecture $arch is not supported (amd64 or arm64)" >&2
    exit 1
    ;;
esac
cross=false
[ "$arch" != "$native" ] && cross=true
apt_get="${APT_GET:-apt-get}"

case "${1:-}" in
packages)
    pkgs=(clang libclang-dev "librocksdb-dev:$arch")
    if $cross; then
        ${DPKG:-dpkg} --add-architecture "$arch"
        pkgs+=("gcc-$gnu" "g++-$gnu" "libc6-dev-$arch-cross")
    fi
    $apt_get update
    $apt_get install -y --no-install-recommends "${pkgs[@]}"
    ;;
toolchain)
    rustup target add "$triple"
    ;;
build)
    profile="${PROFILE:-release}"
    export ROCKSDB_LIB_DIR="/usr/lib/$gnu"
    target_args=()
    out_dir="target/$([ "$profile" = dev ] && echo debug || echo "$profile")"
    if $cross; then
        # The C parts (mimalloc, aws-lc, ring) and the linker for the target; bindgen (for
        # RocksDB's C API) parses the target's headers.
        env_triple="${triple//-/_}"
        export "CC_${env_triple}=$gnu-gcc" "CXX_${env_triple}=$gnu-g++" "AR_${env_triple}=$gnu-ar"
        export "CARGO_TARGET_${env_triple^^}_LINKER=$gnu-gcc"
        export BINDGEN_EXTRA_CLANG_ARGS="--target=$triple -I/usr/include/$gnu"
        target_args=(--target "$triple")
        out_dir="target/$triple/${out_dir#target/}"
    fi
    cargo build --locked --profile "$profile" "${target_args[@]}" --bin courtier
    install -D -m 755 "$out_dir/courtier" "${OUT:-out/courtier}"
    ;;
*)
    echo "usage: docker/build.sh packages|toolchain|build" >&2
    exit 2
    ;;
esac
