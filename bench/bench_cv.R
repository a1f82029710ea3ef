# Cross-validation benchmark: 10-fold CV with warmgam's folds cold and warm, against
# a plain loop of mgcv fits, in one run.
#
# What it measures (elapsed seconds of the whole cross-validation: the faster of two
# runs for warmgam (order warm, cold, cold, warm), one run of the mgcv loop; after a
# small warm-up run of each)
#   The Gaussian model of bench_gaussian.R,
#     y ~ s(x0, bs = "cr", k = 20) + s(x1, bs = "cr", k = 20) +
#         s(x2, bs = "cr", k = 20) + s(x3, bs = "cr", k = 20),
#   on mgcv::gamSim(1, n = 1e5, dist = "normal", scale = 2) data, 10 folds (seed 1):
#     warm      gam_cv(cache = TRUE) on an empty store: the full-data fit, then folds
#               seeded through the store
#     cold      gam_cv(cache = FALSE): every fold from scratch
#     mgcv      a loop over the same folds of mgcv::bam(method = "fREML") fits and
#               predictions (no full-data fit)
#   under plan(sequential), with the outer iterations per fold and the largest
#   relative difference between the warm and cold fold metrics. Then the same for
#   the binary model: gamSim(1, dist = "binary", scale = 0.33), family = binomial(),
#   the metric the binomial deviance per held-out row (the mgcv loop scores the same).
#
# Goals (reported, never asserted in tests): Gaussian CV at most 1/5 of the mgcv
# loop; binary CV warm at most 1/2 of cold and at most 1/5 of the mgcv loop.
#
# How to run
#   make bench                   (all benchmarks; installs the package first)
#   Rscript bench/bench_cv.R     (uses the installed warmgam)
#   WARMGAM_BENCH_CV_N=20000 Rscript bench/bench_cv.R
#
# The table is printed and written to bench/results/cv.csv.

bench_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
source(file.path(bench_dir, "common.R"))

n <- bench_n("WARMGAM_BENCH_CV_N", 1e5)
k <- 10L
private_store("cv")
fit_formula <- gaussian_formula
faster <- function(a, b) if (a$seconds <= b$seconds) a else b

# One model's benchmark: warm and cold gam_cv() and the mgcv loop on the same folds.
cv_benchmark <- function(label, dist, family, scale) {
  set.seed(1)
  d <- mgcv::gamSim(1, n = n, dist = dist, scale = scale, verbose = FALSE)
  cat(sprintf("10-fold cross-validation benchmark: %s gamSim(1), n = %g\n\n", label, n))
  invisible(gam_cv(fit_formula, data = d[1:2000, ], family = family, folds = 3, seed = 1, cache = FALSE, progress = FALSE))
  invisible(mgcv::bam(fit_formula, data = d[1:2000, ], family = family, method = "fREML"))
  invisible(gam_cache_clear())
  run_warm <- function() {
    invisible(gam_cache_clear())
    elapsed(gam_cv(fit_formula, data = d, family = family, folds = k, seed = 1, progress = FALSE))
  }
  run_cold <- function() {
    elapsed(gam_cv(fit_formula, data = d, family = family, folds = k, seed = 1, cache = FALSE, progress = FALSE))
  }
  warm <- run_warm()
  cold <- run_cold()
  cold <- faster(cold, run_cold())
  warm <- faster(warm, run_warm())
  fold_id <- warm$value$fold_id
  # The family's mean deviance over the held-out rows (the mean squared error for
  # the Gaussian model), as gam_cv()'s default metric.
  mgcv_loop <- elapsed(vapply(seq_len(k), function(i) {
    test <- fold_id == i
    fit <- mgcv::bam(fit_formula, data = d[!test, ], family = family, method = "fREML")
    mu <- predict(fit, d[test, ], type = "response")
    sum(family$dev.resids(d$y[test], mu, rep(1, sum(test)))) / sum(test)
  }, numeric(1)))
  table <- data.frame(
    engine = c("warmgam_warm", "warmgam_cold", "mgcv_bam_loop"),
    seconds = c(warm$seconds, cold$seconds, mgcv_loop$seconds),
    outer_iterations_per_fold = c(mean(warm$value$folds$outer_iterations),
                                  mean(cold$value$folds$outer_iterations), NA),
    estimate = c(warm$value$estimate, cold$value$estimate,
                 weighted.mean(mgcv_loop$value, as.vector(table(fold_id))))
  )
  table$ratio_to_mgcv <- table$seconds / mgcv_loop$seconds
  print(table, row.names = FALSE, digits = 4)
  cat(sprintf("\nwarm / mgcv = %.3f (goal: at most 0.2); warm / cold = %.3f\n",
              table$ratio_to_mgcv[[1]], warm$seconds / cold$seconds))
  cat(sprintf("warm vs cold fold metrics: at most %.1e relative\n",
              max(abs(warm$value$folds$metric - cold$value$folds$metric) / cold$value$folds$metric)))
  cat("outer iterations per fold, warm: ", warm$value$folds$outer_iterations, "\n")
  cat("outer iterations per fold, cold: ", cold$value$folds$outer_iterations, "\n\n")
  cbind(model = label, n = n, table)
}

results <- rbind(
  cv_benchmark("Gaussian", "normal", gaussian(), 2),
  cv_benchmark("binary", "binary", binomial(), 0.33)
)
write_results(results, "cv")
