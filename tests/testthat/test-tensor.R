# Tensor product smooths, te() and ti(), against mgcv.

tensor_data <- function(n = 500, seed = 2) {
  set.seed(seed)
  d <- gam_sim(2, n = n, scale = 0.1)$data
  d$x3 <- runif(n)
  d$fac <- factor(sample(c("a", "b", "c"), n, replace = TRUE))
  d
}

# Fitted values, edf, criterion, smoothing parameters (log scale, those not at a
# bound) and predictions with standard errors at new data, at the issue's tolerances.
# `key` names the mgcv reference (fixtures/tensor.rds).
expect_tensor_agrees <- function(key, f, d, method = "REML", family = gaussian(), sp_tol = 1e-3) {
  fit <- gam_fit(f, data = d, method = method, family = family)
  ref <- mgcv_reference(paste0("tensor/", key), f, d, method = method, family = family)
  label <- deparse_one(f)
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5, label = paste(label, "fitted"))
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3, label = paste(label, "edf"))
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-5, label = paste(label, "criterion"))
  expect_equal(names(fit$sp), names(ref$sp))
  # A parameter mgcv leaves above e^12 is a term at its bound (fully penalized):
  # the criterion is flat there and the value arbitrary.
  inner <- log(ref$sp) < 12
  expect_lt(max(abs(log(fit$sp[inner]) - log(ref$sp[inner]))), sp_tol, label = paste(label, "sp"))
  nd <- d[1:40, ]
  set.seed(5)
  nd$x <- runif(40)
  nd$z <- runif(40)
  p <- predict(fit, nd, se.fit = TRUE)
  q <- predict(ref, nd, se.fit = TRUE)
  expect_lt(rel_diff(p$fit, q$fit), 1e-5, label = paste(label, "prediction"))
  expect_lt(rel_diff(p$se.fit, q$se.fit), 1e-4, label = paste(label, "se"))
  invisible(list(fit = fit, ref = ref))
}

test_that("te() with each marginal basis agrees with mgcv", {
  local_store()
  d <- tensor_data()
  out <- expect_tensor_agrees("te-cr", y ~ te(x, z), d)
  # Same basis as mgcv (cr margins, mgcv's constraint): the coefficients agree too.
  expect_lt(rel_diff(coef(out$fit), coef(out$ref)), 1e-5)
  expect_tensor_agrees("te-cr-ps", y ~ te(x, z, k = c(6, 7), bs = c("cr", "ps")), d)
  expect_tensor_agrees("te-tp-cc", y ~ te(x, z, bs = c("tp", "cc")), d)
  expect_tensor_agrees("te-ps", y ~ te(x, z, bs = "ps", m = 2, k = 6), d)
  expect_tensor_agrees("te-cr-ML", y ~ te(x, z), d, method = "ML")
  # A two-dimensional thin plate margin (d) times a cubic spline.
  expect_tensor_agrees("te-tp2d-cr", y ~ te(x, z, x3, d = c(2, 1), bs = c("tp", "cr"), k = c(12, 5)), d)
})

test_that("cyclic P-spline and B-spline margins are built natively and agree with mgcv", {
  local_store()
  d <- tensor_data()
  # A "cp" margin is not reparameterized (its values at both ends of the range are
  # one point of the cycle: mgcv warns and skips it too); a "bs" margin is.
  cases <- list(
    list(key = "te-cp-cr", f = y ~ te(x, z, bs = c("cp", "cr"))),
    list(key = "te-bs", f = y ~ te(x, z, bs = c("bs", "ps"), m = c(2, 2), k = c(8, 6))),
    list(key = "ti-cp-bs", f = y ~ s(x, bs = "cp") + s(z) + ti(x, z, bs = c("cp", "bs")))
  )
  for (cs in cases) {
    out <- suppressWarnings(expect_tensor_agrees(cs$key, cs$f, d))
    expect_false(any(vapply(out$fit$smooth, function(sm) identical(sm$class, "mgcv"), TRUE)))
  }
  # Several penalties on a "bs" margin (a list `m`) are mgcv's to build.
  expect_equal(te(x, z, bs = "bs", m = list(c(3, 2, 1), 2))$bs, "mgcv")
})

