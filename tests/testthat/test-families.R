# Generalized families against mgcv: every family with its canonical and a
# non-canonical link, REML and ML, on simulated data. Tolerances are the issue's:
# fitted values 1e-5 relative, total edf 1e-3, criterion 1e-5 relative,
# predict(type = "response", se.fit = TRUE) 1e-4 relative, the scale 1e-4 relative.

# Draws from the inverse Gaussian (Michael, Schucany & Haas 1976).
rinvgauss <- function(mu, lambda) {
  v <- stats::rnorm(length(mu))^2
  x <- mu + mu^2 * v / (2 * lambda) - mu / (2 * lambda) * sqrt(4 * mu * lambda * v + mu^2 * v^2)
  ifelse(stats::runif(length(mu)) <= mu / (mu + x), x, mu^2 / x)
}

family_data <- function(n = 400, seed = 5) {
  set.seed(seed)
  d <- data.frame(x0 = runif(n), x1 = runif(n), x2 = runif(n))
  eta <- sin(2 * pi * d$x0) + 0.6 * exp(d$x1) - 1 + 0.3 * d$x2
  d$gamma <- rgamma(n, shape = 4, scale = exp(eta) / 4)
  d$count <- rpois(n, exp(eta + 0.5))
  d$binary <- rbinom(n, 1, binomial()$linkinv(eta))
  d$trials <- sample(1:6, n, replace = TRUE)
  d$succ <- rbinom(n, d$trials, binomial()$linkinv(eta))
  d$normal <- exp(eta) + rnorm(n) * 0.3 + 3
  d$ig <- rinvgauss(exp(eta * 0.5 + 1), 8)
  d
}

# `key` names the mgcv reference (fixtures/families.rds).
expect_family_agrees <- function(key, formula, family, data, method = "REML", ...) {
  ref <- mgcv_reference(key, formula, data, family = family, method = method, ...)
  fit <- gam_fit(formula, data = data, family = family, method = method, ...)
  label <- sprintf("%s(%s) %s", family$family, family$link, method)
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5, label = paste(label, "fitted"))
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3, label = paste(label, "edf"))
  expect_lt(abs(unname(fit$criterion) - unname(ref$gcv.ubre)) / abs(unname(ref$gcv.ubre)), 1e-5, label = paste(label, "criterion"))
  expect_lt(abs(fit$scale - ref$scale) / ref$scale, 1e-4, label = paste(label, "scale"))
  if (!is.na(ref$reml.scale)) {
    expect_lt(abs(fit$reml.scale - ref$reml.scale) / ref$reml.scale, 1e-4, label = paste(label, "REML scale"))
  }
  nd <- data[1:40, ]
  nd$x0 <- seq(0.01, 0.99, length.out = 40)
  p <- predict(fit, nd, type = "response", se.fit = TRUE)
  q <- predict(ref, nd, type = "response", se.fit = TRUE)
  expect_lt(rel_diff(p$fit, q$fit), 1e-4, label = paste(label, "predicted mean"))
  expect_lt(rel_diff(p$se.fit, q$se.fit), 1e-4, label = paste(label, "predicted se"))
  invisible(list(fit = fit, ref = ref))
}

test_that("exponential families and their links agree with mgcv (REML and ML)", {
  d <- family_data()
  cases <- list(
    list("gamma", Gamma(link = "log")), list("gamma", Gamma()),
    list("count", poisson()), list("count", poisson(link = "sqrt")),
    list("binary", binomial()), list("binary", binomial(link = "probit")),
    list("binary", binomial(link = "cloglog")),
    list("ig", inverse.gaussian()), list("ig", inverse.gaussian(link = "log")),
    list("normal", gaussian(link = "log")),
    list("count", quasipoisson()), list("gamma", quasi(link = "log", variance = "mu^2")),
    list("binary", quasibinomial(link = "probit"))
  )
  for (cs in cases) {
    f <- stats::as.formula(paste(cs[[1]], "~ s(x0, bs = 'cr') + s(x1, bs = 'cr') + x2"))
    for (method in c("REML", "ML")) {
      key <- sprintf("families/%s-%s-%s-%s", cs[[1]], cs[[2]]$family, cs[[2]]$link, method)
      expect_family_agrees(key, f, cs[[2]], d, method)
    }
  }
})

