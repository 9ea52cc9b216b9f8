#!/usr/bin/env bash
# Build the Debian package of gpt2 and check it: the .deb unpacks into a scratch
# root (dpkg -x), and the unpacked binary, man page and completions work.
#   scripts/package.sh             set up, build (scripts/build.sh), cpack -G DEB, check
#   scripts/package.sh --no-build  package and check the existing $BUILD_DIR (the CTest test)
# Prints the path of the .deb. Install it on any Debian 12 machine with
#   sudo apt install ./gpt2_<version>_<arch>.deb      (pulls the runtime packages)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR=${BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
if [ "${1:-}" != "--no-build" ]; then
  bash "$ROOT/scripts/setup.sh"
  (cd "$ROOT" && BUILD_DIR="$BUILD_DIR" bash scripts/build.sh)
fi

fail() { echo "package: FAILED: $*" >&2; exit 1; }

# A private staging area per run, so a concurrent run cannot see half a package.
stage=$(mktemp -d "$BUILD_DIR/package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
(cd "$BUILD_DIR" && cpack -G DEB -B "$stage" >"$stage/cpack.log" 2>&1) || { cat "$stage/cpack.log" >&2; fail "cpack"; }
deb=$(ls "$stage"/*.deb)
[ -f "$deb" ] || fail "cpack made no .deb"

# Control fields: Depends names the runtime libraries with versions.
depends=$(dpkg-deb -f "$deb" Depends)
echo "package: Depends: $depends" >&2
for lib in libtorch libopenblas0-openmp libre2 libcurl libsnappy libstdc++6 libc6; do
  grep -q "$lib[^,]* (>= " <<<"$depends" || fail "Depends lacks $lib with a version"
done

# Contents and a run of the unpacked files.
root="$stage/root"
dpkg -x "$deb" "$root"
for f in usr/bin/gpt2 usr/share/man/man1/gpt2.1 usr/share/bash-completion/completions/gpt2 \
         usr/share/zsh/site-functions/_gpt2 usr/share/doc/gpt2/README.md usr/share/doc/gpt2/LICENSE; do
  [ -s "$root/$f" ] || fail "the package lacks /$f"
done
version=$("$root/usr/bin/gpt2" --version) || fail "gpt2 --version"
[ "$version" = "gpt2 $(dpkg-deb -f "$deb" Version)" ] || fail "gpt2 --version printed '$version'"
ids=$("$root/usr/bin/gpt2" encode --text hi) || fail "gpt2 encode --text hi"
[ "$ids" = "5303" ] || fail "gpt2 encode --text hi printed '$ids' (expected 5303)"

# The man page renders without groff warnings and documents every command.
page=$(MANWIDTH=100 man --warnings -l "$root/usr/share/man/man1/gpt2.1" 2>"$stage/man.err") || fail "man -l"
[ ! -s "$stage/man.err" ] || { cat "$stage/man.err" >&2; fail "man -l reported warnings"; }
for cmd in $("$root/usr/bin/gpt2" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}'); do
  grep -q "GPT2 $cmd" <<<"$page" || fail "the man page has no section for '$cmd'"
done

# The bash completion loads and completes a subcommand.
got=$(bash -c 'source "$1"; COMP_WORDS=(gpt2 enc); COMP_CWORD=1; _gpt2; echo "${COMPREPLY[*]}"' _ \
      "$root/usr/share/bash-completion/completions/gpt2") || fail "the bash completion does not load"
[ "$got" = "encode" ] || fail "bash completion of 'gpt2 enc' gave '$got'"

mv "$deb" "$BUILD_DIR/"
echo "package: OK" >&2
echo "$BUILD_DIR/$(basename "$deb")"
