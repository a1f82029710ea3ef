# as_mgcv(): mgcv's own "gam" object at warmgam's smoothing parameters gives
# warmgam's predictions, standard errors, fitted values and edf, and mgcv's tools
# run on it.

mgcv_case_data <- function(n = 400, seed = 2) {
  d <- sim_data(n, seed)
  set.seed(seed + 1)
  d$g <- factor(sample(letters[1:8], n, replace = TRUE))
  d$y <- d$y + as.numeric(d$g) / 3
  mu <- exp((d$f - 5) / 4 + 1)
  d$yp <- stats::rpois(n, mu)
  d$yb <- stats::rbinom(n, 1, stats::plogis((d$f - 7) / 2))
  d$yg <- stats::rgamma(n, shape = 3, rate = 3 / mu)
  d$ynb <- stats::rnbinom(n, mu = mu, size = 2)
  d$ytw <- vapply(stats::rpois(n, mu * 0.8), function(k) sum(stats::rgamma(k, 2, 2)), 0)
  d$t <- stats::runif(n, 1, 3)
  d$yo <- stats::rpois(n, mu * d$t)
  d$tot <- sample(5:15, n, replace = TRUE)
  d$succ <- stats::rbinom(n, d$tot, stats::plogis((d$f - 7) / 2))
  d
}

# Predictions (link scale, with standard errors), fitted values and total edf of
# as_mgcv(fit) against the warmgam fit's. Measured (mgcv 1.8-41): predictions,
# fitted values and se agree to 1e-10 or better, edf to 1e-8, in every case below.
expect_as_mgcv_agrees <- function(fit, newdata, label, tol = 1e-8, se_tol = 1e-6, edf_tol = 1e-6, crit_tol = 1e-8) {
  g <- as_mgcv(fit)
  expect_s3_class(g, "gam")
  p <- predict(fit, newdata, se.fit = TRUE)
  q <- mgcv::predict.gam(g, newdata, se.fit = TRUE)
  expect_lt(rel_diff(q$fit, p$fit), tol, label = paste(label, "predict"))
  expect_lt(rel_diff(q$se.fit, p$se.fit), se_tol, label = paste(label, "se"))
  expect_lt(rel_diff(fitted(g), fitted(fit)), tol, label = paste(label, "fitted"))
  expect_lt(abs(sum(g$edf) - sum(fit$edf)), edf_tol, label = paste(label, "edf"))
  expect_equal(g$sp, fit$sp, tolerance = 1e-12)
  expect_lt(abs(unname(g$gcv.ubre) - unname(fit$criterion)) / abs(unname(fit$criterion)), crit_tol,
            label = paste(label, "criterion"))
  invisible(g)
}

# summary.gam(), gam.check() and plot.gam() run on the object (on a temporary pdf
# device; gam.check() prints its report, captured here).
expect_mgcv_tools_run <- function(g) {
  path <- tempfile(fileext = ".pdf")
  grDevices::pdf(path)
  on.exit({
    grDevices::dev.off()
    unlink(path)
  }, add = TRUE)
  expect_s3_class(summary(g), "summary.gam")
  expect_error(utils::capture.output(mgcv::gam.check(g)), NA)
  expect_error(plot(g, pages = 1, all.terms = TRUE), NA)
}