test_that("fits of 1e4 rows and more, started by performance iteration, agree with mgcv", {
  # From 1e4 rows a generalized fit starts its search from performance iteration
  # (which the 400-row cases above never reach). Each model has a smooth of a
  # covariate without effect, whose smoothing parameter runs to the criterion's
  # plateau: any value there gives the same fit, so only its size is checked. mgcv's
  # tolerances are tight but not the helper's (at 1e-12 it took 70 s here).
  set.seed(4)
  binary <- gam_sim(1, n = 12000, dist = "binary", scale = 0.33)
  set.seed(5)
  n <- 10000
  positive <- data.frame(x0 = runif(n), x1 = runif(n), x2 = runif(n))
  positive$y <- rgamma(n, shape = 3, rate = 3 / exp(0.5 + sin(2 * pi * positive$x0) + positive$x1^2))
  cases <- list(
    list(y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr") + s(x3, bs = "cr"), binary, binomial()),
    list(y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr"), positive, Gamma(link = "log"))
  )
  for (cs in cases) {
    label <- cs[[3]]$family
    ref <- mgcv_reference(paste0("families/large-", label), cs[[1]], cs[[2]], family = cs[[3]], method = "REML",
                          conv.tol = 1e-10)
    fit <- gam_fit(cs[[1]], data = cs[[2]], family = cs[[3]], cache = FALSE)
    expect_agrees_with_mgcv(fit, ref, cs[[2]][1:50, ], type = "response", label = label)
    expect_lt(abs(fit$scale - ref$scale) / ref$scale, 1e-4, label = paste(label, "scale"))
    # The covariance corrected for smoothing-parameter uncertainty (4e-7 and 7e-7
    # here): its Hessian is the reported one, formed from every row in a second
    # pass that reuses the last iterate's per-row products.
    expect_lt(rel_diff(vcov(fit, unconditional = TRUE), vcov(ref, unconditional = TRUE)), 1e-4,
              label = paste(label, "Vc"))
    # Smoothing parameters within 1e-3 on the log scale, except the no-effect
    # smooth's (the last), which both put beyond e^15.
    k <- length(ref$sp)
    expect_lt(max(abs(log(fit$sp[-k]) - log(ref$sp[-k]))), 1e-3, label = paste(label, "log sp"))
    expect_gt(min(log(fit$sp[[k]]), log(ref$sp[[k]])), 15, label = paste(label, "no-effect log sp"))
  }
})

test_that("GCV (scale estimated) and UBRE (scale known) agree with mgcv", {
  d <- family_data()
  cases <- list(
    list("count", poisson()), list("binary", binomial()), list("binary", binomial(link = "probit")),
    list("gamma", Gamma()), list("gamma", Gamma(link = "log")), list("count", quasipoisson())
  )
  for (cs in cases) {
    f <- stats::as.formula(paste(cs[[1]], "~ s(x0, bs = 'cr') + s(x1, bs = 'cr') + x2"))
    key <- sprintf("families/%s-%s-%s-GCV", cs[[1]], cs[[2]]$family, cs[[2]]$link)
    both <- expect_family_agrees(key, f, cs[[2]], d, "GCV.Cp")
    expect_identical(names(both$fit$criterion), if (cs[[2]]$family %in% c("poisson", "binomial")) "UBRE" else "GCV")
  }
})

test_that("binomial responses as cbind(), as proportions with trials and as factors agree", {
  d <- family_data()
  f <- cbind(succ, trials - succ) ~ s(x0, bs = "cr") + s(x1, bs = "cr")
  both <- expect_family_agrees("families/binomial-cbind", f, binomial(), d)
  d$prop <- d$succ / d$trials
  prop <- gam_fit(prop ~ s(x0, bs = "cr") + s(x1, bs = "cr"), data = d, family = binomial(), weights = trials)
  expect_lt(rel_diff(fitted(prop), fitted(both$fit)), 1e-10)
  d$outcome <- factor(ifelse(d$binary == 1, "yes", "no"))
  fac <- gam_fit(outcome ~ s(x0, bs = "cr"), data = d, family = binomial())
  num <- gam_fit(binary ~ s(x0, bs = "cr"), data = d, family = binomial())
  expect_equal(fitted(fac), fitted(num), tolerance = 1e-12)
})

test_that("summary uses z and Chi.sq tests when the scale is known, t and F otherwise", {
  d <- family_data()
  f <- count ~ s(x0, bs = "cr") + s(x1, bs = "cr") + x2
  fit <- gam_fit(f, data = d, family = poisson())
  ref <- mgcv_reference("families/summary-poisson", f, d, family = poisson(), method = "REML")
  s_w <- summary(fit)
  s_m <- summary(ref)
  expect_identical(colnames(s_w$s.table), colnames(s_m$s.table))
  expect_identical(colnames(s_w$p.table), colnames(s_m$p.table))
  # The statistics within 1e-4 relative (the p-values of strong effects are far in
  # the tail, where the reference distributions are computed differently).
  expect_lt(rel_diff(s_w$s.table[, "Chi.sq"], s_m$s.table[, "Chi.sq"]), 1e-4)
  expect_lt(rel_diff(s_w$p.table[, "z value"], s_m$p.table[, "z value"]), 1e-4)
  a_w <- anova(fit)$pTerms.table
  a_m <- anova(ref)$pTerms.table
  expect_identical(colnames(a_w), colnames(a_m))
  expect_lt(rel_diff(a_w[, "Chi.sq"], a_m[, "Chi.sq"]), 1e-4)
  expect_lt(rel_diff(a_w[, "p-value"], a_m[, "p-value"]), 1e-4)
  g <- gam_fit(gamma ~ s(x0, bs = "cr") + x2, data = d, family = Gamma(link = "log"))
  expect_identical(colnames(summary(g)$s.table)[[3]], "F")
  expect_identical(colnames(summary(g)$p.table)[[3]], "t value")
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-6)
  ref_g <- mgcv_reference("families/summary-gamma", gamma ~ s(x0, bs = "cr") + x2, d, family = Gamma(link = "log"),
                          method = "REML")
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(ref_g)), tolerance = 1e-6)
  for (type in c("deviance", "pearson", "working", "response")) {
    expect_equal(unname(residuals(fit, type)), unname(residuals(ref, type)), tolerance = 1e-5, label = type)
  }
})

