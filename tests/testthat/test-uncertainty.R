# The covariance corrected for smoothing-parameter uncertainty (Vc), edf2, and what
# uses them (AIC, predict/plot with unconditional = TRUE, the residual df of anova
# between fits), against mgcv.

test_that("Vc and edf2 match mgcv's where the basis is identical (cr, Gaussian REML and ML)", {
  local_store()
  d <- sim_data()
  f <- y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr") + fac
  for (method in c("REML", "ML")) {
    fit <- gam_fit(f, data = d, method = method)
    ref <- mgcv_reference(paste0("uncertainty/cr-", method), f, d, method = method)
    # Same basis, so the matrices themselves compare; the issue asks 1e-3 relative.
    expect_lt(rel_diff(vcov(fit, unconditional = TRUE), vcov(ref, unconditional = TRUE)), 1e-3)
    # The correction itself (Vc - Vp) is what is new: it must match too.
    expect_lt(rel_diff(fit$Vc - fit$Vp, ref$Vc - ref$Vp), 1e-3)
    expect_lt(abs(sum(fit$edf2) - sum(ref$edf2)), 1e-4)
    expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-6)
    expect_equal(attr(logLik(fit), "df"), attr(logLik(ref), "df"), tolerance = 1e-5)
  }
})

test_that("unconditional standard errors match mgcv for generalized families and shared ids", {
  local_store()
  d <- sim_data()
  set.seed(4)
  d$count <- rpois(nrow(d), exp(d$f / 4))
  d$pos <- rgamma(nrow(d), shape = 3, rate = 3 / exp(d$f / 5))
  cases <- list(
    gaussian = list(y ~ s(x0) + s(x1) + s(x2) + fac, gaussian(), "REML"),
    poisson = list(count ~ s(x0) + s(x1, bs = "ps") + s(x2), poisson(), "REML"),
    `Gamma-log` = list(pos ~ s(x0) + s(x1) + s(x2), Gamma(link = "log"), "REML"),
    `Gamma-inverse-ML` = list(pos ~ s(x0) + s(x1) + s(x2), Gamma(link = "inverse"), "ML"),
    `gaussian-id` = list(y ~ fac + s(x0, by = fac, id = 1) + s(x1) + s(x3, k = 5), gaussian(), "REML")
  )
  nd <- new_points(d)
  for (name in names(cases)) {
    case <- cases[[name]]
    fit <- gam_fit(case[[1]], data = d, family = case[[2]], method = case[[3]])
    ref <- mgcv_reference(paste0("uncertainty/unconditional-", name), case[[1]], d, family = case[[2]],
                          method = case[[3]])
    # tp bases may differ from mgcv's by a rotation: compare invariant quantities.
    mine <- predict(fit, nd, se.fit = TRUE, unconditional = TRUE)
    theirs <- predict(ref, nd, se.fit = TRUE, unconditional = TRUE)
    expect_lt(rel_diff(mine$se.fit, theirs$se.fit), 1e-4)
    # ... and the correction is not negligible, so the check has teeth.
    plain <- predict(fit, nd, se.fit = TRUE)$se.fit
    expect_gt(rel_diff(mine$se.fit, plain), 1e-3)
    terms_mine <- predict(fit, nd, type = "terms", se.fit = TRUE, unconditional = TRUE)$se.fit
    terms_theirs <- predict(ref, nd, type = "terms", se.fit = TRUE, unconditional = TRUE)$se.fit
    expect_lt(rel_diff(terms_mine, terms_theirs[, colnames(terms_mine)]), 1e-3)
    expect_lt(abs(sum(fit$edf2) - sum(ref$edf2)), 1e-3)
    expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-3)
  }
})

test_that("binomial Vc matches mgcv", {
  local_store()
  set.seed(2)
  b <- gam_sim(1, n = 500, dist = "binary")
  f <- y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr")
  fit <- gam_fit(f, data = b, family = binomial())
  ref <- mgcv_reference("uncertainty/binomial", f, b, family = binomial(), method = "REML")
  expect_lt(rel_diff(vcov(fit, unconditional = TRUE), vcov(ref, unconditional = TRUE)), 1e-3)
  expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-3)
})

test_that("GCV fits have no Vc: unconditional requests warn and use Vp", {
  local_store()
  d <- sim_data()
  fit <- gam_fit(y ~ s(x0) + s(x1), data = d, method = "GCV.Cp")
  expect_null(fit$Vc)
  expect_null(fit$edf2)
  expect_warning(v <- vcov(fit, unconditional = TRUE), "REML or ML")
  expect_identical(v, fit$Vp)
  # AIC then counts the plain edf, as mgcv.
  ref <- mgcv_reference("uncertainty/GCV", y ~ s(x0) + s(x1), d, method = "GCV.Cp")
  expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-6)
  expect_error(vcov(fit, unconditional = NA), "unconditional", class = "warmgam_error_argument")
  # With every smoothing parameter fixed there is nothing to correct for.
  fixed <- gam_fit(y ~ s(x0) + s(x1), data = d, sp = c(1, 2))
  expect_null(fixed$Vc)
})

test_that("plot(unconditional = TRUE) draws the bands predict() gives", {
  local_store()
  d <- sim_data()
  fit <- gam_fit(y ~ s(x0) + s(x1, x2), data = d)
  png(tempfile(fileext = ".png"))
  on.exit(dev.off())
  panels <- plot(fit, unconditional = TRUE, pages = 1)
  for (p in panels) {
    want <- predict(fit, p$data, type = "terms", se.fit = TRUE, unconditional = TRUE)
    expect_lt(max(abs(p$se - want$se.fit[, p$label])), 1e-8)
  }
  plain <- plot(fit, pages = 1)
  expect_gt(max(abs(panels[[1]]$se - plain[[1]]$se)), 1e-6)
})

test_that("anova() between fits uses mgcv's residual df", {
  local_store()
  d <- sim_data()
  small <- gam_fit(y ~ s(x0, bs = "cr") + s(x1, bs = "cr"), data = d)
  large <- gam_fit(y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr"), data = d)
  ref_small <- mgcv_reference("uncertainty/anova-small", y ~ s(x0, bs = "cr") + s(x1, bs = "cr"), d, method = "REML")
  ref_large <- mgcv_reference("uncertainty/anova-large", y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr"),
                              d, method = "REML")
  for (test in c("F", "Chisq")) {
    mine <- anova(small, large, test = test)
    theirs <- anova(ref_small, ref_large, test = test)
    expect_lt(rel_diff(mine[["Resid. Df"]], theirs[["Resid. Df"]]), 1e-4)
    expect_lt(rel_diff(mine$Df[2], theirs$Df[2]), 1e-4)
    p <- if (test == "F") "Pr(>F)" else "Pr(>Chi)"
    expect_lt(rel_diff(mine[[p]][2], theirs[[p]][2]), 1e-4)
  }
})

test_that("the store keeps Vc and edf2", {
  local_store()
  d <- sim_data()
  f <- y ~ s(x0) + s(x1)
  cold <- gam_fit(f, data = d)
  again <- gam_fit(f, data = d)
  expect_identical(again$warm_start$source, "exact")
  expect_identical(again$Vc, cold$Vc)
  expect_identical(again$edf2, cold$edf2)
})
