# gam_vcomp() against mgcv's gam.vcomp() on the same model (R/vcomp.R).

vcomp_data <- function() {
  d <- sim_data(300, seed = 12)
  set.seed(13)
  d$g <- factor(sample(letters[1:8], nrow(d), replace = TRUE))
  d$y <- d$y + rnorm(8)[d$g]
  d$cnt <- rpois(nrow(d), exp(d$f / 5 + rnorm(8, sd = 0.3)[d$g]))
  d
}

mgcv_vcomp <- function(ref, ...) {
  out <- NULL
  utils::capture.output(out <- mgcv::gam.vcomp(ref, ...))
  out
}

test_that("gam_vcomp() gives mgcv's standard deviations and intervals", {
  skip_if_not_installed("mgcv")
  d <- vcomp_data()
  cases <- list(
    gaussian = list(y ~ s(x0) + s(x2) + fac + s(g, bs = "re"), gaussian(), "REML"),
    gaussian_ml = list(y ~ s(x0) + s(g, bs = "re"), gaussian(), "ML"),
    poisson = list(cnt ~ s(x0) + s(x2) + s(g, bs = "re"), poisson(), "REML")
  )
  for (name in names(cases)) {
    case <- cases[[name]]
    fit <- gam_fit(case[[1]], data = d, family = case[[2]], method = case[[3]])
    ref <- mgcv_fit(case[[1]], d, family = case[[2]], method = case[[3]])
    for (rescale in c(TRUE, FALSE)) {
      got <- gam_vcomp(fit, rescale = rescale)
      want <- mgcv_vcomp(ref, rescale = rescale)
      expect_identical(dimnames(got), dimnames(want))
      # Standard deviations to 1e-6 relative (as the smoothing parameters); the
      # limits, from the Hessian (here by differences), to 1e-4.
      expect_lt(rel_diff(got[, "std.dev"], want[, "std.dev"]), 1e-6, label = paste(name, rescale, "sd"))
      expect_lt(max(abs(got[, 2:3] / want[, 2:3] - 1)), 1e-4, label = paste(name, rescale, "limits"))
    }
  }
  got <- gam_vcomp(fit, conf.lev = 0.8)
  want <- mgcv_vcomp(ref, conf.lev = 0.8)
  expect_lt(max(abs(got[, 2:3] / want[, 2:3] - 1)), 1e-4)
})

test_that("gam_vcomp() refuses what it cannot do, naming the argument", {
  skip_if_not_installed("mgcv")
  d <- vcomp_data()
  fit <- gam_fit(y ~ s(x0) + s(g, bs = "re"), data = d)
  expect_error(gam_vcomp(lm(y ~ x0, d)), "`fit` must be a fit", class = "warmgam_error_argument")
  expect_error(gam_vcomp(fit, conf.lev = 1), "`conf.lev`", class = "warmgam_error_argument")
  expect_error(gam_vcomp(fit, rescale = NA), "`rescale`", class = "warmgam_error_argument")
  gcv <- gam_fit(y ~ s(x0) + s(g, bs = "re"), data = d, method = "GCV.Cp")
  expect_error(gam_vcomp(gcv), "REML or ML fit", class = "warmgam_error_method")
  d$gy <- rgamma(nrow(d), shape = 3, scale = 1)
  gamma_fit <- gam_fit(gy ~ s(x0), data = d, family = Gamma(link = "log"))
  expect_error(gam_vcomp(gamma_fit), "Gaussian family and families of known scale", class = "warmgam_error_family")
  expect_error(gam_vcomp(gam_fit(y ~ x0, data = d)), "no smoothing parameters", class = "warmgam_error_argument")
})
