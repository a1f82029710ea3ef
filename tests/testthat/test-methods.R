# The S3 methods of a warmgam fit: no argument passed through `...` is ignored.

test_that("an argument a method does not use is an error naming it", {
  d <- sim_data(150)
  fit <- gam_fit(y ~ s(x0, bs = "cr") + fac, data = d, cache = FALSE)
  calls <- list(
    coef = function() coef(fit, complete = TRUE),
    vcov = function() vcov(fit, dispersion = 2),
    fitted = function() fitted(fit, foo = 1),
    residuals = function() residuals(fit, type = "pearson", foo = 1),
    logLik = function() logLik(fit, REML = TRUE),
    nobs = function() nobs(fit, use.fallback = TRUE),
    formula = function() formula(fit, foo = 1),
    family = function() family(fit, foo = 1),
    summary = function() summary(fit, dispersion = 2),
    print = function() print(fit, foo = 1),
    print = function() print(summary(fit), foo = 1),
    print = function() print(anova(fit), foo = 1),
    summary = function() summary(structure(list(), class = "warmgam_cv"), foo = 1),
    print = function() print(structure(list(), class = "warmgam_cv"), foo = 1),
    print = function() print(structure(list(), class = "summary.warmgam_cv"), foo = 1),
    print = function() print(structure(list(), class = "warmgam_ggplots"), foo = 1)
  )
  for (i in seq_along(calls)) {
    expect_error(calls[[i]](), sprintf("`%s\\(\\)` for a warmgam object has no argument", names(calls)[[i]]),
                 class = "warmgam_error_argument", label = names(calls)[[i]])
  }
  expect_error(coef(fit, TRUE), "takes no unnamed argument", class = "warmgam_error_argument")
  # `digits`, which print() passes on, is used.
  expect_output(print(fit, digits = 3), "REML score: [0-9.]+ ")
  expect_output(print(summary(fit), digits = 3), "Parametric coefficients")
  expect_output(print(anova(fit), digits = 3), "smooth terms")
  # What generics themselves pass still works.
  expect_equal(AIC(fit), -2 * as.numeric(logLik(fit)) + 2 * attr(logLik(fit), "df"))
  expect_true(is.finite(BIC(fit)))
})
