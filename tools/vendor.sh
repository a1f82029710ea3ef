#!/bin/sh
# Vendors the engine's crates for an install without network: writes
# src/rust/vendor.tar.xz (the crates' sources, trimmed) and src/rust/vendor-config.toml
# (Cargo's source replacement), which `R CMD build` ships and `configure` uses.
# Both are build products, ignored by git. Run from anywhere on a machine that can
# reach crates.io (or whose Cargo cache holds every crate of Cargo.lock): `make vendor`.
#
# Trims, each checked by `make check-offline` (which builds and installs the result):
# - crates that no supported platform builds (Windows, WASI, cfg(loom); the list of
#   those that are built comes from tools/authors.R) keep only their Cargo.toml,
#   which Cargo needs to resolve the lock file, and an empty library source file;
# - the others lose their tests, benches, examples and test data, and blake3 the C
#   sources its Rust build never compiles;
# - each crate's .cargo-checksum.json then lists no files (`"files": {}`), which tells
#   Cargo not to verify them; the package checksum from Cargo.lock stays.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rust=src/rust
out=$rust/vendor.tar.xz
config=$rust/vendor-config.toml

if command -v cargo >/dev/null 2>&1; then
  cargo=cargo
else
  cargo="${CARGO_HOME:-$HOME/.cargo}/bin/cargo"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/warmgam-vendor.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
vendor=$work/vendor

echo "vendor: cargo vendor ($("$cargo" --version))"
"$cargo" vendor --quiet --locked --versioned-dirs --manifest-path "$rust/Cargo.toml" "$vendor" >/dev/null

Rscript --vanilla tools/authors.R --crates >"$work/built.txt"
n_built=0
n_stub=0
for dir in "$vendor"/*/; do
  dir=${dir%/}
  crate=$(basename "$dir")
  if grep -qxF "$crate" "$work/built.txt"; then
    n_built=$((n_built + 1))
    for sub in tests benches bench examples test_data testdata fuzz .github; do
      rm -rf "${dir:?}/$sub"
    done
    case $crate in
      blake3-*)
        # build.rs compiles only c/*.S, c/*.c and c/*.h on Unix.
        rm -rf "$dir/c/blake3_c_rust_bindings" "$dir/c/cmake" "$dir/c/dependencies"
        find "$dir/c" -name '*windows*' -exec rm -f {} +
        ;;
    esac
  else
    n_stub=$((n_stub + 1))
    find "$dir" -mindepth 1 -maxdepth 1 ! -name Cargo.toml ! -name .cargo-checksum.json -exec rm -rf {} +
    # Cargo reads a manifest only with its library's source file present (empty here).
    lib=$(awk '/^\[/ { in_lib = ($0 == "[lib]") } in_lib && /^path *=/ { gsub(/^path *= *"|"$/, ""); print; exit }' "$dir/Cargo.toml")
    lib=${lib:-src/lib.rs}
    mkdir -p "$dir/$(dirname "$lib")"
    : >"$dir/$lib"
  fi
  package=$(sed -n 's/.*"package": *"\([0-9a-f]*\)".*/\1/p' "$dir/.cargo-checksum.json")
  printf '{"files":{},"package":"%s"}\n' "$package" >"$dir/.cargo-checksum.json"
done
missing=$(cd "$vendor" && for c in $(cat "$work/built.txt"); do [ -d "$c" ] || echo "$c"; done)
if [ -n "$missing" ]; then
  echo "vendor: tools/authors.R lists crates that cargo vendor did not write: $missing" >&2
  exit 1
fi

# Reproducible archive where tar is GNU tar (sorted names, no owners, fixed times).
if tar --version 2>/dev/null | grep -q GNU; then
  tar_flags="--sort=name --owner=0 --group=0 --numeric-owner --mtime=2020-01-01T00:00:00Z"
else
  tar_flags=""
fi
if command -v xz >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  tar -cf - $tar_flags -C "$work" vendor | xz -9e -T1 >"$out.tmp"
else
  # macOS has no xz command; its tar (libarchive) compresses itself.
  # shellcheck disable=SC2086
  tar -cJf "$out.tmp" $tar_flags -C "$work" vendor
fi
mv "$out.tmp" "$out"

# configure compares the checksum line with Cargo.toml and Cargo.lock as they are, and
# ignores an archive made for others.
checksum=$(cat "$rust/Cargo.toml" "$rust/Cargo.lock" | cksum | awk '{print $1, $2}')
cat >"$config" <<EOF
# Written by tools/vendor.sh. configure copies this file to src/rust/.cargo/config.toml,
# the build's CARGO_HOME, when src/rust/vendor.tar.xz is present: Cargo then takes
# every crate from src/rust/vendor (a path relative to the directory holding .cargo).
# vendored for Cargo.toml and Cargo.lock with cksum: $checksum
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"
EOF

size=$(wc -c <"$out" | tr -d ' ')
echo "vendor: wrote $out ($size bytes; $n_built crates with sources, $n_stub as manifests only) and $config"
