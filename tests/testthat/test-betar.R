# Beta regression, betar(), against mgcv's betar().

beta_data <- function(n = 400, seed = 3, phi = 4) {
  set.seed(seed)
  d <- gam_sim(1, n = n, scale = 0.3)
  mu <- stats::plogis(d$f / 4 - 2)
  d$y <- stats::rbeta(n, mu * phi, (1 - mu) * phi)
  d
}

test_that("betar() estimates the precision with the smoothing parameters, as mgcv's betar()", {
  local_store()
  d <- beta_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  nd <- new_points(d)
  for (case in list(list("REML", "logit"), list("ML", "logit"), list("REML", "probit"))) {
    fit <- gam_fit(f, data = d, family = betar(link = case[[2]]), method = case[[1]])
    label <- paste(case, collapse = " ")
    ref <- mgcv_reference(paste0("betar/betar-", case[[1]], "-", case[[2]]), f, d,
                          family = bquote(mgcv::betar(link = .(case[[2]]))), method = case[[1]])
    # phi to 1e-4 (the search stops where the criterion is flat to 1e-3 of its
    # tolerance); fitted values and criterion to 1e-5 relative, as the issue asks.
    expect_lt(abs(fit$family$phi / mgcv_call("theta", ref) - 1), 1e-4, label = paste(label, "phi"))
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-5, crit_tol = 1e-6, edf_tol = 1e-3, se_tol = 1e-4,
                            predict_tol = 1e-5, type = "response", label = label)
    # Deviances against the saturated model, as mgcv's postproc reports them; they
    # move with phi (the null deviance only with it), hence phi's tolerance.
    expect_lt(abs(fit$deviance / ref$deviance - 1), 1e-5, label = paste(label, "deviance"))
    expect_lt(abs(fit$null.deviance / ref$null.deviance - 1), 1e-5, label = paste(label, "null deviance"))
  }
  expect_match(fit$family$family, "^Beta regression\\(")
})

test_that("a fixed precision is mgcv's betar(theta), with its summary, residuals and AIC", {
  local_store()
  d <- beta_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  fit <- gam_fit(f, data = d, family = betar(theta = 3))
  ref <- mgcv_reference("betar/betar-3", f, d, family = quote(mgcv::betar(theta = 3)), method = "REML")
  # The same model and optimum: fitted values and criterion to what convergence leaves.
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8)
  expect_equal(fit$family$phi, 3)
  mine <- summary(fit)
  theirs <- summary(ref)
  expect_lt(rel_diff(mine$s.table[, "Chi.sq"], theirs$s.table[, "Chi.sq"]), 1e-4)
  expect_lt(abs(mine$dev.expl - theirs$dev.expl), 1e-6)
  # Deviance residuals against the saturated model (1e-5: mgcv's saturated
  # likelihood stops its Newton iteration at a relative gradient of 1e-8).
  expect_lt(rel_diff(residuals(fit, type = "deviance"), residuals(ref, type = "deviance")), 1e-5)
  expect_lt(rel_diff(residuals(fit, type = "pearson"), residuals(ref, type = "pearson")), 1e-6)
  expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-6)
  # Leverages from the information the covariance uses, as mgcv's fit$hat (1e-6:
  # both fits converged to 1e-8 in the criterion); they sum to the edf.
  expect_lt(max(abs(hatvalues(fit) - ref$hat)), 1e-6)
  expect_equal(sum(hatvalues(fit)), sum(fit$edf), tolerance = 1e-8)
})

test_that("mgcv's own betar() objects are taken, and responses at 0 and 1 are moved inside as mgcv", {
  skip_if_not_installed("mgcv")
  local_store()
  d <- beta_data(seed = 5)
  d$y[c(3, 17)] <- 0
  d$y[40] <- 1
  f <- y ~ s(x0) + s(x2)
  fit <- gam_fit(f, data = d, family = mgcv::betar())
  ref <- mgcv_reference("betar/betar-edges", f, d, family = quote(mgcv::betar()), method = "REML")
  expect_lt(abs(fit$family$phi / mgcv_call("theta", ref) - 1), 1e-4)
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-6)
  expect_equal(fit$y[c(3, 40)], c(100 * .Machine$double.eps, 1 - 100 * .Machine$double.eps))
  # as_mgcv() gives mgcv's model at the fitted precision (mgcv warns that its
  # saturated likelihood at the moved responses "may be inaccurate").
  converted <- suppressWarnings(as_mgcv(fit))
  expect_lt(rel_diff(predict(converted, d[1:20, ]), predict(fit, d[1:20, ])), 1e-8)
})

test_that("the store keys a fixed precision and keeps an estimated one", {
  local_store()
  d <- beta_data()
  f <- y ~ s(x0) + s(x1)
  a <- gam_fit(f, data = d, family = betar(theta = 2))
  b <- gam_fit(f, data = d, family = betar(theta = 3))
  expect_false(identical(a$warm_start$key, b$warm_start$key))
  cold <- gam_fit(f, data = d, family = betar())
  again <- gam_fit(f, data = d, family = betar())
  expect_identical(again$warm_start$source, "exact")
  expect_identical(again$family$phi, cold$family$phi)
  expect_identical(fitted(again), fitted(cold))
  # Another sample of the same model starts from this one and reaches its own optimum.
  d2 <- beta_data(seed = 4)
  seeded <- gam_fit(f, data = d2, family = betar())
  expect_identical(seeded$warm_start$source, "seeded")
  unseeded <- gam_fit(f, data = d2, family = betar(), cache = FALSE)
  expect_lt(abs(seeded$family$phi / unseeded$family$phi - 1), 1e-4)
  expect_lt(rel_diff(fitted(seeded), fitted(unseeded)), 1e-5)
})

test_that("gam_cv() scores beta regression folds by the deviance", {
  local_store()
  d <- beta_data(n = 300)
  cv <- gam_cv(y ~ s(x0) + s(x2), data = d, family = betar(), folds = 3, seed = 2, cache = FALSE)
  expect_true(all(is.finite(cv$folds$metric)))
  expect_true(all(cv$folds$metric > 0))
  expect_true(is.finite(cv$estimate))
})

test_that("betar() rejects bad input", {
  local_store()
  d <- beta_data(n = 100)
  d$y[c(4, 9)] <- c(1.5, -0.2)
  expect_error(gam_fit(y ~ s(x0), data = d, family = betar()), "rows 4, 9", class = "warmgam_error_response")
  expect_error(betar(theta = -1), "`theta` of `betar\\(\\)`", class = "warmgam_error_family")
  expect_error(betar(link = "log"), "`link` of `betar\\(\\)`", class = "warmgam_error_family")
  d <- beta_data(n = 100)
  # As mgcv's gam(), an extended family is fitted by REML whatever `method` says.
  expect_warning(fit <- gam_fit(y ~ s(x0), data = d, family = betar(theta = 3), method = "GCV.Cp"),
                 "fitted by REML")
  expect_named(fit$criterion, "REML")
})