test_that("a reparameterized margin's penalty keeps its rank: the criterion is mgcv's", {
  # ti(x, z, bs = c("ps", "cr")): the P-spline margin's values parameterization is
  # ill-conditioned, and its smallest genuine penalty eigenvalue is 1e-9 of the
  # largest. warmgam counted it as zero (rank 23 for mgcv's 24), so its criterion
  # missed a log(lambda_1)/2 (2.2 at sp = c(1, 1)) and moved the optimum. The rank
  # is now found as mgcv's totalPenaltySpace finds it.
  set.seed(3)
  d <- data.frame(x = runif(800), z = runif(800))
  d$y <- sin(3 * d$x) * cos(2 * d$z) + rnorm(800) * 0.2
  f <- y ~ ti(x, z, bs = c("ps", "cr"), k = 6)
  # (np = FALSE has mgcv build the term; its two penalties take two values of `sp`,
  # which gam_fit() refused before, counting one per term.)
  f_np <- y ~ ti(x, z, bs = c("ps", "cr"), k = 6, np = FALSE)
  fit_np <- gam_fit(f_np, data = d, sp = c(1, 1), cache = FALSE)
  expect_equal(fit_np$smooth[[1]]$class, "mgcv")
  ref_np <- mgcv_reference("tensor/ti-ps-cr-np-false", f_np, d, method = "REML", sp = c(1, 1))
  expect_lt(abs(fit_np$criterion - ref_np$gcv.ubre), 1e-6)
  for (sp in list(c(1, 1), c(25.9, 6944), c(1000, 0.001))) {
    fit <- gam_fit(f, data = d, sp = sp, cache = FALSE)
    ref <- mgcv_reference(sprintf("tensor/ti-ps-cr-sp%g", sp[1]), f, d, method = "REML", sp = sp)
    expect_lt(abs(fit$criterion - ref$gcv.ubre), 1e-6, label = paste("sp", sp[1]))
    expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6, label = paste("sp", sp[1]))
  }
})

test_that("Gaussian process margins are built natively and agree with mgcv", {
  local_store()
  d <- tensor_data()
  # One-dimensional gp margins are reparameterized as mgcv's (np = TRUE); their `m`
  # (correlation function, range, power) comes per margin in a list.
  cases <- list(
    list(key = "te-gp", f = y ~ te(x, z, bs = "gp", k = 6)),
    list(key = "te-gp-m-cr", f = y ~ te(x, z, bs = c("gp", "cr"), k = 6, m = list(c(2, 0.5, 1), NA))),
    list(key = "ti-gp-cr", f = y ~ s(x) + s(z) + ti(x, z, bs = c("gp", "cr"), k = 6))
  )
  for (cs in cases) {
    out <- expect_tensor_agrees(cs$key, cs$f, d)
    expect_false(any(vapply(out$fit$smooth, function(sm) identical(sm$class, "mgcv"), TRUE)))
    # At mgcv's smoothing parameters: the same model.
    at <- gam_fit(cs$f, data = d, sp = out$ref$sp)
    expect_lt(rel_diff(fitted(at), fitted(out$ref)), 1e-7, label = cs$key)
    expect_lt(abs(at$criterion - out$ref$gcv.ubre) / abs(out$ref$gcv.ubre), 1e-9, label = cs$key)
  }
  # A two-dimensional gp margin (mgcv's Lanczos basis, which stops at a tolerance,
  # so coefficients are not comparable): at given smoothing parameters the fit is
  # mgcv's. Searched, one parameter runs toward its upper bound while the other is
  # near zero (a ratio of 1e8: both packages' numbers are limited by conditioning
  # there); mgcv's own criterion at warmgam's smoothing parameters is its own
  # optimum's to 1e-8 (relative), and the fits agree to 1e-3.
  f2 <- y ~ te(x, z, x3, d = c(2, 1), bs = c("gp", "cr"), k = c(20, 5))
  for (sp in list(c(1, 1), c(0.01, 100))) {
    at <- gam_fit(f2, data = d, sp = sp)
    ref_at <- mgcv_reference(sprintf("tensor/te-gp2d-cr-sp%g", sp[1]), f2, d, method = "REML", sp = sp)
    expect_lt(rel_diff(fitted(at), fitted(ref_at)), 1e-7)
    expect_lt(abs(at$criterion - ref_at$gcv.ubre) / abs(ref_at$gcv.ubre), 1e-9)
  }
  fit2 <- gam_fit(f2, data = d)
  expect_false(any(vapply(fit2$smooth, function(sm) identical(sm$class, "mgcv"), TRUE)))
  ref2 <- mgcv_reference("tensor/te-gp2d-cr", f2, d, method = "REML")
  at_ours <- mgcv_reference("tensor/te-gp2d-cr-at-warmgam", f2, d, method = "REML", sp = signif(fit2$sp, 6))
  expect_lt((at_ours$gcv.ubre - ref2$gcv.ubre) / abs(ref2$gcv.ubre), 1e-8)
  expect_lt(rel_diff(fitted(fit2), fitted(ref2)), 1e-3)
  # The margin's settings are part of the model: another range is another fit, not
  # the store's exact hit.
  other <- gam_fit(y ~ te(x, z, bs = c("gp", "cr"), k = 6, m = list(c(2, 0.7, 1), NA)), data = d)
  expect_false(identical(other$warm_start$source, "exact"))
  again <- gam_fit(cases[[2]]$f, data = d)
  expect_equal(again$warm_start$source, "exact")
  expect_identical(predict(again, d[1:10, ]), predict(gam_fit(cases[[2]]$f, data = d, cache = FALSE), d[1:10, ]))
  expect_error(gam_fit(y ~ te(x, z, bs = "gp", m = list(7, NA)), data = d, cache = FALSE), "type 1 to 5")
})

