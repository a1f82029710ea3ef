# gam_fit()'s arguments from mgcv's gam() that choose rows and settings (issue 17):
# subset, na.action, drop.unused.levels, optimizer, control as a gam.control() list,
# scale; a one-column matrix response, several offsets, power links, and the
# default method in print(). Fitted values are compared with a tightly converged
# mgcv fit: 1e-6 relative for mgcv's own bases (cr), 1e-5 otherwise.

d <- sim_data(300, seed = 4)
d$x0[c(3, 10, 41)] <- NA
d$y[20] <- NA
nd <- new_points(sim_data(300, seed = 4))
f <- y ~ s(x0, bs = "cr") + s(x2, bs = "cr") + x3

test_that("subset keeps rows before rows with missing values are dropped, as mgcv", {
  fit <- gam_fit(f, data = d, subset = x1 > 0.25)
  ref <- mgcv_reference("gam-arguments/subset", f, d, subset = d$x1 > 0.25, method = "REML")
  expect_equal(nobs(fit), sum(d$x1 > 0.25 & stats::complete.cases(d[c("y", "x0", "x2", "x3")])))
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6) # cr bases: 1e-6
  expect_equal(names(fit$na.action), names(ref$na.action))
  # Row numbers and a subset computed outside `data` select the same rows.
  rows <- which(d$x1 > 0.25)
  expect_equal(fitted(gam_fit(f, data = d, subset = rows)), fitted(fit), tolerance = 1e-10)
  expect_error(gam_fit(f, data = d, subset = x1 > 2), "subset", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, subset = list(1)), "subset", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, subset = nothere > 0), "subset", class = "warmgam_error_argument")
})

test_that("na.exclude pads fitted, residuals and predict() with NA as mgcv; na.fail names the variable", {
  fit <- gam_fit(f, data = d, na.action = na.exclude)
  ref <- mgcv_reference("gam-arguments/na-exclude", f, d, na.action = stats::na.exclude, method = "REML")
  expect_length(fitted(fit), nrow(d))
  expect_equal(which(is.na(fitted(fit))), c(3L, 10L, 20L, 41L))
  expect_equal(is.na(fitted(fit)), is.na(fitted(ref)), ignore_attr = TRUE)
  kept <- !is.na(fitted(fit))
  expect_lt(rel_diff(fitted(fit)[kept], fitted(ref)[kept]), 1e-6) # cr bases: 1e-6
  expect_lt(rel_diff(coef(fit), coef(ref)), 1e-6)
  expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-6)
  for (type in c("deviance", "pearson", "working", "response")) {
    r <- residuals(fit, type = type)
    expect_equal(is.na(r), is.na(residuals(ref, type = type)), ignore_attr = TRUE)
    expect_lt(rel_diff(r[!is.na(r)], residuals(ref, type = type)[!is.na(r)]), 1e-6)
  }
  p <- predict(fit, se.fit = TRUE)
  q <- predict(ref, se.fit = TRUE)
  expect_equal(names(p$fit), names(q$fit))
  expect_equal(is.na(p$se.fit), is.na(q$se.fit), ignore_attr = TRUE)
  expect_lt(rel_diff(p$fit[!is.na(p$fit)], q$fit[!is.na(q$fit)]), 1e-6)
  expect_lt(rel_diff(p$se.fit[!is.na(p$fit)], q$se.fit[!is.na(q$fit)]), 1e-5)
  expect_equal(dim(predict(fit, type = "terms")), dim(predict(ref, type = "terms")))
  expect_equal(dim(model.matrix(fit)), c(nrow(d), length(coef(fit))))
  expect_length(weights(fit), nrow(d))
  expect_length(cooks.distance(fit), nrow(d))
  # The fit's rows only where mgcv has them, and internal users are unaffected.
  expect_length(hatvalues(fit), nobs(fit))
  expect_equal(unname(predict(fit, d[1:5, ])), unname(p$fit[1:5]))
  expect_output(gam_check(fit, plot = FALSE), "Basis dimension")
  expect_no_error(concurvity(fit))
  # na.omit (the default) and the name of a function are the same fit.
  omit <- gam_fit(f, data = d, na.action = "na.omit")
  expect_equal(fitted(omit), fitted(fit)[!is.na(fitted(fit))], ignore_attr = TRUE)
  expect_length(fitted(gam_fit(f, data = d)), nrow(d) - 4)
  expect_error(gam_fit(f, data = d, na.action = na.fail), "`y`, `x0` have missing values",
               class = "warmgam_error_missing_values")
  expect_error(gam_fit(f, data = d, na.action = na.pass), "na.action", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, na.action = "na.nothing"), "na.action", class = "warmgam_error_argument")
})

