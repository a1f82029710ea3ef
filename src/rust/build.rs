//! Hands the package's one version, DESCRIPTION's, to the engine at build time
//! (`WARMGAM_VERSION`): the store's keys hash it, so that a new release never serves
//! what an older one stored. The crate's own version is kept equal to it by a test.

use std::path::Path;

fn main() {
    let description = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../DESCRIPTION");
    println!("cargo:rerun-if-changed={}", description.display());
    let text = std::fs::read_to_string(&description).unwrap_or_else(|e| {
        panic!("warmgam's engine is built inside the R package: cannot read {}: {e}", description.display())
    });
    let version = text
        .lines()
        .find_map(|line| line.strip_prefix("Version:"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{} has no Version field", description.display()));
    println!("cargo:rustc-env=WARMGAM_VERSION={version}");
}
