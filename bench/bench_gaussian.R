# Gaussian additive model benchmark: warmgam against mgcv, side by side in one run.
#
# What it measures
#   Elapsed seconds (system.time()[["elapsed"]]) to fit
#     y ~ s(x0, bs = "cr", k = 20) + s(x1, bs = "cr", k = 20) +
#         s(x2, bs = "cr", k = 20) + s(x3, bs = "cr", k = 20)
#   to mgcv::gamSim(1, n, dist = "normal", scale = 2) data with
#     warmgam   gam_fit(method = "REML", threads = 2, cache = FALSE)  (a cold fit)
#     gam       mgcv::gam(method = "REML")                      (only n <= 2e4)
#     bam       mgcv::bam(method = "fREML")
#     bam_disc  mgcv::bam(method = "fREML", discrete = TRUE, nthreads = 2)
#   at n = 2e4, 1e5 and 1e6. For n <= 2e4 each engine is timed 3 times and the
#   median is kept; larger n are timed once. Engines alternate within a run (the
#   order rotates between repetitions) so that drift in machine load is shared.
#
#   For each n it prints every engine's seconds, the ratio warmgam / engine (below 1
#   means warmgam is faster) and the largest relative difference of warmgam's
#   fitted values from that engine's, max_i |f_i - g_i| / |g_i|. Where gam runs it
#   also reports the difference from a tightly converged gam (epsilon and conv.tol
#   1e-12; not timed), because default gam's own fitted values move by up to ~1e-4
#   relative when a smoothing parameter heads to infinity.
#
# Goals (the benchmark reports them; tests never assert timings)
#   n = 2e4:        warmgam takes at most 1/50 of gam's time
#   n = 1e5, 1e6:   warmgam no slower than bam(discrete = TRUE)
#   always:         fitted values within 1e-6 relative of gam's
#
# How to run
#   make bench                       (installs the package first; from the repository root)
#   Rscript bench/bench_gaussian.R   (uses the installed warmgam)
#   WARMGAM_BENCH_SIZES=2000,5000 Rscript bench/bench_gaussian.R   (quick run)
#
# The table is printed and written to bench/results/gaussian.csv.

suppressPackageStartupMessages({
  library(warmgam)
  if (!requireNamespace("mgcv", quietly = TRUE)) {
    stop("the benchmark compares against mgcv; install it (Debian: r-cran-mgcv)")
  }
})

# ---- settings ---------------------------------------------------------------------

default_sizes <- c(2e4, 1e5, 1e6)
gam_max_n <- 2e4       # mgcv::gam() is only run up to this n
repeat_max_n <- 2e4    # sizes up to this are timed `n_repeats` times (median kept)
n_repeats <- 3L
threads <- 2L
seed <- 20240601L

parse_sizes <- function(txt) {
  if (!nzchar(txt)) return(default_sizes)
  sizes <- suppressWarnings(as.numeric(trimws(strsplit(txt, ",", fixed = TRUE)[[1]])))
  if (!length(sizes) || anyNA(sizes) || any(sizes < 100) || any(sizes != round(sizes))) {
    stop("WARMGAM_BENCH_SIZES must be comma-separated whole numbers >= 100, e.g. \"2000,20000\"; got \"",
         txt, "\"")
  }
  sizes
}
sizes <- parse_sizes(Sys.getenv("WARMGAM_BENCH_SIZES", ""))

script_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
results_file <- file.path(script_dir, "results", "gaussian.csv")

# The store is not consulted (cache = FALSE), but keep anything it might write out of
# the user's cache.
options(warmgam.cache_dir = file.path(tempdir(), "warmgam-bench-cache"))

fit_formula <- y ~ s(x0, bs = "cr", k = 20) + s(x1, bs = "cr", k = 20) +
  s(x2, bs = "cr", k = 20) + s(x3, bs = "cr", k = 20)

# Each engine: a function of the data returning the fitted values. Both packages read
# the same formula: gam_fit() takes its s() terms as warmgam's and mgcv takes them as
# mgcv's, whichever package masks the other.
engines <- list(
  warmgam = function(d) {
    fit <- gam_fit(fit_formula, data = d, method = "REML", threads = threads, cache = FALSE)
    if (!isTRUE(fit$converged)) warning("warmgam did not converge: ", fit$termination, call. = FALSE)
    fitted(fit)
  },
  gam = function(d) fitted(mgcv::gam(fit_formula, data = d, method = "REML")),
  bam = function(d) fitted(mgcv::bam(fit_formula, data = d, method = "fREML")),
  bam_disc = function(d) {
    fitted(mgcv::bam(fit_formula, data = d, method = "fREML", discrete = TRUE, nthreads = threads))
  }
)
gam_tight <- function(d) {
  ctrl <- mgcv::gam.control(epsilon = 1e-12, newton = list(conv.tol = 1e-12))
  fitted(mgcv::gam(fit_formula, data = d, method = "REML", control = ctrl))
}

# ---- helpers ----------------------------------------------------------------------

# Largest elementwise relative difference of `a` from the reference `b`.
rel_diff <- function(a, b) {
  if (is.null(a) || is.null(b) || length(a) != length(b)) return(NA_real_)
  den <- pmax(abs(b), 1e-8 * max(abs(b)))
  max(abs(a - b) / den)
}

