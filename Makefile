# warmgam developer commands. `make demo` and `make test` work on a fresh Debian machine.
R_SCRIPT := Rscript --no-save --no-restore
CARGO_MANIFEST := src/rust/Cargo.toml
CARGO_TARGET := src/rust/target

.PHONY: setup install demo test test-rust test-r lint check vendor authors check-offline bench document clean

setup:
	bash tools/setup.sh

install: setup
	R CMD INSTALL --no-multiarch --no-test-load --preclean .
	@true

demo: install
	$(R_SCRIPT) -e 'library(warmgam); options(warmgam.cache_dir = file.path(tempdir(), "warmgam-cache")); fit <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8) + am, data = mtcars); print(summary(fit))'

test-rust: setup
	cargo test --release --manifest-path $(CARGO_MANIFEST) --target-dir $(CARGO_TARGET)

test-r: install
	$(R_SCRIPT) -e 'testthat::test_dir("tests/testthat", package = "warmgam", load_package = "installed", stop_on_failure = TRUE)'

test: test-rust test-r

# The engine's code is rustfmt-formatted (src/rust/rustfmt.toml) and clippy-clean.
lint: setup
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	cargo fmt --manifest-path $(CARGO_MANIFEST) --check
	cargo clippy --release --manifest-path $(CARGO_MANIFEST) --target-dir $(CARGO_TARGET) --all-targets -- -D warnings

# The source tarball ships the vendored crates: it installs without network.
check: setup vendor
	rm -rf warmgam.Rcheck warmgam_*.tar.gz
	R CMD build .
	_R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual warmgam_*.tar.gz

# src/rust/vendor.tar.xz: the engine's crates, trimmed, for `R CMD build` to ship.
vendor:
	sh tools/vendor.sh

# inst/AUTHORS: the shipped crates' authors and licences (committed; re-run after
# changing src/rust/Cargo.lock).
authors:
	$(R_SCRIPT) tools/authors.R

# Builds the tarball and installs it as a machine without network would.
check-offline: setup
	sh tools/check-offline.sh

bench: install
	$(R_SCRIPT) bench/bench_gaussian.R
	$(R_SCRIPT) bench/bench_store.R
	$(R_SCRIPT) bench/bench_cv.R
	$(R_SCRIPT) bench/bench_re.R
	$(R_SCRIPT) bench/bench_binary.R
	$(R_SCRIPT) bench/bench_tensor.R
	$(R_SCRIPT) bench/bench_warm_cv.R
	$(R_SCRIPT) bench/bench_nested.R
	$(R_SCRIPT) bench/bench_families.R
	$(R_SCRIPT) bench/bench_classes.R
	$(R_SCRIPT) bench/bench_exact.R

document:
	R CMD INSTALL --no-multiarch .
	$(R_SCRIPT) tools/document.R

clean:
	rm -rf warmgam.Rcheck warmgam_*.tar.gz src/*.o src/*.so src/Makevars src/rust/vendor.tar.xz src/rust/vendor-config.toml
