# gam_fit(): methods, parametric terms, weights and offsets, fixed sp, and bad input.

d <- sim_data()
nd <- new_points(d)

test_that("REML, ML and GCV.Cp agree with mgcv", {
  f <- y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr")
  for (method in c("REML", "ML", "GCV.Cp")) {
    fit <- gam_fit(f, data = d, method = method)
    ref <- mgcv_reference(paste0("gam_fit/methods-", method), f, d, method = method)
    expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6)
    expect_lt(abs(fit$scale - ref$sig2) / ref$sig2, 1e-6)
  }
})

test_that("parametric terms, weights, offsets and gamma agree with mgcv", {
  f <- y ~ fac * x3 + offset(z) + s(x0, bs = "cr") + s(x2, bs = "ps")
  fit <- gam_fit(f, data = d, weights = w, gamma = 1.4)
  ref <- mgcv_reference("gam_fit/parametric-weights-offset-gamma", f, d, weights = d$w, method = "REML", gamma = 1.4)
  expect_equal(names(coef(fit)), names(coef(ref)))
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6)
  fit0 <- gam_fit(y ~ x3 - 1 + s(x2, bs = "cr"), data = d, method = "GCV.Cp")
  ref0 <- mgcv_reference("gam_fit/no-intercept", y ~ x3 - 1 + s(x2, bs = "cr"), d, method = "GCV.Cp")
  expect_agrees_with_mgcv(fit0, ref0, nd, coef_tol = 1e-6)
})

test_that("fixed smoothing parameters are used, negative ones estimated", {
  f <- y ~ s(x0, bs = "cr") + s(x2, bs = "cr")
  fit <- gam_fit(f, data = d, sp = c(10, 0.5))
  ref <- mgcv_reference("gam_fit/fixed-sp", f, d, sp = c(10, 0.5), method = "REML")
  expect_equal(unname(fit$sp), c(10, 0.5))
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-10)
  expect_lt(rel_diff(coef(fit), coef(ref)), 1e-8)
  part <- gam_fit(f, data = d, sp = c(10, -1))
  refp <- mgcv_reference("gam_fit/partly-fixed-sp", f, d, sp = c(10, -1), method = "REML")
  expect_agrees_with_mgcv(part, refp, nd, coef_tol = 1e-6)
})

test_that("variables come from the formula's environment when data is missing", {
  xx <- d$x2
  yy <- d$y
  fit <- gam_fit(yy ~ s(xx, bs = "cr"))
  ref <- gam_fit(y ~ s(x2, bs = "cr"), data = d)
  expect_equal(unname(fitted(fit)), unname(fitted(ref)))
})

test_that("rows with missing values are dropped and counted", {
  dm <- d
  dm$x0[1:7] <- NA
  fit <- gam_fit(y ~ s(x0, bs = "cr"), data = dm)
  expect_equal(nobs(fit), nrow(d) - 7)
  expect_length(fitted(fit), nrow(d) - 7)
})

test_that("bad input gives a clear error naming the argument", {
  expect_error(gam_fit(y ~ s(nope), data = d), "nope", class = "warmgam_error_missing_variable")
  dc <- d
  dc$yc <- as.character(dc$y)
  expect_error(gam_fit(yc ~ s(x0), data = dc), "response", class = "warmgam_error_response")
  small <- d[1:30, ]
  small$x5 <- rep(1:5, 6)
  expect_error(gam_fit(y ~ s(x5, bs = "cr", k = 8), data = small), "k = 8.*5 unique", class = "warmgam_error_basis")
  expect_error(gam_fit(y ~ s(x0, k = 25) + s(x1, k = 25), data = d[1:30, ]), "coefficients", class = "warmgam_error_data")
  expect_error(gam_fit(y ~ s(x0), data = d, weights = -d$w), "weights", class = "warmgam_error_weights")
  expect_error(gam_fit(y ~ s(x0), data = d, weights = replace(d$w, 3, Inf)), "weights", class = "warmgam_error_weights")
  expect_error(gam_fit(y ~ s(x0, bs = "zz"), data = d), "bs", class = "warmgam_error_basis")
  expect_error(gam_fit(y ~ s(x0), data = d, method = "PQL"), "method", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x0), data = d, family = binomial(link = "identity")), "link", class = "warmgam_error_family")
  expect_error(gam_fit(y ~ s(x0), data = d, family = "nofamily"), "family", class = "warmgam_error_family")
  di <- d
  di$x0[2] <- Inf
  expect_error(gam_fit(y ~ s(x0), data = di), "x0", class = "warmgam_error_non_finite")
  expect_error(gam_fit(y ~ s(x0), data = d, cache = "maybe"), "cache", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x0), data = d, sp = 1:3), "sp", class = "warmgam_error_argument")
})

