# Term constructors s(), te() and ti(): their arguments, as mgcv's.

skip_if_not_installed("mgcv")

test_that("arguments of mgcv's term constructors that warmgam lacks are errors naming them", {
  d <- sim_data(200)
  expect_error(gam_fit(y ~ s(x0, sp = 0.01), data = d), "`sp` of `s\\(x0\\)`.*gam_fit\\(sp = \\)",
               class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x0, fx = TRUE), data = d), "`fx` of `s\\(x0\\)`", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ fac + s(x1, by = fac, pc = 0), data = d), "`pc` of `s\\(x1\\):fac`",
               class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ ti(x1, x2, mc = c(0, 1)), data = d), "`mc` of `ti\\(x1,x2\\)`",
               class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ te(x1, x2, xt = list(max.knots = 100)), data = d), "`xt` of `te\\(x1,x2\\)`",
               class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ te(x1, x2, np = FALSE), data = d), "`np` of `te\\(x1,x2\\)`",
               class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ te(x1, x2, fx = c(TRUE, FALSE)), data = d), "`fx`", class = "warmgam_error_argument")
  # mgcv's s() has no `mc` or `np`; an unknown argument is named, not taken for a covariate.
  expect_error(gam_fit(y ~ s(x0, np = TRUE), data = d), "no argument `np`", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x0, kk = 5), data = d), "no argument `kk`", class = "warmgam_error_argument")
  expect_error(s(x0, sp = 0.01), "`sp` of `s\\(x0\\)`", class = "warmgam_error_argument")
})

test_that("mgcv's default values of those arguments are accepted", {
  d <- sim_data(200)
  ref <- gam_fit(y ~ s(x0) + te(x1, x2), data = d, cache = FALSE)
  fit <- gam_fit(y ~ s(x0, fx = FALSE, sp = NULL, pc = NULL) +
                   te(x1, x2, fx = FALSE, np = TRUE, xt = NULL, sp = NULL, pc = NULL),
                 data = d, cache = FALSE)
  expect_equal(fitted(fit), fitted(ref), tolerance = 1e-12)
  fit_ti <- gam_fit(y ~ s(x1) + s(x2) + ti(x1, x2, mc = NULL, fx = c(FALSE, FALSE)), data = d, cache = FALSE)
  expect_s3_class(fit_ti, "warmgam")
})
