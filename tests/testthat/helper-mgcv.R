# Every test fit uses a store in the session temporary directory, never the user's.
options(warmgam.cache_dir = file.path(tempdir(), "warmgam-test-store"))

# Shared helpers: simulated data, a tightly converged mgcv reference fit, and
# relative differences. mgcv's defaults stop early (fitted values move by ~2e-7
# relative between its default and tight tolerances), so every comparison is against
# mgcv run with tight tolerances.

sim_data <- function(n = 400, seed = 2) {
  set.seed(seed)
  d <- gam_sim(1, n = n, dist = "normal", scale = 2)
  d$fac <- factor(sample(c("a", "b", "c"), n, replace = TRUE))
  d$z <- runif(n)
  d$w <- runif(n, 0.5, 2)
  d
}

# mgcv's own "step failure" warnings at these tolerances only say it cannot improve
# further, so they are muffled.
# Tests compare against these fits through mgcv_reference() (helper-references.R),
# which records them as fixtures; `conv.tol` is Newton's (1e-10 for the largest fits).
mgcv_fit <- function(formula, data, ..., conv.tol = 1e-12) {
  args <- list(formula, data = data, ...,
               control = mgcv::gam.control(epsilon = 1e-12, newton = list(conv.tol = conv.tol)))
  suppressWarnings(do.call(mgcv::gam, args))
}

rel_diff <- function(a, b) max(abs(unname(a) - unname(b))) / max(abs(unname(b)))

# Checks fitted values, predictions at new data (on the scale `type`), total edf,
# criterion, se.fit and (optionally) coefficients of a warmgam fit against the mgcv
# fit of the same model (an mgcv_reference()); `label` names the case in failures.
expect_agrees_with_mgcv <- function(fit, ref, newdata, fitted_tol = 1e-6, coef_tol = NULL,
                                    crit_tol = 1e-6, edf_tol = 1e-3, se_tol = 1e-4,
                                    predict_tol = fitted_tol, type = "link", label = "") {
  expect_lt(rel_diff(fitted(fit), fitted(ref)), fitted_tol, label = paste(label, "fitted"))
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), edf_tol, label = paste(label, "edf"))
  expect_lt(abs(unname(fit$criterion) - unname(ref$gcv.ubre)) / abs(unname(ref$gcv.ubre)), crit_tol,
            label = paste(label, "criterion"))
  p <- predict(fit, newdata, type = type, se.fit = TRUE)
  q <- predict(ref, newdata, type = type, se.fit = TRUE)
  expect_lt(rel_diff(p$fit, q$fit), predict_tol, label = paste(label, "predict"))
  expect_lt(rel_diff(p$se.fit, q$se.fit), se_tol, label = paste(label, "se"))
  if (!is.null(coef_tol)) expect_lt(rel_diff(coef(fit), coef(ref)), coef_tol)
  invisible(fit)
}

# The first `n` rows of `d` with covariates `vars` drawn afresh (uniform on [0, 1]):
# new data for predictions.
redrawn_rows <- function(d, vars, n = 30, seed = 9) {
  nd <- d[seq_len(n), ]
  set.seed(seed)
  for (v in vars) nd[[v]] <- runif(n)
  nd
}

new_points <- function(d, n = 50, seed = 9) {
  set.seed(seed)
  nd <- d[sample(nrow(d), n), ]
  nd$x0 <- runif(n)
  nd$x2 <- runif(n)
  nd
}