test_that("as_mgcv() gives warmgam's predictions for every term class", {
  skip_if_not_installed("mgcv")
  d <- mgcv_case_data()
  nd <- new_points(d)
  cases <- list(
    tp = y ~ s(x0) + s(x1) + s(x2) + x3,
    ts = y ~ s(x0, bs = "ts") + s(x2, bs = "ts"),
    cr = y ~ s(x0, bs = "cr") + s(x2, bs = "cr"),
    cc_ps = y ~ s(x0, bs = "cc") + s(x2, bs = "ps"),
    re = y ~ s(x2) + s(g, bs = "re"),
    # mgcv's "fs" null-space basis is set by rounding (see ?s): exact for m = 1.
    fs = y ~ s(x2, g, bs = "fs", m = 1),
    te = y ~ te(x0, x2),
    ti = y ~ s(x0) + s(x2) + ti(x0, x2),
    factor_by = y ~ fac + s(x2, by = fac),
    numeric_by = y ~ s(x2, by = x1),
    id = y ~ s(x0, id = 1) + s(x1, id = 1),
    log_response = log(yg) ~ s(x0) + fac,
    # The classes built natively since (issue 18).
    cp_bs = y ~ s(x0, bs = "cp") + s(x2, bs = "bs", m = c(3, 2, 1)),
    gp = y ~ s(x2, bs = "gp", k = 20),
    sz = y ~ s(x2) + s(g, x2, bs = "sz", k = 5),
    ds = y ~ s(x0, x2, bs = "ds", k = 20),
    sos = y ~ s(lat, lon, bs = "sos", k = 20),
    ad = y ~ s(x2, bs = "ad", k = 20) + s(x0, bs = "ad", xt = list(bs = "cc"), k = 20),
    ad_2d = y ~ s(x0, x2, bs = "ad", k = 7),
    te_cp_bs = y ~ te(x0, x2, bs = c("cp", "bs"))
  )
  d$lat <- d$x1 * 160 - 80
  d$lon <- d$x3 * 360 - 180
  nd$lat <- nd$x1 * 160 - 80
  nd$lon <- nd$x3 * 360 - 180
  for (label in names(cases)) {
    fit <- gam_fit(cases[[label]], data = d, cache = FALSE)
    # (mgcv warns that it leaves a cyclic margin's parameterization as it is.)
    g <- withCallingHandlers(expect_as_mgcv_agrees(fit, nd, label), warning = function(w) {
      if (grepl("reparameterization unstable", conditionMessage(w))) invokeRestart("muffleWarning")
    })
    expect_mgcv_tools_run(g)
  }
  # A Gaussian process of two covariates: mgcv takes its basis from a Lanczos
  # iteration stopped at a tolerance, so its span differs from warmgam's by about
  # 1e-6 (measured: predictions 2e-6, se 3e-6, edf 3e-6, REML 1.2e-7).
  # as_mgcv() says so.
  fit <- gam_fit(y ~ s(x0, x2, bs = "gp", k = 20), data = d, cache = FALSE)
  expect_warning(expect_as_mgcv_agrees(fit, nd, "gp 2-d", tol = 1e-5, se_tol = 1e-5, edf_tol = 1e-5, crit_tol = 1e-6),
                 "\"gp\" terms of several covariates")
  # A Markov random field, full and reduced rank.
  data(columb, package = "mgcv", envir = environment())
  data(columb.polys, package = "mgcv", envir = environment())
  for (k in c(-1, 20)) {
    fit <- gam_fit(crime ~ s(district, bs = "mrf", k = k, xt = list(polys = columb.polys)), data = columb,
                   cache = FALSE)
    expect_as_mgcv_agrees(fit, columb[c(3, 9, 27), ], paste("mrf, k =", k))
  }
})

test_that("as_mgcv() gives warmgam's predictions for other families", {
  skip_if_not_installed("mgcv")
  d <- mgcv_case_data()
  nd <- new_points(d)
  cases <- list(
    poisson = list(yp ~ s(x0) + s(x2), stats::poisson()),
    binomial = list(yb ~ s(x0) + s(x2), stats::binomial()),
    binomial_cbind = list(cbind(succ, tot - succ) ~ s(x0) + s(x2), stats::binomial()),
    gamma_log = list(yg ~ s(x0) + s(x2), stats::Gamma(link = "log")),
    nb = list(ynb ~ s(x0) + s(x2), nb()),
    nb_fixed = list(ynb ~ s(x0) + s(x2), nb(theta = 2)),
    tw = list(ytw ~ s(x0) + s(x2), tw()),
    offset = list(yo ~ s(x0) + s(x2) + offset(log(t)), stats::poisson())
  )
  for (label in names(cases)) {
    fit <- gam_fit(cases[[label]][[1]], data = d, family = cases[[label]][[2]], cache = FALSE)
    g <- expect_as_mgcv_agrees(fit, nd, label)
    expect_mgcv_tools_run(g)
  }
})

test_that("as_mgcv() carries weights, offset, knots, select, gamma and dropped rows", {
  skip_if_not_installed("mgcv")
  d <- mgcv_case_data()
  nd <- new_points(d)
  fit <- gam_fit(y ~ s(x0) + s(x2), data = d, weights = w, cache = FALSE)
  expect_as_mgcv_agrees(fit, nd, "weights")
  d$prop <- d$succ / d$tot
  fit <- gam_fit(prop ~ s(x0) + s(x2), data = d, weights = tot, family = stats::binomial(), cache = FALSE)
  expect_as_mgcv_agrees(fit, nd, "binomial proportions")
  fit <- gam_fit(yo ~ s(x0) + s(x2), offset = log(t), data = d, family = stats::poisson(), cache = FALSE)
  expect_as_mgcv_agrees(fit, nd, "offset argument")
  fit <- gam_fit(y ~ s(x0) + s(x2) + s(x3), data = d, select = TRUE, cache = FALSE)
  expect_as_mgcv_agrees(fit, nd, "select")
  fit <- gam_fit(y ~ s(x0) + s(x2), data = d, gamma = 1.4, cache = FALSE)
  expect_as_mgcv_agrees(fit, nd, "gamma")
  kn <- list(x0 = seq(0, 1, length.out = 6))
  fit <- gam_fit(y ~ s(x0, bs = "cr", k = 6) + s(x2), data = d, knots = kn, cache = FALSE)
  expect_as_mgcv_agrees(fit, nd, "knots")
  dd <- d
  dd$x0[c(3, 50)] <- NA
  fit <- gam_fit(y ~ s(x0) + s(x2), data = dd, cache = FALSE)
  g <- expect_as_mgcv_agrees(fit, nd, "dropped rows")
  expect_equal(nrow(g$model), nrow(dd) - 2L)
  fit <- gam_fit(y ~ warmgam::s(x0) + warmgam::te(x1, x2), data = d, cache = FALSE)
  expect_as_mgcv_agrees(fit, nd, "warmgam::s")
  fit <- gam_fit(y ~ s(x0) + s(x2), data = d, method = "ML", cache = FALSE)
  expect_as_mgcv_agrees(fit, nd, "ML")
})