test_that("extreme inputs end in a clear R error, not a panic or an abort (issue 15)", {
  set.seed(2)
  d <- data.frame(x = runif(300))
  d$y <- sin(6 * d$x) + rnorm(300, sd = 0.3)
  scaled <- function(column, by) {
    out <- d
    out[[column]] <- out[[column]] * by
    out
  }
  # Before: a panic in lanczos.rs / linalg.rs with a backtrace on the console, or
  # "not identifiable"; now the message says what about the data is wrong.
  for (bs in c("tp", "cr", "ps", "cc")) {
    f <- stats::as.formula(sprintf("y ~ s(x, bs = '%s')", bs))
    expect_error(gam_fit(f, data = scaled("x", 1e-300), cache = FALSE), "too small a scale", class = "warmgam_error_range")
    expect_error(gam_fit(f, data = scaled("x", 1e300), cache = FALSE), "too large a scale", class = "warmgam_error_range")
  }
  # Before: fitted silently wrong (edf 3.6 for 8.4) with converged = TRUE.
  expect_error(gam_fit(y ~ s(x), data = scaled("y", 1e155), cache = FALSE), "rescale the response",
               class = "warmgam_error_range")
  # A scale that double precision carries is fitted, equivariantly.
  base <- gam_fit(y ~ s(x), data = d, cache = FALSE)
  big <- gam_fit(y ~ s(x), data = scaled("y", 1e100), cache = FALSE)
  expect_lt(max(abs(big$fitted.values / 1e100 - base$fitted.values)), 1e-6 * max(abs(base$fitted.values)))
  # Before: R aborted allocating an 80 GB matrix.
  wide <- data.frame(x = runif(2e5))
  wide$y <- rnorm(2e5)
  expect_error(gam_fit(y ~ s(x, bs = "cr", k = 1e5), data = wide, cache = FALSE), "GiB of memory",
               class = "warmgam_error_memory")
})

test_that("no rows to fit is an error saying why, before the engine", {
  # Before, these reached the engine: "`s(x0)` has k = 10 but its covariate has only
  # 0 unique values" for no rows, "not identifiable ... aliased parametric terms" for
  # zero weights.
  expect_error(gam_fit(y ~ s(x0), data = d[0, ]), "`data` has no rows", class = "warmgam_error_data")
  dn <- d
  dn$y <- NA_real_
  expect_error(gam_fit(y ~ s(x0), data = dn), "No rows left .* `y` is missing \\(NA\\) in every row",
               class = "warmgam_error_data")
  dn <- d
  dn$y[1:200] <- NA
  dn$x0[201:400] <- NA
  expect_error(gam_fit(y ~ s(x0) + x1, data = dn), "missing values in `y`, `x0`: no row has all of them",
               class = "warmgam_error_data")
  expect_error(gam_fit(y ~ s(x0), data = d, weights = rep(NA_real_, nrow(d))), "`weights` is missing",
               class = "warmgam_error_data")
  expect_error(gam_fit(y ~ s(x0), data = d, weights = rep(0, nrow(d))), "All `weights` are zero",
               class = "warmgam_error_weights")
  dw <- d
  dw$w[1:200] <- 0
  dw$y[201:400] <- NA
  expect_error(gam_fit(y ~ s(x0), data = dw, weights = w), "zero \\(in the rows without missing values\\)",
               class = "warmgam_error_weights")
})

test_that("sp is taken per margin for tensor products (te() was refused)", {
  set.seed(4)
  d <- data.frame(x = runif(300), z = runif(300))
  d$y <- sin(4 * d$x) * cos(3 * d$z) + rnorm(300, sd = 0.2)
  est <- gam_fit(y ~ te(x, z), data = d, cache = FALSE)
  fixed <- gam_fit(y ~ te(x, z), data = d, sp = unname(est$sp), cache = FALSE)
  expect_lt(rel_diff(fixed$fitted.values, est$fitted.values), 1e-8) # the same point
  expect_error(gam_fit(y ~ te(x, z), data = d, sp = 1, cache = FALSE), "sp has 1 entries")
})