test_that("drop.unused.levels = FALSE keeps levels as mgcv", {
  dl <- sim_data(300, seed = 5)
  dl$fac <- factor(dl$fac, levels = c("a", "b", "c", "d"))
  fr <- y ~ s(x0, bs = "cr") + s(fac, bs = "re")
  fit <- gam_fit(fr, data = dl, drop.unused.levels = FALSE)
  ref <- mgcv_reference("gam-arguments/unused-level-re", fr, dl, drop.unused.levels = FALSE, method = "REML")
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6) # cr and re: mgcv's bases, 1e-6
  expect_equal(unname(coef(fit)[["s(fac).4"]]), 0)
  nd_d <- nd
  nd_d$fac <- factor(rep(c("a", "d"), length.out = nrow(nd)), levels = c("a", "b", "c", "d"))
  expect_lt(rel_diff(predict(fit, nd_d), predict(ref, nd_d)), 1e-6)
  # Without an empty level, FALSE is TRUE's fit.
  fp <- y ~ s(x0, bs = "cr") + fac
  dp <- sim_data(300, seed = 5)
  expect_equal(fitted(gam_fit(fp, data = dp, drop.unused.levels = FALSE)), fitted(gam_fit(fp, data = dp)))
  # An empty level of a parametric factor is an all-zero column: aliased, fixed at
  # zero as mgcv fixes it (test-aliased.R).
  expect_message(kept <- gam_fit(fp, data = dl, drop.unused.levels = FALSE), "`facd`")
  expect_equal(unname(coef(kept)[["facd"]]), 0)
  kept_ref <- mgcv_reference("gam-arguments/unused-level-parametric", fp, dl, drop.unused.levels = FALSE,
                             method = "REML")
  expect_lt(rel_diff(fitted(kept), fitted(kept_ref)), 1e-6) # cr basis: 1e-6
  expect_error(gam_fit(y ~ s(x0, by = fac), data = dl, drop.unused.levels = FALSE), "drop.unused.levels",
               class = "warmgam_error_argument")
  # A level emptied by `subset` is dropped by default, as mgcv.
  fs <- gam_fit(fp, data = dp, subset = fac != "b")
  rs <- mgcv_reference("gam-arguments/subset-drops-level", fp, dp, subset = dp$fac != "b", method = "REML")
  expect_equal(names(coef(fs)), names(coef(rs)))
  expect_lt(rel_diff(fitted(fs), fitted(rs)), 1e-6) # cr basis: 1e-6
  expect_error(gam_fit(fp, data = dp, drop.unused.levels = NA), "drop.unused.levels", class = "warmgam_error_argument")
})