test_that("mgcv's tools on as_mgcv(): vis.gam() and gam.vcomp() agree with gam_vcomp()", {
  skip_if_not_installed("mgcv")
  d <- mgcv_case_data()
  fit <- gam_fit(y ~ s(x0) + s(g, bs = "re"), data = d, cache = FALSE)
  g <- as_mgcv(fit)
  vc <- mgcv::gam.vcomp(g)
  ours <- gam_vcomp(fit)
  expect_equal(unname(vc$vc), unname(ours[names(fit$sp), "std.dev"]), tolerance = 1e-8)
  expect_equal(sqrt(g$reml.scale), unname(ours["scale", "std.dev"]), tolerance = 1e-8)
  fit <- gam_fit(y ~ te(x0, x2), data = d, cache = FALSE)
  path <- tempfile(fileext = ".pdf")
  grDevices::pdf(path)
  on.exit({
    grDevices::dev.off()
    unlink(path)
  })
  expect_error(mgcv::vis.gam(as_mgcv(fit), view = c("x0", "x2")), NA)
})

test_that("terms mgcv sets up by rounding warn that the fits differ", {
  skip_if_not_installed("mgcv")
  d <- mgcv_case_data()
  # mgcv's "cs" null-space penalty depends on LAPACK's choice of eigenvectors (see
  # test-bases.R): mgcv's fit at warmgam's smoothing parameters is ~1e-5 from
  # warmgam's, which as_mgcv() says.
  fit <- gam_fit(y ~ s(x2, bs = "cs"), data = d, cache = FALSE)
  expect_warning(g <- as_mgcv(fit), "differs from the warmgam fit")
  expect_lt(rel_diff(fitted(g), fitted(fit)), 1e-3)
})

test_that("as_mgcv() finds the data of a fit made in a function", {
  skip_if_not_installed("mgcv")
  d <- mgcv_case_data()
  nd <- new_points(d)
  # The model frame holds every variable: nothing is looked up.
  fit_in <- function(case_data) gam_fit(y ~ s(x0) + s(x2) + fac, data = case_data, cache = FALSE)
  expect_as_mgcv_agrees(fit_in(d), nd, "function")
  # An offset expression is not in the model frame as a variable: the call's data
  # (`case_data`, in the function's environment, which the formula keeps) is used.
  fit_in <- function(case_data) gam_fit(yo ~ s(x0) + offset(log(t)), data = case_data, family = stats::poisson(), cache = FALSE)
  expect_as_mgcv_agrees(fit_in(d), nd, "function, offset")
  fit <- fit_in(d)
  environment(fit$formula) <- new.env(parent = globalenv())
  expect_error(as_mgcv(fit), "as_mgcv\\(fit, data = \\)", class = "warmgam_error_argument")
  g <- as_mgcv(fit, data = d)
  expect_lt(rel_diff(fitted(g), fitted(fit)), 1e-8)
})

test_that("as_mgcv() refuses what is not a warmgam fit, and data it cannot use", {
  skip_if_not_installed("mgcv")
  d <- mgcv_case_data()
  expect_error(as_mgcv(stats::lm(y ~ x0, data = d)), "warmgam fit", class = "warmgam_error_argument")
  expect_error(as_mgcv(list()), "warmgam fit", class = "warmgam_error_argument")
  fit <- gam_fit(yo ~ s(x0) + offset(log(t)), data = d, family = stats::poisson(), cache = FALSE)
  expect_error(as_mgcv(fit, data = d[1:10, ]), "rows", class = "warmgam_error_argument")
  expect_error(as_mgcv(fit, data = "d"), "data frame", class = "warmgam_error_argument")
})