test_that("Markov random field margins are built natively and agree with mgcv", {
  local_store()
  data(columb, package = "mgcv", envir = environment())
  data(columb.polys, package = "mgcv", envir = environment())
  set.seed(4)
  st <- do.call(rbind, lapply(1:6, function(yr) {
    data.frame(district = columb$district, year = yr + runif(49, -0.3, 0.3),
               crime = columb$crime * (1 + 0.3 * sin(yr * (1 + as.numeric(columb$district) / 49))) + rnorm(49) * 3)
  }))
  nb <- mgcv:::pol2nb(columb.polys)$nb
  nd <- st[c(2, 77, 150, 290), ]
  nd$year <- c(1.5, 2.5, 4.1, 5.9)
  # Full rank (xt for every margin, read by the mrf one), reduced rank (xt per
  # margin), and the interaction alone: fitted values, REML (a reduced basis keeps
  # its null direction in a tensor product, so its scale is mgcv's) and predictions.
  cases <- list(
    list(key = "te-mrf", f = crime ~ te(district, year, bs = c("mrf", "cr"), k = c(49, 5), xt = list(polys = columb.polys))),
    list(key = "te-mrf-reduced", f = crime ~ te(district, year, bs = c("mrf", "cr"), k = c(20, 5), xt = list(list(nb = nb), NULL))),
    list(key = "ti-mrf", f = crime ~ s(district, bs = "mrf", xt = list(nb = nb)) + s(year) +
           ti(district, year, bs = c("mrf", "cr"), k = c(15, 5), xt = list(nb = nb)))
  )
  for (cs in cases) {
    fit <- gam_fit(cs$f, data = st)
    expect_false(any(vapply(fit$smooth, function(sm) identical(sm$class, "mgcv"), TRUE)))
    ref <- mgcv_reference(paste0("tensor/", cs$key), cs$f, st, method = "REML")
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-6, label = cs$key)
  }
  # The store rebuilds the term; new data name regions, and one the fit does not
  # know is an error naming the term.
  again <- gam_fit(cases[[2]]$f, data = st)
  expect_equal(again$warm_start$source, "exact")
  expect_equal(predict(again, nd), predict(fit <- gam_fit(cases[[2]]$f, data = st, cache = FALSE), nd),
               tolerance = 1e-10)
  bad <- nd
  bad$district <- factor(c("1", "2", "999", "3"))
  expect_error(predict(fit, bad), "te\\(district,year\\).*999")
  # plot() has no surface to draw for it, and draws the rest.
  path <- tempfile(fileext = ".pdf")
  grDevices::pdf(path)
  on.exit({ grDevices::dev.off(); unlink(path) }, add = TRUE)
  expect_error(plot(gam_fit(cases[[3]]$f, data = st), pages = 1), NA)
  # An xt a thin plate margin would read is mgcv's to build.
  expect_equal(te(district, year, bs = c("mrf", "tp"), xt = list(nb = nb))$bs, "mgcv")
  expect_error(te(district, year, bs = c("mrf", "cr")), "needs its geography", class = "warmgam_error_argument")
  expect_error(predict(fit, bad), class = "warmgam_error_newdata")
})