test_that("every mgcv optimizer gives the same fit; others are errors", {
  dc <- sim_data(300, seed = 4)
  fit <- gam_fit(f, data = dc, cache = FALSE)
  optimizers <- list("efs", "perf", "outer", c("outer", "bfgs"), c("outer", "optim"), c("outer", "nlm"),
                     c("outer", "newton"))
  for (opt in optimizers) {
    other <- gam_fit(f, data = dc, optimizer = opt, cache = FALSE)
    expect_equal(fitted(other), fitted(fit))
    expect_equal(other$optimizer, opt)
  }
  ref <- mgcv_reference("gam-arguments/optimizer-bfgs", f, dc, method = "REML", optimizer = c("outer", "bfgs"))
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6) # cr bases: 1e-6
  # "efs" is REML only, in mgcv too.
  expect_warning(efs <- gam_fit(f, data = dc, method = "ML", optimizer = "efs"), "efs")
  expect_equal(efs$method, "REML")
  expect_error(gam_fit(f, data = dc, optimizer = "lbfgs"), "optimizer", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = dc, optimizer = c("outer", "magic")), "optimizer", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = dc, optimizer = 1), "optimizer", class = "warmgam_error_argument")
})

test_that("an mgcv gam.control() list maps what applies and warns once about the rest", {
  skip_if_not_installed("mgcv")
  dc <- sim_data(300, seed = 4)
  mapped <- warmgam:::resolve_control(mgcv::gam.control(newton = list(conv.tol = 1e-10, maxNstep = 3), nthreads = 3))
  expect_equal(mapped$control$outer_tol, 1e-10)
  expect_equal(mapped$control$max_step, 3)
  expect_equal(mapped$threads, 3)
  # mgcv's default conv.tol (1e-6) leaves warmgam's tighter default.
  expect_equal(warmgam:::resolve_control(mgcv::gam.control())$control, gam_control())
  expect_equal(warmgam:::resolve_control(list())$control, gam_control())
  noticed <- warmgam:::mgcv_control_noticed
  rm(list = ls(noticed), envir = noticed)
  ctl <- mgcv::gam.control(epsilon = 1e-10, maxit = 50, newton = list(conv.tol = 1e-10), keepData = TRUE)
  expect_warning(fit <- gam_fit(f, data = dc, control = ctl), "`epsilon`, `maxit`.*not used")
  expect_no_warning(gam_fit(f, data = dc, control = ctl))
  expect_warning(gam_fit(f, data = dc, control = list(trace = TRUE, epsilon = 1e-10)), "`trace`")
  expect_identical(fit$data, dc)
  expect_equal(fitted(fit), fitted(gam_fit(f, data = dc)), tolerance = 1e-7)
  expect_error(gam_fit(f, data = dc, control = list(foo = 1)), "control.*`foo`", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = dc, control = list(newton = list(conv.tol = -1))), "conv.tol",
               class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = dc, control = 1e-8), "control", class = "warmgam_error_argument")
})

test_that("scale: 0, negative and known (positive) values as mgcv", {
  dp <- sim_data(300, seed = 6)
  dp$count <- stats::rpois(300, exp(1 + sin(2 * pi * dp$x0)))
  fp <- count ~ s(x0, bs = "cr") + s(x2, bs = "cr")
  est <- gam_fit(fp, data = dp, family = poisson(), method = "GCV.Cp", scale = -1)
  ref <- mgcv_reference("gam-arguments/poisson-gcv-scale-estimated", fp, dp, family = poisson(), method = "GCV.Cp",
                        scale = -1)
  expect_agrees_with_mgcv(est, ref, nd, coef_tol = 1e-6, type = "response") # cr bases: 1e-6
  expect_true(est$scale.estimated)
  expect_equal(names(est$criterion), "GCV")
  expect_lt(abs(est$scale - ref$sig2) / ref$sig2, 1e-6)
  expect_equal(colnames(summary(est)$s.table)[[3]], "F")
  known <- gam_fit(fp, data = dp, family = poisson(), method = "GCV.Cp", scale = 1)
  expect_equal(names(known$criterion), "UBRE")
  # With REML the Poisson scale is 1 whatever `scale` says, as in mgcv.
  expect_warning(reml <- gam_fit(fp, data = dp, family = poisson(), scale = -1), "not used")
  expect_equal(fitted(reml), fitted(gam_fit(fp, data = dp, family = poisson())))
  g_est <- gam_fit(f, data = d, scale = -1)
  expect_equal(fitted(g_est), fitted(gam_fit(f, data = d)))
  expect_error(gam_fit(f, data = d, scale = "a"), "scale", class = "warmgam_error_argument")
  expect_error(gam_fit(fp, data = dp, family = tw(), scale = 2), "scale", class = "warmgam_error_argument")
})

