# Warm-start store benchmark: what a repeated fit and a related fit cost, in one run.
#
# What it measures (elapsed seconds, median of `n_repeats` runs, alternating, each
# after a garbage collection)
#   The Gaussian model of bench_gaussian.R,
#     y ~ s(x0, bs = "cr", k = 20) + s(x1, bs = "cr", k = 20) +
#         s(x2, bs = "cr", k = 20) + s(x3, bs = "cr", k = 20),
#   on mgcv::gamSim(1, n = 1e5, dist = "normal", scale = 2) data, fitted with
#     cold      gam_fit(cache = "refresh"): a fit from scratch that writes its result
#     nocache   gam_fit(cache = FALSE): a fit from scratch that bypasses the store
#     exact     gam_fit(cache = TRUE) repeating the cold call: answered by the store
#   and, on a different sample of the same model (new data each repetition),
#     unseeded  gam_fit(cache = FALSE)
#     seeded    gam_fit(cache = TRUE), started from the previous sample's fit (model key)
#     stored    gam_fit(cache = "refresh"): cold, but reading and writing the store
#   with their outer iterations. It also checks that the answers agree: the exact
#   hit's fitted values against the cold fit's, and the seeded fit's against the
#   unseeded fit's (max_i |f_i - g_i| / max_i |g_i|).
#
# Goals (reported, never asserted in tests): exact at most 1/10 of cold; seeded at most
# 1.05 of stored.
#
# How to run
#   make bench                      (all benchmarks; installs the package first)
#   Rscript bench/bench_store.R     (uses the installed warmgam)
#   WARMGAM_BENCH_STORE_N=20000 Rscript bench/bench_store.R   (another n)
#
# The table is printed and written to bench/results/store.csv.

bench_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
source(file.path(bench_dir, "common.R"))

n <- bench_n("WARMGAM_BENCH_STORE_N", 1e5)
n_repeats <- 11L
threads <- 2L
private_store("store")
fit_formula <- gaussian_formula

simulate <- function(seed) {
  set.seed(seed)
  mgcv::gamSim(1, n = n, dist = "normal", scale = 2, verbose = FALSE)
}

# Elapsed seconds from a microsecond clock (system.time() counts whole milliseconds,
# too coarse for an exact hit), after a garbage collection, as system.time() does.
timed_fit <- function(d, cache) {
  invisible(gc(verbose = FALSE))
  run <- elapsed(gam_fit(fit_formula, data = d, method = "REML", threads = threads, cache = cache))
  list(seconds = run$seconds, fit = run$value)
}

cat(sprintf("warm-start store benchmark: n = %g, %d repetitions, median seconds\n\n", n, n_repeats))

# ---- repeated identical fit ---------------------------------------------------------

d <- simulate(1)
invisible(gam_fit(fit_formula, data = d, threads = threads)) # warm up: load code, touch memory
runs <- list(cold = numeric(), nocache = numeric(), exact = numeric())
reference <- NULL
for (r in seq_len(n_repeats)) {
  cold <- timed_fit(d, "refresh")
  runs$cold <- c(runs$cold, cold$seconds)
  runs$nocache <- c(runs$nocache, timed_fit(d, FALSE)$seconds)
  exact <- timed_fit(d, TRUE)
  stopifnot(exact$fit$warm_start$source == "exact")
  runs$exact <- c(runs$exact, exact$seconds)
  reference <- cold$fit
}
exact_fit <- exact$fit
repeat_table <- data.frame(
  fit = names(runs),
  seconds = vapply(runs, stats::median, numeric(1)),
  outer_iterations = c(reference$outer_iterations, reference$outer_iterations, exact_fit$outer_iterations)
)
repeat_table$ratio_to_cold <- repeat_table$seconds / repeat_table$seconds[[1]]
print(repeat_table, row.names = FALSE, digits = 4)
cat(sprintf("\nexact / cold = %.3f (goal: at most 0.1); exact vs cold fitted values: %.1e relative\n\n",
            repeat_table$ratio_to_cold[[3]], rel_diff(exact_fit$fitted.values, reference$fitted.values)))

# ---- a different sample of the same model -------------------------------------------

# Three fits of each new sample: "unseeded" bypasses the store, "stored" fits cold
# through it (cache = "refresh": no seed is read, its result and seed are written) and
# "seeded" starts from the newest seed, which is the previous sample's (a "stored" fit
# of this sample runs after it). seeded / stored is what a seed saves; stored /
# unseeded is what the store's reading and writing cost.
fits <- list(unseeded = FALSE, seeded = TRUE, stored = "refresh")
seed_runs <- lapply(fits, function(x) numeric())
iterations <- seed_runs
agreement <- numeric()
for (r in seq_len(n_repeats)) {
  d_new <- simulate(100 + r)
  runs <- lapply(fits, function(cache) timed_fit(d_new, cache))
  stopifnot(runs$seeded$fit$warm_start$source == "seeded", runs$stored$fit$warm_start$source == "cold")
  for (f in names(fits)) {
    seed_runs[[f]] <- c(seed_runs[[f]], runs[[f]]$seconds)
    iterations[[f]] <- c(iterations[[f]], runs[[f]]$fit$outer_iterations)
  }
  agreement <- c(agreement, rel_diff(runs$seeded$fit$fitted.values, runs$unseeded$fit$fitted.values))
}
seed_table <- data.frame(
  fit = names(seed_runs),
  seconds = vapply(seed_runs, stats::median, numeric(1)),
  mean_outer_iterations = vapply(iterations, mean, numeric(1))
)
seed_table$ratio_to_unseeded <- seed_table$seconds / seed_table$seconds[[1]]
print(seed_table, row.names = FALSE, digits = 4)
cat(sprintf("\nseeded / stored = %.3f (what the seed saves; goal: at most 1.05)\n",
            seed_table$seconds[[2]] / seed_table$seconds[[3]]))
cat(sprintf("stored / unseeded = %.3f (what the store's reads and writes cost)\n",
            seed_table$seconds[[3]] / seed_table$seconds[[1]]))
cat(sprintf("seeded vs unseeded fitted values: at most %.1e relative\n", max(agreement)))

write_results(
  rbind(
    data.frame(n = n, fit = repeat_table$fit, seconds = repeat_table$seconds,
               outer_iterations = repeat_table$outer_iterations, ratio = repeat_table$ratio_to_cold),
    data.frame(n = n, fit = seed_table$fit, seconds = seed_table$seconds,
               outer_iterations = seed_table$mean_outer_iterations, ratio = seed_table$ratio_to_unseeded)
  ),
  "store"
)