test_that("ti() leaves out the main effects, as mgcv's", {
  local_store()
  d <- tensor_data()
  out <- expect_tensor_agrees("ti", y ~ s(x) + s(z) + ti(x, z), d)
  # Each ti margin is centred (k - 1 columns each) and the product takes no further
  # constraint: (5 - 1) x (5 - 1) coefficients, as mgcv's.
  sm <- out$fit$smooth[["ti(x,z)"]]
  expect_equal(sm$last - sm$first + 1, 16)
  expect_equal(length(coef(out$fit)), length(coef(out$ref)))
  expect_tensor_agrees("ti-ps-tp", y ~ ti(x, z, bs = c("ps", "tp")) + s(x, bs = "cr"), d)
})

test_that("te() with a factor by, and generalized families", {
  local_store()
  d <- tensor_data()
  expect_tensor_agrees("te-by", y ~ fac + te(x, z, by = fac, k = 4) + ti(x, x3), d)
  set.seed(7)
  d$count <- rpois(nrow(d), exp(1 + d$f))
  d$yes <- rbinom(nrow(d), 1, stats::plogis(2 * d$f - 1))
  expect_tensor_agrees("te-poisson", count ~ te(x, z, k = 5), d, family = poisson())
  # Here two of the three parameters go to their upper bound (warmgam stops a
  # generalized fit's at e^20 above the start, mgcv goes on to e^26): the remaining
  # one then differs by ~5e-3 on the log scale while the fit agrees to 2e-6.
  expect_tensor_agrees("te-binomial", yes ~ te(x, z, k = 4) + s(x3), d, family = binomial(), sp_tol = 1e-2)
})

test_that("tensor terms predict by type, plot, summarize and check as mgcv", {
  local_store()
  d <- tensor_data()
  f <- y ~ te(x, z, k = c(5, 6)) + s(x3)
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("tensor/methods", f, d, method = "REML")
  nd <- d[10:30, ]
  lp <- predict(fit, nd, type = "lpmatrix")
  expect_lt(max(abs(drop(lp %*% coef(fit)) - predict(fit, nd))), 1e-10)
  mine <- predict(fit, nd, type = "terms", se.fit = TRUE)
  theirs <- predict(ref, nd, type = "terms", se.fit = TRUE)
  expect_lt(rel_diff(mine$fit[, "te(x,z)"], theirs$fit[, "te(x,z)"]), 1e-5)
  expect_lt(rel_diff(mine$se.fit[, "te(x,z)"], theirs$se.fit[, "te(x,z)"]), 1e-4)
  st_mine <- summary(fit)$s.table
  st_theirs <- summary(ref)$s.table
  expect_lt(rel_diff(st_mine["te(x,z)", "F"], st_theirs["te(x,z)", "F"]), 1e-4)
  expect_lt(rel_diff(st_mine["te(x,z)", "edf"], st_theirs["te(x,z)", "edf"]), 1e-4)
  # k_check scales a tensor's covariates by the fitted slopes, as mgcv's k.check.
  expect_lt(abs(k_check(fit)["te(x,z)", "k-index"] - mgcv_call("k.check", ref)["te(x,z)", "k-index"]), 1e-2)
  path <- tempfile(fileext = ".png")
  grDevices::png(path)
  panels <- plot(fit, pages = 1)
  grDevices::dev.off()
  heat <- panels[[1]]
  expect_equal(nrow(heat$data), 40^2)
  pred <- predict(fit, heat$data, type = "terms", se.fit = TRUE)
  expect_lt(max(abs(heat$fit - pred$fit[, "te(x,z)"])), 1e-8)
  expect_lt(max(abs(heat$se - pred$se.fit[, "te(x,z)"])), 1e-8)
})

