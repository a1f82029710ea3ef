# The zero-inflated Poisson, ziP(), against mgcv's ziP().

# Counts as mgcv's ?ziP example draws them: zero with probability exp(-exp(eta)),
# otherwise a zero-truncated Poisson with log mean gamma.
zip_data <- function(n = 400, seed = 1, theta = c(-2, 0.3)) {
  set.seed(seed)
  d <- gam_sim(1, n = n, scale = 0.3)
  gamma <- d$f / 4 - 1
  lambda <- exp(gamma)
  p <- 1 - exp(-exp(theta[1] + exp(theta[2]) * gamma))
  present <- p > stats::runif(n)
  d$y <- 0
  d$y[present] <- stats::qpois(stats::runif(sum(present), stats::dpois(0, lambda[present]), 1), lambda[present])
  d
}

test_that("ziP() estimates theta with the smoothing parameters, as mgcv's ziP()", {
  local_store()
  d <- zip_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  nd <- new_points(d)
  # ML: tightly converged mgcv stops in another local optimum (s(x1) smoothed out,
  # ML 605.2323); warmgam finds a lower one (605.1273), which it also reaches from
  # mgcv's theta. Only the criterion is compared there.
  fit <- gam_fit(f, data = d, family = ziP(), method = "ML")
  ref <- mgcv_reference("zip/zip-ML", f, d, family = quote(mgcv::ziP()), method = "ML")
  expect_lt(unname(fit$criterion), ref$gcv.ubre - 0.1)
  for (method in "REML") {
    fit <- gam_fit(f, data = d, family = ziP(), method = method)
    ref <- mgcv_reference(paste0("zip/zip-", method), f, d, family = quote(mgcv::ziP()), method = method)
    # mgcv's getTheta(TRUE) is c(theta1, b + exp(theta2)).
    theirs <- mgcv_call("theta", ref)
    mine <- c(fit$family$theta[[1]], fit$family$b + exp(fit$family$theta[[2]]))
    expect_lt(max(abs(mine - theirs) / abs(theirs)), 1e-4, label = paste(method, "theta"))
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-5, crit_tol = 1e-6, edf_tol = 1e-3, se_tol = 1e-4,
                            predict_tol = 1e-5, label = method)
    # Expected counts and their standard errors, as mgcv's predict().
    p <- predict(fit, nd, type = "response", se.fit = TRUE)
    q <- predict(ref, nd, type = "response", se.fit = TRUE)
    expect_lt(rel_diff(p$fit, q$fit), 1e-5, label = paste(method, "expected counts"))
    expect_lt(rel_diff(p$se.fit, q$se.fit), 1e-4, label = paste(method, "expected count se"))
    # Deviances against the saturated model, as mgcv's postproc (its saturated
    # likelihood stops at a relative gradient of 1e-7, its null search at
    # optimize()'s default tolerance).
    expect_lt(abs(fit$deviance / ref$deviance - 1), 1e-5, label = paste(method, "deviance"))
    expect_lt(abs(fit$null.deviance / ref$null.deviance - 1), 1e-5, label = paste(method, "null deviance"))
    expect_lt(abs(as.numeric(logLik(fit)) / as.numeric(logLik(ref)) - 1), 1e-7, label = paste(method, "logLik"))
    expect_lt(rel_diff(residuals(fit), residuals(ref)), 1e-4, label = paste(method, "deviance residuals"))
  }
  expect_match(fit$family$family, "^Zero inflated Poisson\\(")
})

test_that("fixed theta and b are mgcv's ziP(theta =, b =)", {
  local_store()
  d <- zip_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  fit <- gam_fit(f, data = d, family = ziP(theta = c(-1.8, 0.2)))
  ref <- mgcv_reference("zip/zip-fixed", f, d, family = quote(mgcv::ziP(theta = c(-1.8, 0.2))), method = "REML")
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8)
  expect_lt(rel_diff(summary(fit)$s.table[, "Chi.sq"], summary(ref)$s.table[, "Chi.sq"]), 1e-4)
  # Leverages from the information the covariance uses, as mgcv's fit$hat (1e-6:
  # both fits converged to 1e-8 in the criterion); they sum to the edf.
  expect_lt(max(abs(hatvalues(fit) - ref$hat)), 1e-6)
  expect_equal(sum(hatvalues(fit)), sum(fit$edf), tolerance = 1e-8)

  fit_b <- gam_fit(f, data = d, family = ziP(b = 0.3))
  ref_b <- mgcv_reference("zip/zip-b", f, d, family = quote(mgcv::ziP(b = 0.3)), method = "REML")
  expect_lt(rel_diff(fitted(fit_b), fitted(ref_b)), 1e-5)
  expect_lt(abs(unname(fit_b$criterion) - ref_b$gcv.ubre) / abs(ref_b$gcv.ubre), 1e-6)
  expect_lt(rel_diff(predict(as_mgcv(fit), d[1:20, ]), predict(fit, d[1:20, ])), 1e-8)
})

test_that("the store keeps an estimated theta; ziP() rejects bad input", {
  local_store()
  d <- zip_data()
  f <- y ~ s(x0) + s(x1)
  cold <- gam_fit(f, data = d, family = ziP())
  again <- gam_fit(f, data = d, family = mgcv::ziP())
  expect_identical(again$warm_start$source, "exact")
  expect_identical(again$family$theta, cold$family$theta)
  expect_error(ziP(theta = 1), "`theta` of `ziP\\(\\)`", class = "warmgam_error_family")
  expect_error(ziP(b = -1), "`b` of `ziP\\(\\)`", class = "warmgam_error_family")
  expect_warning(gam_fit(f, data = d, family = ziP(), method = "GCV.Cp"), "fitted by REML")
  bad <- d
  bad$y[c(3, 8)] <- c(-1, 2.5)
  expect_error(gam_fit(f, data = bad, family = ziP()), "rows 3, 8", class = "warmgam_error_response")
  binary <- d
  binary$y <- as.numeric(binary$y > 0)
  expect_error(gam_fit(f, data = binary, family = ziP()), "binary", class = "warmgam_error_response")
  expect_error(residuals(cold, type = "pearson"), "not defined", class = "warmgam_error_argument")
})
