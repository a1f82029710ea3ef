#!/bin/sh
# `make check-offline`: the install a user without network makes. Vendors the crates
# (tools/vendor.sh), checks inst/AUTHORS is current, builds the source tarball
# (warmgam_<version>.tar.gz in the package root; vignettes are not built, to spare one
# more build of the engine), then installs it into a temporary library with
#   - an empty temporary HOME and CARGO_HOME (no ~/.cargo to fall back on),
#   - CARGO_NET_OFFLINE=true and every proxy variable set to a closed port, so that
#     any download fails,
# fits a small model with the installed package, and fails if the install did not
# build offline, left its build files in the library, wrote to the temporary
# CARGO_HOME or HOME, or touched the real CARGO_HOME (~/.cargo).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)

if command -v cargo >/dev/null 2>&1; then
  cargo_dir=$(dirname "$(command -v cargo)")
else
  cargo_dir="${CARGO_HOME:-$HOME/.cargo}/bin"
fi
real_cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}

# The archive is a build product: left in place only if it was there before.
had_vendor=no
[ -f src/rust/vendor.tar.xz ] && had_vendor=yes
sh tools/vendor.sh
Rscript --vanilla tools/authors.R --check
msrv=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' src/rust/Cargo.toml)
grep -q "^SystemRequirements:.*rustc (>= $msrv" DESCRIPTION ||
  { echo "check-offline: DESCRIPTION's SystemRequirements must say rustc (>= $msrv), as Cargo.toml's rust-version" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmgam-offline.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

version=$(sed -n 's/^Version: *//p' DESCRIPTION)
tarball=warmgam_$version.tar.gz
rm -f "$tarball"
(cd "$tmp" && R CMD build --no-build-vignettes --no-manual "$root" >build.log 2>&1) || {
  cat "$tmp/build.log"
  exit 1
}
mv "$tmp/$tarball" .
if [ "$had_vendor" = no ]; then
  rm -f src/rust/vendor.tar.xz src/rust/vendor-config.toml
fi
tar -tzf "$tarball" | grep -qx 'warmgam/src/rust/vendor.tar.xz' || {
  echo "check-offline: $tarball does not ship src/rust/vendor.tar.xz" >&2
  exit 1
}
echo "check-offline: built $tarball ($(wc -c <"$tarball" | tr -d ' ') bytes)"

mkdir "$tmp/lib" "$tmp/home" "$tmp/cargo-home"
stamp=$tmp/stamp
touch "$stamp"
sleep 1
no_net=http://127.0.0.1:9
offline() {
  env HOME="$tmp/home" CARGO_HOME="$tmp/cargo-home" RUSTUP_HOME="$rustup_home" \
    PATH="$cargo_dir:$PATH" CARGO_NET_OFFLINE=true CARGO_HTTP_PROXY=$no_net \
    http_proxy=$no_net https_proxy=$no_net HTTP_PROXY=$no_net HTTPS_PROXY=$no_net \
    ALL_PROXY=$no_net all_proxy=$no_net no_proxy= NO_PROXY= "$@"
}

install_start=$(date +%s)
offline R CMD INSTALL --no-multiarch -l "$tmp/lib" "$tarball" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log"
  echo "check-offline: the offline install failed" >&2
  exit 1
}
install_time=$(($(date +%s) - install_start))

fail() {
  echo "check-offline: $1" >&2
  exit 1
}
grep -E '^(cargo|rustc) [0-9]' "$tmp/install.log" || fail "the install log lacks cargo's and rustc's versions"
grep -q -- 'build --lib --release --offline --locked -j [12] ' "$tmp/install.log" ||
  fail "cargo did not build with --offline --locked -j 1|2"
[ -z "$(ls -A "$tmp/cargo-home")" ] || fail "the install wrote to CARGO_HOME: $(ls -A "$tmp/cargo-home")"
[ -z "$(ls -A "$tmp/home")" ] || fail "the install wrote to HOME: $(ls -A "$tmp/home")"
if [ -d "$real_cargo_home" ]; then
  # Files only: other Cargo processes on the machine lock the package cache and
  # record crate use in .global-cache (its journal changes the directory's time).
  touched=$(find "$real_cargo_home" \( -name '.package-cache*' -o -name '.global-cache*' \) -prune \
    -o ! -type d -newer "$stamp" -print | head -5)
  [ -z "$touched" ] || fail "the install touched $real_cargo_home: $touched"
fi
if find "$tmp/lib/warmgam" \( -name vendor -o -name .cargo -o -name target -o -name '*.rs' \) | grep -q .; then
  fail "the installed package holds build files"
fi
installed_kb=$(du -sk "$tmp/lib/warmgam" | cut -f1)

offline Rscript --vanilla -e '
  library(warmgam, lib.loc = commandArgs(TRUE)[1])
  options(warmgam.cache_dir = file.path(tempdir(), "warmgam-cache"))
  fit <- gam_fit(mpg ~ s(hp, k = 8), data = mtcars)
  stopifnot(inherits(fit, "warmgam"), all(is.finite(fitted(fit))), length(coef(fit)) == 8)
  cat("check-offline: fit ok, AIC", format(AIC(fit), digits = 6), "\n")
' "$tmp/lib"
[ -z "$(ls -A "$tmp/cargo-home")" ] || fail "the fit wrote to CARGO_HOME"

echo "check-offline: passed (install ${install_time} s, installed size ${installed_kb} KB, total $(($(date +%s) - start)) s)"