test_that("the store keeps tensor bases: an exact hit predicts as the fit did", {
  local_store()
  d <- tensor_data()
  f <- y ~ te(x, z, bs = c("ps", "tp"), k = 5) + ti(x, x3)
  cold <- gam_fit(f, data = d)
  again <- gam_fit(f, data = d)
  expect_identical(again$warm_start$source, "exact")
  nd <- d[1:25, ]
  expect_identical(predict(again, nd, se.fit = TRUE), predict(cold, nd, se.fit = TRUE))
  # A different margin basis is a different model: another key.
  other <- gam_fit(y ~ te(x, z, bs = c("cr", "tp"), k = 5) + ti(x, x3), data = d)
  expect_identical(other$warm_start$source, "cold")
})

test_that("tensor terms reject margins that do not match their covariates", {
  d <- tensor_data(100)
  expect_error(gam_fit(y ~ te(x, z, k = c(4, 5, 6)), data = d), "`k` of `te\\(x,z\\)`", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ te(x, z, bs = c("cr", "ps", "tp")), data = d), "`bs` of `te\\(x,z\\)`",
               class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ te(x, z, x3, d = c(2, 2)), data = d), "`d` of `te\\(x,z,x3\\)`",
               class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ ti(x, z, x3, d = c(2, 1), bs = "cc"), data = d), "several covariates",
               class = "warmgam_error_basis")
  # A margin class warmgam has no native tensor code for is built by mgcv's te().
  expect_equal(gam_fit(y ~ te(x, z, bs = "re"), data = d, cache = FALSE)$smooth[[1]]$class, "mgcv")
  # As mgcv's te(): a k below 3 resets every margin to the default, with a warning.
  expect_warning(fit <- gam_fit(y ~ te(x, z, k = 2), data = d), "reset to the default")
  expect_equal(length(coef(fit)), 25)
  # t2() is built by mgcv's constructor (test-mgcv-built.R).
  expect_equal(gam_fit(y ~ t2(x, z), data = d, cache = FALSE)$smooth[[1]]$class, "mgcv")
})

test_that("ts margins, multi-covariate margins of a 1-d class and cc knot ranges are mgcv's", {
  local_store()
  d <- tensor_data()
  d$doy <- rep_len(c(1:365, 200:50), nrow(d))
  nd <- d[1:30, ]
  # Tolerances: 1e-6 relative in fitted values, predictions and criterion (1e-5 where a
  # margin is thin plate: its basis is mgcv's up to column signs).
  cases <- list(
    list(key = "ts-margin", f = y ~ te(x, z, bs = c("ts", "cr"), k = c(6, 5)), tol = 1e-5),
    # As mgcv's te(), a "cr" margin of two covariates is a thin plate spline.
    list(key = "cr-2d-margin", f = y ~ te(x, z, x3, d = c(2, 1)), tol = 1e-5),
    # Two knots for a cyclic spline are the ends of its cycle (mgcv places the rest).
    list(key = "cc-range", f = y ~ s(doy, bs = "cc") + s(x), knots = list(doy = c(0.5, 365.5)), tol = 1e-5),
    list(key = "cc-range-margin", f = y ~ te(doy, x, bs = c("cc", "cr")), knots = list(doy = c(0.5, 365.5)),
         tol = 1e-6)
  )
  for (cs in cases) {
    label <- deparse_one(cs$f)
    fit <- gam_fit(cs$f, data = d, knots = cs$knots)
    ref <- mgcv_reference(paste0("tensor/", cs$key), cs$f, d, knots = cs$knots, method = "REML")
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = cs$tol, label = label)
  }
  expect_equal(gam_fit(y ~ te(x, z, bs = "cs"), data = d, cache = FALSE)$smooth[[1]]$class, "mgcv")
})