test_that("a known scale (scale > 0) gives mgcv's REML, ML and UBRE fits", {
  # Gaussian: REML and ML with the scale fixed at 2; GCV.Cp becomes UBRE with it.
  for (method in c("REML", "ML", "GCV.Cp")) {
    fit <- gam_fit(f, data = d, method = method, scale = 2)
    ref <- mgcv_reference(paste0("gam-arguments/known-scale-", method), f, d, method = method, scale = 2)
    # cr bases: 1e-6; UBRE's minimum is shallow in coefficients that mgcv's magic()
    # stops short of (warmgam's UBRE is lower): 1e-5 there.
    expect_agrees_with_mgcv(fit, ref, nd, coef_tol = if (method == "GCV.Cp") 1e-5 else 1e-6, label = method)
    expect_lte(unname(fit$criterion), unname(ref$gcv.ubre) + 1e-10)
    expect_false(fit$scale.estimated)
    expect_equal(fit$scale, 2)
    expect_lt(rel_diff(fit$sp, ref$sp), 1e-4) # smoothing parameters: 1e-4
  }
  expect_equal(names(fit$criterion), "UBRE")
  expect_equal(colnames(summary(fit)$s.table)[[3]], "Chi.sq")
  # A Poisson fit by UBRE with scale 2, and a Gamma fit by REML with scale 0.5.
  dp <- sim_data(300, seed = 6)
  dp$count <- stats::rpois(300, exp(1 + sin(2 * pi * dp$x0) + dp$x2^2))
  dp$pos <- stats::rgamma(300, shape = 2, scale = exp(sin(2 * pi * dp$x0)) / 2)
  fp <- count ~ s(x0, bs = "cr") + s(x2, bs = "cr")
  fit <- gam_fit(fp, data = dp, family = poisson(), method = "GCV.Cp", scale = 2)
  ref <- mgcv_reference("gam-arguments/known-scale-poisson", fp, dp, family = poisson(), method = "GCV.Cp",
                        scale = 2)
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6, type = "response") # cr bases: 1e-6
  fg <- pos ~ s(x0, bs = "cr") + s(x2, bs = "cr")
  fit <- gam_fit(fg, data = dp, family = Gamma(link = "log"), scale = 0.5)
  ref <- mgcv_reference("gam-arguments/known-scale-gamma", fg, dp, family = Gamma(link = "log"),
                        method = "REML", scale = 0.5)
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6, type = "response") # cr bases: 1e-6
  expect_equal(fit$reml.scale, 0.5)
  # Another known scale is another model for the store: no exact hit across them.
  local_store()
  a <- gam_fit(f, data = d, scale = 2)
  b <- gam_fit(f, data = d, scale = 3)
  expect_false(identical(b$warm_start$source, "exact"))
  expect_gt(rel_diff(fitted(a), fitted(b)), 1e-6)
})

test_that("min.sp bounds the smoothing parameters as mgcv's does", {
  fm <- y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr") + x3
  floor <- c(0.5, 0, 20)
  for (method in c("REML", "GCV.Cp")) {
    fit <- gam_fit(fm, data = d, method = method, min.sp = floor)
    ref <- mgcv_reference(paste0("gam-arguments/min-sp-", method), fm, d, method = method, min.sp = floor)
    expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6, label = method) # cr bases: 1e-6
    # fit$sp is the part above the bound, as mgcv's sp. Where the bound
    # dominates (sp far below it) the criterion is flat in sp: compare the totals.
    expect_lt(rel_diff(fit$sp + floor, ref$sp + floor), 1e-4) # smoothing parameters: 1e-4
  }
  expect_error(gam_fit(fm, data = d, min.sp = c(1, 1)), "min.sp", class = "warmgam_error_spec")
  expect_error(gam_fit(fm, data = d, min.sp = c(1, -1, 1)), "min.sp", class = "warmgam_error_argument")
  expect_error(gam_fit(fm, data = d, min.sp = "a"), "min.sp", class = "warmgam_error_argument")
  local_store()
  a <- gam_fit(fm, data = d, min.sp = floor)
  b <- gam_fit(fm, data = d, min.sp = floor * 2)
  expect_false(identical(b$warm_start$source, "exact"))
})

