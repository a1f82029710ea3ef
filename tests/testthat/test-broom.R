# broom's tidy(), glance() and augment() of a warmgam fit against broom's on the
# same mgcv fit (R/broom.R).

broom_case <- function() interop_case(seed = 4, count_seed = 6)

test_that("tidy() gives broom's smooth and parametric tables of the mgcv fit", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("broom")
  cs <- broom_case()
  for (pair in list(list(cs$fit, cs$ref, "gaussian"), list(cs$pois, cs$pois_ref, "poisson"))) {
    got <- broom::tidy(pair[[1]])
    want <- broom::tidy(pair[[2]])
    expect_named(got, names(want))
    expect_identical(got$term, want$term)
    # edf, ref.df and the statistic to 1e-6 relative; p-values (some ~1e-4) likewise.
    expect_columns_close(got, want, c("edf", "ref.df", "statistic", "p.value"), 1e-6, pair[[3]])
    got <- broom::tidy(pair[[1]], parametric = TRUE, conf.int = TRUE)
    want <- broom::tidy(pair[[2]], parametric = TRUE, conf.int = TRUE)
    expect_named(got, names(want))
    expect_identical(got$term, want$term)
    # Estimates and statistics to 1e-6 relative; standard errors and limits to 1e-4.
    expect_columns_close(got, want, c("estimate", "statistic", "p.value"), 1e-6, pair[[3]])
    expect_columns_close(got, want, c("std.error", "conf.low", "conf.high"), 1e-4, pair[[3]])
  }
  expect_equal(broom::tidy(cs$pois, parametric = TRUE, exponentiate = TRUE)$estimate,
               exp(coef(cs$pois)[1:3]), ignore_attr = TRUE)
})

test_that("glance() gives broom's columns of the mgcv fit, plus adj.r.squared and npar", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("broom")
  cs <- broom_case()
  got <- broom::glance(cs$fit)
  want <- broom::glance(cs$ref)
  expect_named(got, c("df", "logLik", "AIC", "BIC", "deviance", "df.residual", "nobs", "adj.r.squared", "npar"))
  # Every column broom gives for the mgcv fit, to 1e-6 relative.
  expect_columns_close(got, want, intersect(names(want), names(got)), 1e-6, "glance")
  # The two newer broom adds: mgcv's summary r.sq (1e-6) and the number of coefficients.
  expect_lt(rel_diff(got$adj.r.squared, summary(cs$ref)$r.sq), 1e-6)
  expect_equal(got$npar, length(coef(cs$ref)))
  expect_equal(got$nobs, 300L)
})

test_that("augment() gives broom's columns of the mgcv fit, and predicts at newdata", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("broom")
  cs <- broom_case()
  got <- broom::augment(cs$fit)
  want <- broom::augment(cs$ref)
  expect_true(all(c("y", "x0", "fac", ".fitted", ".se.fit", ".resid", ".hat", ".cooksd") %in% names(got)))
  expect_equal(got$x0, want$x0)
  # .fitted, .resid, .hat and .cooksd to 1e-6 relative, .se.fit to 1e-4.
  expect_columns_close(got, want, c(".fitted", ".resid", ".hat", ".cooksd"), 1e-6, "augment")
  expect_columns_close(got, want, ".se.fit", 1e-4, "augment")
  got <- broom::augment(cs$pois, type.predict = "response", type.residuals = "pearson")
  want <- broom::augment(cs$pois_ref, type.predict = "response", type.residuals = "pearson")
  expect_columns_close(got, want, c(".fitted", ".resid", ".hat", ".cooksd"), 1e-6, "augment poisson")
  expect_columns_close(got, want, ".se.fit", 1e-4, "augment poisson")
  nd <- new_points(cs$d, 20)
  got <- broom::augment(cs$fit, newdata = nd)
  want <- broom::augment(cs$ref, newdata = nd)
  expect_equal(nrow(got), 20L)
  expect_columns_close(got, want, ".fitted", 1e-6, "augment newdata")
  expect_columns_close(got, want, ".se.fit", 1e-4, "augment newdata")
  # The original data, with rows the fit dropped for missing values.
  d <- cs$d
  d$x1[c(3, 10)] <- NA
  fit <- gam_fit(y ~ s(x0) + s(x1) + fac, data = d)
  aug <- broom::augment(fit, data = d)
  expect_equal(nrow(aug), 298L)
  expect_equal(aug$x1, d$x1[-c(3, 10)])
})

test_that("broom's generics refuse unused and bad arguments, naming them", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("broom")
  cs <- broom_case()
  expect_error(broom::tidy(cs$fit, conf.int = TRUE), "parametric terms only", class = "warmgam_error_argument")
  expect_error(broom::tidy(cs$fit, parametric = "yes"), "`parametric`", class = "warmgam_error_argument")
  expect_error(broom::tidy(cs$fit, effects = "fixed"), "has no argument `effects`", class = "warmgam_error_argument")
  expect_error(broom::glance(cs$fit, digits = 3), "has no argument `digits`", class = "warmgam_error_argument")
  expect_error(broom::augment(cs$fit, type.predict = "terms"), "`type.predict`", class = "warmgam_error_argument")
  expect_error(broom::augment(cs$fit, data = cs$d[1:10, ]), "`data` has 10 rows", class = "warmgam_error_argument")
  expect_error(broom::augment(cs$fit, newdata = 1:3), "`newdata` must be a data frame", class = "warmgam_error_newdata")
})