# Runs `f(d)` under system.time; returns list(seconds, fitted) or seconds = NA and
# the error message when it fails, so one failing engine does not end the benchmark.
time_one <- function(f, d) {
  gc(verbose = FALSE)
  fitted <- NULL
  err <- NULL
  secs <- tryCatch(
    system.time(fitted <- f(d))[["elapsed"]],
    error = function(e) {
      err <<- conditionMessage(e)
      NA_real_
    }
  )
  list(seconds = secs, fitted = unname(as.double(fitted)), error = err)
}

fmt_secs <- function(x) ifelse(is.na(x), "failed", sprintf("%.3f s", x))
fmt_num <- function(x, fmt) ifelse(is.na(x), "-", sprintf(fmt, x))

# ---- run --------------------------------------------------------------------------

blas <- tryCatch(sessionInfo()$BLAS, error = function(e) NA_character_)
cat(sprintf("warmgam %s, mgcv %s, %s\n", packageVersion("warmgam"), packageVersion("mgcv"),
            R.version.string))
cat(sprintf("BLAS: %s; cores: %s; threads for warmgam and bam(discrete): %d\n",
            blas, parallel::detectCores(), threads))
cat(sprintf("sizes: %s\n", paste(format(sizes, scientific = FALSE, big.mark = ","), collapse = ", ")))

rows <- list()
for (n in sizes) {
  set.seed(seed)
  d <- mgcv::gamSim(1, n = n, dist = "normal", scale = 2, verbose = FALSE)
  use <- names(engines)
  if (n > gam_max_n) use <- setdiff(use, "gam")
  reps <- if (n <= repeat_max_n) n_repeats else 1L

  cat(sprintf("\n== n = %s (%d run%s each) ==\n", format(n, big.mark = ",", scientific = FALSE),
              reps, if (reps > 1L) "s" else ""))
  secs <- matrix(NA_real_, reps, length(use), dimnames = list(NULL, use))
  fits <- setNames(vector("list", length(use)), use)
  errors <- setNames(rep(NA_character_, length(use)), use)
  for (r in seq_len(reps)) {
    # Rotate the order each repetition: warmgam, gam, bam, bam_disc; then gam, bam, ...
    order <- use[(seq_along(use) + r - 2L) %% length(use) + 1L]
    for (e in order) {
      res <- time_one(engines[[e]], d)
      secs[r, e] <- res$seconds
      if (!is.null(res$error)) errors[[e]] <- res$error
      if (!is.null(res$fitted)) fits[[e]] <- res$fitted
    }
  }
  tight <- if ("gam" %in% use) tryCatch(gam_tight(d), error = function(e) NULL) else NULL

  med <- apply(secs, 2, function(x) if (all(is.na(x))) NA_real_ else stats::median(x, na.rm = TRUE))
  w <- med[["warmgam"]]
  for (e in use) {
    ratio <- if (e == "warmgam") NA_real_ else w / med[[e]]
    diff <- if (e == "warmgam") NA_real_ else rel_diff(fits$warmgam, fits[[e]])
    goal <- switch(e,
      gam = if (n == 2e4) "ratio <= 1/50" else NA_character_,
      bam_disc = if (n >= 1e5) "ratio <= 1" else NA_character_,
      NA_character_
    )
    goal_met <- switch(e,
      gam = if (n == 2e4) ratio <= 1 / 50 else NA,
      bam_disc = if (n >= 1e5) ratio <= 1 else NA,
      NA
    )
    rows[[length(rows) + 1L]] <- data.frame(
      n = n, engine = e, runs = sum(!is.na(secs[, e])), seconds = med[[e]],
      warmgam_ratio = ratio, fitted_rel_diff = diff, goal = goal, goal_met = goal_met,
      stringsAsFactors = FALSE
    )
    line <- sprintf("  %-9s %12s", e, fmt_secs(med[[e]]))
    if (e != "warmgam") {
      line <- paste0(line, sprintf("   warmgam/%s = %s   fitted rel. diff = %s", e,
                                   fmt_num(ratio, "%.3f"), fmt_num(diff, "%.2e")))
    }
    if (!is.na(errors[[e]])) line <- paste0(line, "   error: ", errors[[e]])
    cat(line, "\n", sep = "")
  }
  if (!is.null(tight)) {
    diff_tight <- rel_diff(fits$warmgam, tight)
    rows[[length(rows) + 1L]] <- data.frame(
      n = n, engine = "gam_tight", runs = 0L, seconds = NA_real_, warmgam_ratio = NA_real_,
      fitted_rel_diff = diff_tight, goal = "fitted_rel_diff <= 1e-6",
      goal_met = diff_tight <= 1e-6, stringsAsFactors = FALSE
    )
    cat(sprintf("  %-9s %12s   fitted rel. diff = %s (default gam vs tight: %s)\n", "gam_tight",
                "(untimed)", fmt_num(diff_tight, "%.2e"), fmt_num(rel_diff(fits$gam, tight), "%.2e")))
  }
  rm(d, fits, tight)
}

results <- do.call(rbind, rows)
rownames(results) <- NULL
cat("\n== results ==\n")
old_width <- options(width = max(getOption("width"), 120L))
print(format(results, digits = 4), row.names = FALSE)
options(old_width)

dir.create(dirname(results_file), recursive = TRUE, showWarnings = FALSE)
utils::write.csv(results, results_file, row.names = FALSE)
cat("\nwrote", results_file, "\n")
