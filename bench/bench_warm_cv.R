# Warm-start benchmark (issue 21): 5-fold cross-validation where a fold's fit repeats
# an expensive search, folds seeded by the full-data fit against folds from scratch.
#
# What it measures (the folds' own seconds, summed, as gam_cv() reports them; the
# full-data fit that seeds the warm folds is left out, as the target says "after the
# full-data fit"), on gamSim(1) covariates at n = 2e4, 5 folds (seed 1):
#   nb        y ~ s(x0) + s(x1) + s(x2) + s(x3), y negative binomial (size 3, log
#             mean f / 4), family = nb(): theta estimated by a profile search
#   tw        the same smooths, y = exp(f / 4) times a gamma(2, 2) variable,
#             family = tw(): the power estimated by a profile search
#   binomial  y ~ s(x0) + s(x1) + s(x2) + ti(x0, x1) + ti(x1, x2) +
#                 s(x0, g, bs = "fs", k = 5) + s(g, bs = "re"), binary y, g a
#             10-level factor: about 10 smoothing parameters
#   warm      gam_cv(cache = TRUE) on an empty store: the full-data fit, then folds
#             seeded from it through the store
#   cold      gam_cv(cache = FALSE)
# with the outer iterations per fold and the largest relative difference between the
# warm and cold fold metrics. Each model runs warm then cold `repeats` times (3; the
# folds' sums vary by 10-15% run to run, as much as the target's margin) and the
# medians of the warm and cold sums are compared.
#
# Targets (reported, never asserted in tests): warm folds at most 1/2 of cold folds
# for each of the three models; metrics within 1e-8 relative.
#
# How to run
#   Rscript bench/bench_warm_cv.R    (uses the installed warmgam)
#   WARMGAM_BENCH_WARM_N=5000 Rscript bench/bench_warm_cv.R
#   WARMGAM_BENCH_WARM_MODELS=nb,tw Rscript bench/bench_warm_cv.R   (some models)
#   WARMGAM_BENCH_WARM_REPEATS=1 Rscript bench/bench_warm_cv.R      (one run each)
#
# The table is printed and written to bench/results/warm_cv.csv.

bench_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg)) dirname(normalizePath(sub("^--file=", "", file_arg[[1]]))) else "bench"
})
source(file.path(bench_dir, "common.R"))

n <- bench_n("WARMGAM_BENCH_WARM_N", 2e4)
folds <- 5L
repeats <- as.integer(Sys.getenv("WARMGAM_BENCH_WARM_REPEATS", "3"))
if (is.na(repeats) || repeats < 1) stop("WARMGAM_BENCH_WARM_REPEATS must be a whole number >= 1")
private_store("warm-cv")

set.seed(2)
d <- mgcv::gamSim(1, n = n, dist = "normal", scale = 1, verbose = FALSE)
d$y_nb <- stats::rnbinom(n, mu = exp(d$f / 4), size = 3)
d$y_tw <- exp(d$f / 4) * stats::rgamma(n, shape = 2, rate = 2)
d$g <- factor(sample(letters[1:10], n, replace = TRUE))
d$y_bin <- stats::rbinom(n, 1, stats::plogis((d$f - mean(d$f)) / 3 + 0.3 * (as.integer(d$g) - 5.5) / 5))

smooths <- "s(x0) + s(x1) + s(x2) + s(x3)"
models <- list(
  nb = list(formula = stats::as.formula(paste("y_nb ~", smooths)), family = nb()),
  tw = list(formula = stats::as.formula(paste("y_tw ~", smooths)), family = tw()),
  binomial = list(
    formula = y_bin ~ s(x0) + s(x1) + s(x2) + ti(x0, x1) + ti(x1, x2) + s(x0, g, bs = "fs", k = 5) + s(g, bs = "re"),
    family = binomial()
  )
)

one_model <- function(name) {
  m <- models[[name]]
  runs <- lapply(seq_len(repeats), function(r) {
    # An empty store each time: the warm folds are seeded by the full-data fit (a
    # fold's own data would be an exact hit the second time).
    invisible(gam_cache_clear())
    warm <- gam_cv(m$formula, data = d, family = m$family, folds = folds, seed = 1, progress = FALSE)
    cold <- gam_cv(m$formula, data = d, family = m$family, folds = folds, seed = 1, cache = FALSE, progress = FALSE)
    list(warm = warm, cold = cold)
  })
  warm <- runs[[1]]$warm
  cold <- runs[[1]]$cold
  w <- stats::median(vapply(runs, function(r) sum(r$warm$folds$seconds), 0))
  c <- stats::median(vapply(runs, function(r) sum(r$cold$folds$seconds), 0))
  diff <- max(vapply(runs, function(r) max(abs(r$warm$folds$metric - r$cold$folds$metric) / abs(r$cold$folds$metric)), 0))
  cat(sprintf("%-8s warm folds %6.2f s, cold folds %6.2f s (medians of %d): warm/cold %.3f (target 0.5); metrics %.1e apart\n",
              name, w, c, repeats, w / c, diff))
  cat("  warm/cold of each run:",
      sprintf("%.3f", vapply(runs, function(r) sum(r$warm$folds$seconds) / sum(r$cold$folds$seconds), 0)), "\n")
  cat("  outer iterations per fold, warm:", warm$folds$outer_iterations,
      "  cold:", cold$folds$outer_iterations, "  warm starts:", unique(warm$folds$warm_start), "\n")
  cat("  family parameter trials per fold, warm:", warm$folds$family_trials,
      "  cold:", cold$folds$family_trials, "\n")
  data.frame(model = name, n = n, warm_seconds = w, cold_seconds = c, ratio = w / c,
             metric_rel_diff = diff, n_sp = length(warm$fit$sp))
}

cat(sprintf("Warm-start cross-validation benchmark: n = %g, %d folds\n\n", n, folds))
chosen <- strsplit(Sys.getenv("WARMGAM_BENCH_WARM_MODELS", paste(names(models), collapse = ",")), ",")[[1]]
results <- do.call(rbind, lapply(intersect(names(models), chosen), one_model))
print(results, row.names = FALSE, digits = 4)
write_results(results, "warm_cv")