test_that("a one-column matrix response is its vector; several offsets add up as in lm()", {
  dm <- sim_data(300, seed = 7)
  X <- cbind(1, dm$x1)
  dm$ym <- X %*% c(1, 2) + sin(2 * pi * dm$x0) + stats::rnorm(300, sd = 0.3)
  fit <- gam_fit(ym ~ s(x0, bs = "cr"), data = dm)
  dv <- dm
  dv$ym <- drop(dv$ym)
  ref <- mgcv_reference("gam-arguments/matrix-response", ym ~ s(x0, bs = "cr"), dv, method = "REML")
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6) # cr basis: 1e-6
  expect_error(gam_fit(cbind(ym, ym) ~ s(x0), data = dm), "response", class = "warmgam_error_response")
  # mgcv 1.8-41 keeps only the first offset() term of a formula (with a warning from
  # its parser), so its reference is the same model with the offsets in one term.
  dm$count <- stats::rpois(300, exp(1 + sin(2 * pi * dm$x0) + dm$x1 + dm$x3 / 4 + dm$z))
  fo <- count ~ s(x0, bs = "cr") + x2 + offset(x1) + offset(x3 / 4)
  fit_o <- gam_fit(fo, data = dm, family = poisson(), offset = z)
  ref_o <- mgcv_reference("gam-arguments/offsets", count ~ s(x0, bs = "cr") + x2 + offset(x1 + x3 / 4), dm,
                          family = poisson(), offset = dm$z, method = "REML")
  expect_lt(rel_diff(fitted(fit_o), fitted(ref_o)), 1e-6) # cr basis: 1e-6
  expect_equal(fit_o$offset, dm$x1 + dm$x3 / 4 + dm$z, ignore_attr = TRUE)
  # predict() adds the formula's offsets at the new data, not `offset`.
  ndo <- nd
  ndo$z <- 100
  expect_lt(rel_diff(predict(fit_o, ndo), predict(ref_o, ndo)), 1e-6)
  lp <- predict(fit_o, ndo, type = "lpmatrix")
  expect_equal(predict(fit_o, ndo), drop(lp %*% coef(fit_o)) + ndo$x1 + ndo$x3 / 4, ignore_attr = TRUE)
})

