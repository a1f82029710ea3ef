# What the benchmark scripts share: the warmgam and mgcv packages, where results go,
# the size from an environment variable, a private store, the Gaussian model, and an
# elapsed-time helper. Each script sources this file from its own directory.

suppressPackageStartupMessages({
  library(warmgam)
  if (!requireNamespace("mgcv", quietly = TRUE)) {
    stop("the benchmarks compare against mgcv and simulate with it; install it (Debian: r-cran-mgcv)")
  }
})

# bench/results/<name>.csv, next to the scripts.
results_path <- function(name) file.path(bench_dir, "results", paste0(name, ".csv"))

write_results <- function(table, name) {
  path <- results_path(name)
  dir.create(dirname(path), showWarnings = FALSE, recursive = TRUE)
  utils::write.csv(table, path, row.names = FALSE)
  cat(sprintf("written to %s\n", path))
}

# The number of rows from `variable`, `default` when unset.
bench_n <- function(variable, default) {
  n <- as.numeric(Sys.getenv(variable, as.character(default)))
  if (is.na(n) || n < 1000) stop(variable, " must be a number >= 1000")
  n
}

# A store of the benchmark's own, emptied: figures must not depend on earlier runs.
private_store <- function(name) {
  options(warmgam.cache_dir = file.path(tempdir(), paste0("warmgam-bench-", name)))
  invisible(gam_cache_clear())
}

# The Gaussian model of issue 2's benchmark.
gaussian_formula <- y ~ s(x0, bs = "cr", k = 20) + s(x1, bs = "cr", k = 20) +
  s(x2, bs = "cr", k = 20) + s(x3, bs = "cr", k = 20)

# `expr`'s value and elapsed seconds, from a microsecond clock.
elapsed <- function(expr) {
  start <- Sys.time()
  value <- expr
  list(value = value, seconds = as.double(difftime(Sys.time(), start, units = "secs")))
}

# max_i |a_i - b_i| / max_i |b_i|.
rel_diff <- function(a, b) max(abs(a - b)) / max(abs(b))

# The median run of three (its value and seconds) of `run`, which returns elapsed().
median_of_3 <- function(run) {
  runs <- lapply(1:3, function(i) run())
  runs[[order(vapply(runs, `[[`, 0, "seconds"))[2]]]
}
