#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build, test and check warmgam:
# R with the Debian r-cran-* packages the package, its tests and vignettes use, and
# checks that cargo is there. Idempotent: does nothing when everything is present.
set -euo pipefail

r_packages="r-base-dev r-cran-testthat r-cran-mgcv r-cran-knitr r-cran-rmarkdown \
r-cran-cli r-cran-future r-cran-future.apply r-cran-progressr r-cran-callr r-cran-roxygen2 \
r-cran-ggplot2 r-cran-broom r-cran-insight r-cran-performance r-cran-parameters \
r-cran-emmeans r-cran-ggeffects r-cran-rsample"

missing=""
for pkg in $r_packages pandoc; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done

if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends $missing
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) and re-run" >&2
  exit 1
fi
echo "setup: R $(Rscript -e 'cat(format(getRversion()))'), $(cargo --version)"