test_that("power links are fitted: as the link they equal, else as mu^lambda", {
  dg <- sim_data(300, seed = 8)
  dg$pos <- stats::rgamma(300, shape = 5, rate = 5 / (1 + 0.5 * sin(2 * pi * dg$x0))^2)
  fg <- pos ~ s(x0, bs = "cr") + s(x2, bs = "cr")
  cases <- list(
    gamma = list(Gamma(link = power(0.5)), Gamma(link = power(0.5))),
    quasi = list(quasi(link = power(0.5), variance = "mu^2"), quasi(link = power(0.5), variance = "mu^2")),
    identity = list(Gamma(link = power(1)), Gamma(link = "identity")),
    tweedie = list(quote(mgcv::Tweedie(1.5, link = power(0.5))), quote(mgcv::Tweedie(1.5, link = power(0.5)))),
    # mgcv's extended tw() takes power(0.5) but cannot fit it ("link not
    # implemented for extended families"): its reference is tw(link = "sqrt").
    tw = list(quote(mgcv::tw(link = power(0.5))), quote(mgcv::tw(link = "sqrt"))),
    # Other powers: mgcv's ?Tweedie example's power(0.1), and quasi's power(1/3).
    tweedie_tenth = list(quote(mgcv::Tweedie(1.25, link = power(0.1))), quote(mgcv::Tweedie(1.25, link = power(0.1)))),
    quasi_third = list(quasi(link = power(1 / 3), variance = "mu^2"), quasi(link = power(1 / 3), variance = "mu^2")),
    gamma_square = list(Gamma(link = power(2)), Gamma(link = power(2)))
  )
  for (label in names(cases)) {
    fam <- cases[[label]][[1]]
    if (is.call(fam)) {
      skip_if_not_installed("mgcv")
      fam <- eval(fam)
    }
    fit <- gam_fit(fg, data = dg, family = fam)
    ref <- mgcv_reference(paste0("gam-arguments/power-", label), fg, dg, family = cases[[label]][[2]], method = "REML")
    # cr bases: 1e-6. For power(1/3) mgcv's penalized IRLS stops short of its
    # optimum (at mgcv's smoothing parameters warmgam's penalized deviance is
    # 56.75202, mgcv's 56.7541): 1e-4 there (measured 2.4e-5).
    expect_lt(rel_diff(fitted(fit), fitted(ref)), if (label == "quasi_third") 1e-4 else 1e-6, label = label)
    expect_true(fit$family$link %in% c("sqrt", "identity", "mu^0.1", "mu^0.333", "mu^2"), label = label)
  }
  expect_equal(tw(link = power(0.5))$link, "sqrt")
  # A power given as a link object keeps all its digits (power()'s name has 3).
  expect_equal(tw(link = power(1 / 3))$link, "mu^0.33333333333333331")
  expect_error(gam_fit(y ~ s(x0), data = dg, family = binomial(link = power(0.5))), "power\\(0.5\\)",
               class = "warmgam_error_family")
})

test_that("print() says when REML was warmgam's default, which is not mgcv's", {
  dc <- sim_data(300, seed = 4)
  expect_output(print(gam_fit(f, data = dc)), "^\\s*Method: REML \\(mgcv's gam\\(\\) default is GCV.Cp\\)")
  expect_output(print(gam_fit(f, data = dc, method = "REML")), "Method: REML\\s+Family")
  expect_output(print(gam_fit(f, data = dc, method = "GCV.Cp")), "Method: GCV.Cp\\s+Family")
})

test_that("gam_cv() refuses subset and na.action, which its folds cannot take", {
  dc <- sim_data(300, seed = 4)
  expect_error(gam_cv(f, data = dc, folds = 2, subset = x1 > 0.5), "subset", class = "warmgam_error_argument")
  expect_error(gam_cv(f, data = dc, folds = 2, na.action = na.exclude), "na.action", class = "warmgam_error_argument")
})

test_that("as_mgcv() of a fit to a subset is mgcv's fit of it", {
  skip_if_not_installed("mgcv")
  dc <- sim_data(300, seed = 4)
  fl <- y ~ s(x0, bs = "cr") + log(x1)
  fit <- gam_fit(fl, data = dc, subset = x2 > 0.3, na.action = na.exclude)
  g <- as_mgcv(fit)
  expect_lt(rel_diff(g$fitted.values, fit$fitted.values), 1e-6)
  expect_equal(g$call$subset, quote(x2 > 0.3))
})

test_that("simulate() of a na.exclude fit has NA rows as mgcv's", {
  skip_if_not_installed("mgcv")
  fit <- gam_fit(f, data = d, na.action = na.exclude)
  g <- suppressWarnings(mgcv::gam(f, data = d, method = "REML", na.action = na.exclude, sp = fit$sp))
  s1 <- simulate(fit, nsim = 2, seed = 3)
  s2 <- simulate(g, nsim = 2, seed = 3)
  expect_equal(dim(s1), c(nrow(d), 2))
  expect_equal(is.na(s1$sim_1), is.na(s2$sim_1))
  expect_lt(rel_diff(na.omit(s1$sim_1), na.omit(s2$sim_1)), 1e-6)
})