test_that("responses outside a family's support and unsupported families are clear errors", {
  d <- family_data(100)
  d$neg <- d$count - 3
  expect_error(gam_fit(neg ~ s(x0), data = d, family = poisson()), "non-negative", class = "warmgam_error_response")
  expect_error(gam_fit(gamma ~ s(x0), data = d, family = binomial()), "\\[0, 1\\]", class = "warmgam_error_response")
  d$nonpos <- d$gamma - 1
  expect_error(gam_fit(nonpos ~ s(x0), data = d, family = Gamma()), "positive", class = "warmgam_error_response")
  expect_error(gam_fit(ig ~ s(x0), data = transform(d, ig = -ig), family = inverse.gaussian()), "positive", class = "warmgam_error_response")
  d$prop <- d$succ / d$trials
  expect_error(gam_fit(prop ~ s(x0), data = d, family = binomial(), weights = trials + 0.5), "whole numbers", class = "warmgam_error_response")
  expect_error(gam_fit(I(count + 0.5) ~ s(x0), data = d, family = poisson()), "counts", class = "warmgam_error_response")
  expect_error(gam_fit(count ~ s(x0), data = d, family = poisson(link = "inverse")), "link", class = "warmgam_error_family")
  expect_error(gam_fit(count ~ s(x0), data = d, family = quasi(link = "cauchit")), "link", class = "warmgam_error_family")
})

test_that("perfect separation warns and returns finite output; the iteration limit says so", {
  set.seed(1)
  n <- 200
  d <- data.frame(x = runif(n), z = runif(n))
  d$y <- as.numeric(d$z > 0.5)
  warnings <- character()
  fit <- withCallingHandlers(
    gam_fit(y ~ z + s(x, bs = "cr"), data = d, family = binomial()),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  expect_true(any(grepl("separated", warnings)))
  expect_true(all(is.finite(coef(fit))))
  expect_true(all(is.finite(fit$Vp)))
  d2 <- family_data(300)
  expect_warning(
    lim <- gam_fit(binary ~ s(x0, bs = "cr") + s(x1, bs = "cr"), data = d2, family = binomial(),
                   control = gam_control(outer_max_iter = 1), cache = FALSE),
    "did not converge"
  )
  expect_false(lim$converged)
})

test_that("the store covers generalized fits: exact repeats, seeds, and the family in the key", {
  d <- family_data(400)
  f <- binary ~ s(x0, bs = "cr") + s(x1, bs = "cr")
  cold <- gam_fit(f, data = d, family = binomial(), cache = "refresh")
  again <- gam_fit(f, data = d, family = binomial())
  expect_identical(again$warm_start$source, "exact")
  expect_equal(fitted(again), fitted(cold), tolerance = 1e-12)
  expect_equal(again$Vp, cold$Vp, tolerance = 1e-12)
  # Another family on the same data is another model.
  q <- gam_fit(f, data = d, family = quasibinomial())
  expect_false(identical(q$warm_start$source, "exact"))
  expect_false(identical(q$warm_start$key, cold$warm_start$key))
  # A Gamma fit's scale is a parameter of the stored fit; an exact hit returns it.
  g1 <- gam_fit(gamma ~ s(x0, bs = "cr"), data = d, family = Gamma(link = "log"), cache = "refresh")
  g2 <- gam_fit(gamma ~ s(x0, bs = "cr"), data = d, family = Gamma(link = "log"),
                control = gam_control(verify_warm = TRUE))
  expect_identical(g2$warm_start$source, "exact")
  expect_true(isTRUE(g2$warm_start$verified))
  expect_equal(g2$reml.scale, g1$reml.scale, tolerance = 1e-12)
  expect_equal(g2$criterion, g1$criterion, tolerance = 1e-12)
  # Seeded from a fit to another sample: the same optimum as cold.
  d_other <- family_data(400, seed = 11)
  seeded <- gam_fit(f, data = d_other, family = binomial())
  expect_identical(seeded$warm_start$source, "seeded")
  cold_other <- gam_fit(f, data = d_other, family = binomial(), cache = FALSE)
  expect_lt(rel_diff(fitted(seeded), fitted(cold_other)), 1e-6)
  expect_lt(abs(seeded$criterion - cold_other$criterion), 1e-6 * abs(cold_other$criterion))
})
