#!/usr/bin/env bash
# Prints the Debian Depends line for a built gpt2 binary: the package owning each
# shared library it links directly (its NEEDED entries), at the version installed
# on this machine, plus libopenblas0-openmp (libtorch's BLAS is chosen at run time
# through the libblas.so.3 alternative, so no NEEDED entry names it; without it
# matrix products run ~50x slower on the reference BLAS).
#   scripts/deb-depends.sh BINARY
set -euo pipefail
bin=${1:?usage: deb-depends.sh BINARY}

pkg_of() {  # the package that owns a library path (tries the merged-/usr spellings too)
  local p=$1 real
  real=$(readlink -f "$p")
  for cand in "$p" "$real" "${p#/usr}" "${real#/usr}" "/usr$p" "/usr$real"; do
    if out=$(dpkg-query -S "$cand" 2>/dev/null); then
      echo "${out%%:*}" | cut -d, -f1 | sed 's/:.*//' | head -1
      return 0
    fi
  done
  echo "deb-depends: no package owns $p" >&2
  return 1
}

libs=$(ldd "$bin")
declare -A seen=()
pkgs=()
while read -r soname; do
  path=$(awk -v s="$soname" '$1 == s && $3 ~ /^\// {print $3} $1 ~ ("/" s "$") {print $1}' <<<"$libs" | head -1)
  if [ -z "$path" ]; then echo "deb-depends: $soname not found by ldd" >&2; exit 1; fi
  pkg=$(pkg_of "$path")
  if [ -z "${seen[$pkg]:-}" ]; then seen[$pkg]=1; pkgs+=("$pkg"); fi
done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p')
if [ -z "${seen[libopenblas0-openmp]:-}" ]; then pkgs+=(libopenblas0-openmp); fi

deps=()
for p in "${pkgs[@]}"; do
  v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) || { echo "deb-depends: $p is not installed" >&2; exit 1; }
  deps+=("$p (>= $v)")
done
(IFS=$'\n'; sort <<<"${deps[*]}") | paste -sd, - | sed 's/,/, /g'