test_that("in.out starts the search where mgcv's does, and changes nothing else", {
  local_store()
  d <- sim_data(400)
  f <- y ~ s(x0) + s(x1) + s(x2)
  cold <- gam_fit(f, data = d, cache = FALSE)
  # Far from the optimum, and at it: the same fit (1e-8 relative), reported as such.
  for (sp in list(c(100, 0.01, 1), cold$sp)) {
    fit <- gam_fit(f, data = d, cache = FALSE, in.out = list(sp = sp, scale = 4))
    expect_equal(fit$warm_start$source, "in.out")
    expect_lt(rel_diff(fitted(fit), fitted(cold)), 1e-8)
  }
  at_optimum <- gam_fit(f, data = d, cache = FALSE, in.out = list(sp = cold$sp))
  expect_lte(at_optimum$outer_iterations, 2)
  # A generalized family with an unknown scale starts its scale there too.
  dg <- d
  dg$y <- stats::rgamma(nrow(d), shape = 4, rate = 4 / exp(0.2 + sin(3 * d$x0)))
  g_cold <- gam_fit(y ~ s(x0), data = dg, family = Gamma(link = "log"), cache = FALSE)
  g_fit <- gam_fit(y ~ s(x0), data = dg, family = Gamma(link = "log"), cache = FALSE,
                   in.out = list(sp = 10, scale = 0.5))
  expect_lt(rel_diff(fitted(g_fit), fitted(g_cold)), 1e-7)
  # With the store: the given start comes before a seed, after this fit's own result.
  first <- gam_fit(f, data = d, in.out = list(sp = c(1, 1, 1)))
  expect_equal(first$warm_start$source, "in.out")
  expect_equal(gam_fit(f, data = d, in.out = list(sp = c(1, 1, 1)))$warm_start$source, "exact")
  expect_error(gam_fit(f, data = d, cache = FALSE, in.out = list(sp = 1)), "in.out\\$sp", class = "warmgam_error")
  expect_error(gam_fit(f, data = d, in.out = list(sp = 1)), "has 1 values", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, in.out = list(sp = c(1, -1, 1))), "positive", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, in.out = list(lambda = 1)), "`in.out`", class = "warmgam_error_argument")
})

test_that("paraPen penalizes parametric terms as mgcv does", {
  local_store()
  skip_if_not_installed("nlme")
  rail <- nlme::Rail
  rail$Z <- stats::model.matrix(~ Rail - 1, data = rail)
  pen <- list(Z = list(diag(6)))
  # mgcv's own example (?gam.models): a random effect as a penalized parametric term.
  fit <- gam_fit(travel ~ Z, data = rail, paraPen = pen, method = "ML")
  ref <- mgcv_reference("gam-arguments/parapen-rail", travel ~ Z, rail, paraPen = pen, method = "ML")
  # The same columns and penalty as mgcv: 1e-6 in fitted values, coefficients, sp.
  expect_agrees_with_mgcv(fit, ref, rail[1:6, ], coef_tol = 1e-6)
  expect_equal(names(fit$sp), "Z")
  expect_lt(abs(log(fit$sp[["Z"]] / ref$sp[["Z"]])), 1e-5)
  expect_lt(rel_diff(summary(fit)$p.table[, 1:2], summary(ref)$p.table[, 1:2]), 1e-6)
  # Two penalties on one term, with the smooths' parameters after them, one fixed.
  d <- sim_data(400)
  d$X <- cbind(a = d$x1, b = d$x1^2)
  pp <- list(X = list(rbind(c(1, 0), c(0, 0)), rbind(c(0, 0), c(0, 1)), sp = c(-1, 0.5)))
  f <- y ~ X + s(x0) + s(x2)
  fit <- gam_fit(f, data = d, paraPen = pp)
  ref <- mgcv_reference("gam-arguments/parapen-two", f, d, paraPen = pp, method = "REML")
  expect_agrees_with_mgcv(fit, ref, new_points(d, 30), fitted_tol = 1e-5) # tp smooths: 1e-5
  expect_equal(names(fit$sp), c("X1", "X2", "s(x0)", "s(x2)"))
  expect_equal(unname(fit$sp[["X2"]]), 0.5)
  setup <- gam_fit(f, data = d, paraPen = pp, fit = FALSE)
  expect_equal(unname(setup$off[1:2]), c(2, 2))
  expect_error(gam_fit(f, data = d, paraPen = list(W = list(diag(2)))), "`W`, which is not", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, paraPen = list(X = list(diag(3)))), "2 x 2", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, paraPen = list(X = list(diag(2), L = diag(1)))), "\\$L` \\(smoothing", class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, paraPen = list(X = list(diag(2), rank = 1))), "rank", class = "warmgam_error_argument")
})

