# Generalized (binary and Poisson) additive model benchmark: warmgam against mgcv,
# side by side in one run (issue 4).
#
# What it measures
#   Elapsed seconds to fit
#     y ~ s(x0, bs = "cr", k = 20) + s(x1, bs = "cr", k = 20) +
#         s(x2, bs = "cr", k = 20) + s(x3, bs = "cr", k = 20)
#   to mgcv::gamSim(1, n, dist = "binary") data with family = binomial() by
#     warmgam   gam_fit(method = "REML", threads = 2, cache = FALSE)  (a cold fit;
#               Laplace-approximate REML with exact derivatives, no discretization)
#     gam       mgcv::gam(method = "REML")                           (only n <= 2e4)
#     bam       mgcv::bam(method = "fREML", nthreads = 2)
#     bam_disc  mgcv::bam(method = "fREML", discrete = TRUE, nthreads = 2)
#   at n = 2e4 and 1e5 by default (WARMGAM_BENCH_SIZES=2e4,1e5,1e6 adds 1e6), and the
#   same with dist = "poisson", family = poisson() at n = 1e5. Each fit is timed
#   once. The table gives every engine's seconds, the ratio warmgam / engine (below 1
#   means warmgam is faster), warmgam's outer iterations, and the largest relative
#   difference of warmgam's linear predictor from each engine's.
#
#   With the warm-start store (a private, emptied store) at n = 1e5, binary: the cold
#   fit, the identical fit repeated (an exact hit), and a fit to a different sample of
#   the same model seeded by the first; ratios to the cold fit.
#
# Goals (reported, never asserted): at most 1/20 of gam's time; at n = 1e6 faster
# than bam(discrete = TRUE); exact hit at most 1/10 and seeded at most 1/2 of cold.
#
# How to run
#   Rscript bench/bench_binary.R        (uses the installed warmgam)
#   WARMGAM_BENCH_SIZES=20000 Rscript bench/bench_binary.R
#
# The tables are printed and written to bench/results/binary.csv and
# bench/results/binary_store.csv.

bench_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
source(file.path(bench_dir, "common.R"))

sizes <- as.numeric(strsplit(Sys.getenv("WARMGAM_BENCH_SIZES", "2e4,1e5"), ",", fixed = TRUE)[[1]])
threads <- 2L
formula <- gaussian_formula

simulate <- function(n, dist, seed) {
  set.seed(seed)
  mgcv::gamSim(1, n = n, dist = dist, scale = 0.33, verbose = FALSE)
}

run_case <- function(n, dist, family) {
  d <- simulate(n, dist, 1)
  w <- elapsed(gam_fit(formula, data = d, family = family, threads = threads, cache = FALSE))
  rows <- list()
  add <- function(engine, fit, seconds) {
    eta <- if (inherits(fit, "warmgam")) fit$linear.predictors else fit$linear.predictors
    rows[[length(rows) + 1]] <<- data.frame(
      family = family$family, n = n, engine = engine, seconds = seconds,
      ratio = w$seconds / seconds, outer_iterations = w$value$outer_iterations,
      eta_rel_diff = rel_diff(w$value$linear.predictors, eta)
    )
  }
  if (n <= 2e4) {
    g <- elapsed(mgcv::gam(formula, data = d, family = family, method = "REML"))
    add("gam", g$value, g$seconds)
  }
  b <- elapsed(mgcv::bam(formula, data = d, family = family, method = "fREML", nthreads = threads))
  add("bam", b$value, b$seconds)
  bd <- elapsed(mgcv::bam(formula, data = d, family = family, method = "fREML", discrete = TRUE, nthreads = threads))
  add("bam_disc", bd$value, bd$seconds)
  cat(sprintf("%s n = %g: warmgam %.3f s (%d outer iterations)\n", family$family, n, w$seconds, w$value$outer_iterations))
  do.call(rbind, rows)
}

table <- do.call(rbind, c(
  lapply(sizes, run_case, dist = "binary", family = binomial()),
  list(run_case(1e5, "poisson", poisson()))
))
print(table, digits = 3, row.names = FALSE)
write_results(table, "binary")

# ---- the warm-start store at n = 1e5 ------------------------------------------------
private_store("binary")
d1 <- simulate(1e5, "binary", 1)
d2 <- simulate(1e5, "binary", 2)
cold <- elapsed(gam_fit(formula, data = d1, family = binomial(), threads = threads))
exact <- elapsed(gam_fit(formula, data = d1, family = binomial(), threads = threads))
seeded <- elapsed(gam_fit(formula, data = d2, family = binomial(), threads = threads))
cold2 <- elapsed(gam_fit(formula, data = d2, family = binomial(), threads = threads, cache = FALSE))
store <- data.frame(
  fit = c("cold", "exact repeat", "seeded (other sample)", "cold (other sample)"),
  source = c(cold$value$warm_start$source, exact$value$warm_start$source, seeded$value$warm_start$source, "cold"),
  seconds = c(cold$seconds, exact$seconds, seeded$seconds, cold2$seconds),
  outer_iterations = c(cold$value$outer_iterations, exact$value$outer_iterations, seeded$value$outer_iterations, cold2$value$outer_iterations)
)
store$ratio_to_cold <- store$seconds / c(cold$seconds, cold$seconds, cold2$seconds, cold2$seconds)
print(store, digits = 3, row.names = FALSE)
cat(sprintf("seeded vs cold (other sample): linear predictor rel diff %.2e\n",
            rel_diff(seeded$value$linear.predictors, cold2$value$linear.predictors)))
write_results(store, "binary_store")
