# The methods marginaleffects asks of a new model class (R/marginaleffects.R),
# called directly: marginaleffects itself is not installable here.

test_that("get_coef, set_coef, get_vcov and get_predict do what marginaleffects needs", {
  skip_if_not_installed("mgcv")
  d <- sim_data(200, seed = 31)
  fit <- gam_fit(y ~ s(x0) + s(x2) + fac, data = d)
  ref <- mgcv_fit(y ~ s(x0) + s(x2) + fac, d, method = "REML")
  b <- get_coef.warmgam(fit)
  expect_identical(b, coef(fit))
  expect_identical(get_vcov.warmgam(fit), vcov(fit))
  nd <- new_points(d, 10)
  p <- get_predict.warmgam(fit, newdata = nd)
  expect_named(p, c("rowid", "estimate"))
  # Predictions at new data equal mgcv's (1e-6 relative).
  expect_lt(rel_diff(p$estimate, mgcv::predict.gam(ref, nd, type = "response")), 1e-6)
  # A changed coefficient moves the predictions by its column of the model matrix.
  moved <- set_coef.warmgam(fit, c(facb = unname(b[["facb"]]) + 1))
  x <- predict(fit, nd, type = "lpmatrix")
  expect_equal(get_predict.warmgam(moved, newdata = nd, type = "link")$estimate,
               unname(predict(fit, nd) + x[, "facb"]), tolerance = 1e-12)
  expect_identical(coef(set_coef.warmgam(fit, unname(b) * 2)), b * 2)
  nd$rowid <- 101:110
  expect_identical(get_predict.warmgam(fit, newdata = nd)$rowid, 101:110)
})

test_that("bad arguments are errors naming them", {
  skip_if_not_installed("mgcv")
  d <- sim_data(200, seed = 31)
  fit <- gam_fit(y ~ s(x0) + fac, data = d)
  expect_error(set_coef.warmgam(fit, c(nope = 1)), "`coefs` names `nope`", class = "warmgam_error_argument")
  expect_error(set_coef.warmgam(fit, 1:2), "one value per coefficient", class = "warmgam_error_argument")
  expect_error(get_vcov.warmgam(fit, vcov = "HC3"), "`vcov` must be", class = "warmgam_error_argument")
  expect_error(get_predict.warmgam(fit, type = "terms"), "`type` must be one of", class = "warmgam_error_argument")
  expect_error(get_coef.warmgam(fit, foo = 1), "has no argument `foo`", class = "warmgam_error_argument")
})