test_that("method = \"GACV.Cp\" fits as mgcv's: GACV with an estimated scale, UBRE with a known one", {
  skip_if_not_installed("mgcv")
  set.seed(2)
  d <- mgcv::gamSim(1, n = 400, dist = "poisson", scale = 0.25, verbose = FALSE)
  f <- y ~ s(x0) + s(x1) + s(x2) + s(x3)
  # ?gam's example: a Poisson model with its scale estimated, by GACV.
  fit <- gam_fit(f, data = d, family = poisson(), method = "GACV.Cp", scale = -1)
  ref <- mgcv_reference("gam-arguments/gacv-poisson", f, d, family = quote(poisson()), method = "GACV.Cp",
                        scale = -1)
  expect_identical(names(fit$criterion), "GACV")
  expect_lt(abs(unname(fit$criterion) / unname(ref$gcv.ubre) - 1), 1e-8)
  # (s(x3) has no effect: its smoothing parameter is on the plateau in both.)
  inside <- ref$sp < 1e5
  expect_lt(max(abs(log(fit$sp[inside]) - log(ref$sp[inside]))), 1e-4)
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(fit$scale / ref$scale - 1), 1e-6)
  expect_output(print(summary(fit)), "GACV = ")
  # The Gaussian identity model (the engine's Gram-matrix route): at given smoothing
  # parameters, mgcv's GACV and fit; estimated, a GACV at most mgcv's (here mgcv
  # stops at 3.8904 with s(x0)'s log sp at 0.46, where warmgam reaches 3.8586 at
  # -3.74, and mgcv's own GACV at warmgam's smoothing parameters is 3.8586 too).
  set.seed(3)
  g <- mgcv::gamSim(1, n = 300, verbose = FALSE)
  sp <- c(0.05, 2, 0.01, 10)
  fit <- gam_fit(f, data = g, method = "GACV.Cp", sp = sp)
  ref <- mgcv_reference("gam-arguments/gacv-gaussian", f, g, method = "GACV.Cp", sp = sp)
  expect_lt(abs(unname(fit$criterion) / unname(ref$gcv.ubre) - 1), 1e-8)
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  fit <- gam_fit(f, data = g, method = "GACV.Cp")
  ref <- mgcv_reference("gam-arguments/gacv-gaussian-estimated", f, g, method = "GACV.Cp")
  expect_lt(unname(fit$criterion), unname(ref$gcv.ubre) * (1 + 1e-8))
  # A known scale: UBRE, the fit of "GCV.Cp".
  a <- gam_fit(f, data = d, family = poisson(), method = "GACV.Cp", cache = FALSE)
  b <- gam_fit(f, data = d, family = poisson(), method = "GCV.Cp", cache = FALSE)
  expect_identical(names(a$criterion), "UBRE")
  expect_equal(unname(a$criterion), unname(b$criterion), tolerance = 1e-12)
  expect_equal(fitted(a), fitted(b), tolerance = 1e-10)
})
