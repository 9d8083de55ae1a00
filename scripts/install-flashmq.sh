#!/usr/bin/env bash
# Build FlashMQ (https://github.com/halfgaar/FlashMQ, tag v1.26.2) from source for
# scripts/bench-compare.sh, into target/flashmq/bin/flashmq. FlashMQ's source is not part of
# this repository: give it as a source directory or a tarball of the tag.
#
#   scripts/install-flashmq.sh                       # $FLASHMQ_SRC, else the default tarball below
#   scripts/install-flashmq.sh ~/src/FlashMQ         # a checkout of the tag
#   scripts/install-flashmq.sh flashmq-v1.26.2.tar.gz
#
# Default source: target/flashmq-src/flashmq-v1.26.2.tar.gz (not committed; target/ is ignored).
# When neither exists and GitHub is reachable, the script clones the tag there itself.
# Needs cmake, g++ and libssl-dev (installed with apt-get if missing, as root). Rebuilds only
# when the source changes; FORCE=1 rebuilds anyway. JOBS=N for make (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${FLASHMQ_TAG:-v1.26.2}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
DEST=$TARGET/flashmq
DEFAULT_TARBALL=$TARGET/flashmq-src/flashmq-$TAG.tar.gz
SRC=${1:-${FLASHMQ_SRC:-$DEFAULT_TARBALL}}

log() { echo "== $*" >&2; }

how_to_get() {
  cat >&2 <<EOF
FlashMQ source not found: $SRC
Get tag $TAG of https://github.com/halfgaar/FlashMQ on a machine with GitHub access, e.g.
  git clone --depth 1 --branch $TAG https://github.com/halfgaar/FlashMQ.git /tmp/FlashMQ
  git -C /tmp/FlashMQ archive --format=tar.gz -o flashmq-$TAG.tar.gz $TAG
  # or download https://github.com/halfgaar/FlashMQ/archive/refs/tags/$TAG.tar.gz
then copy the tarball to $DEFAULT_TARBALL (or pass the tarball or the checkout's directory as
the first argument, or set FLASHMQ_SRC) and run this script again.
EOF
  exit 1
}

if [[ ! -e $SRC && $SRC == "$DEFAULT_TARBALL" ]]; then
  log "no $SRC: trying to clone $TAG from GitHub"
  tmp=$(mktemp -d)
  if timeout 300 git clone -q --depth 1 --branch "$TAG" https://github.com/halfgaar/FlashMQ.git "$tmp/FlashMQ" 2>/dev/null; then
    mkdir -p "$(dirname "$DEFAULT_TARBALL")"
    git -C "$tmp/FlashMQ" archive --format=tar.gz -o "$DEFAULT_TARBALL" HEAD
  fi
  rm -rf "$tmp"
fi
[[ -e $SRC ]] || how_to_get

# --- build tools ------------------------------------------------------------------------------
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
[[ -e /usr/include/openssl/ssl.h ]] || missing+=(libssl-dev)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  SUDO=$([[ $(id -u) == 0 ]] || echo sudo)
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    make "${missing[@]}" >&2
fi

# --- unpack (a tarball) or copy (a directory) into a clean build tree -------------------------
if [[ -d $SRC ]]; then
  stamp=$(cd "$SRC" && { git rev-parse HEAD 2>/dev/null || find . -type f -newer CMakeLists.txt | wc -l; })
  stamp="dir:$(realpath "$SRC"):$stamp"
else
  stamp="tar:$(sha256sum "$SRC" | cut -d' ' -f1)"
fi
if [[ -x $DEST/bin/flashmq && -f $DEST/source.stamp && $(cat "$DEST/source.stamp") == "$stamp" &&
  ${FORCE:-0} != 1 ]]; then
  log "FlashMQ already built from this source: $DEST/bin/flashmq ($("$DEST/bin/flashmq" --version 2>&1 | head -1))"
  exit 0
fi
rm -rf "$DEST/src" "$DEST/build"
mkdir -p "$DEST/src" "$DEST/build" "$DEST/bin"
if [[ -d $SRC ]]; then
  cp -a "$SRC/." "$DEST/src/"
else
  tar -xf "$SRC" -C "$DEST/src"
  # GitHub's archives hold one top directory (FlashMQ-1.26.2/); git archive holds none.
  if [[ ! -f $DEST/src/CMakeLists.txt ]]; then
    top=$(find "$DEST/src" -mindepth 1 -maxdepth 1 -type d | head -1)
    [[ -f $top/CMakeLists.txt ]] || { log "no CMakeLists.txt in $SRC"; exit 1; }
    mv "$top" "$DEST/src.tmp" && rmdir "$DEST/src" && mv "$DEST/src.tmp" "$DEST/src"
  fi
fi

# --- build (Release, as FlashMQ's own build.sh does) -----------------------------------------
log "building FlashMQ from $SRC into $DEST (make -j${JOBS:-$(nproc)})"
cmake -S "$DEST/src" -B "$DEST/build" -DCMAKE_BUILD_TYPE=Release >"$DEST/build.log" 2>&1 ||
  { tail -20 "$DEST/build.log" >&2; exit 1; }
make -C "$DEST/build" -j"${JOBS:-$(nproc)}" flashmq >>"$DEST/build.log" 2>&1 ||
  { tail -30 "$DEST/build.log" >&2; exit 1; }
install -m 755 "$DEST/build/flashmq" "$DEST/bin/flashmq"
echo "$stamp" >"$DEST/source.stamp"
rm -rf "$DEST/build"
log "built $DEST/bin/flashmq: $("$DEST/bin/flashmq" --version 2>&1 | head -1)"
