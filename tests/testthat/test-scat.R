# The scaled t family, scat(), against mgcv's scat().

scat_data <- function(n = 400, seed = 4, df = 4) {
  set.seed(seed)
  d <- gam_sim(1, n = n, scale = 0.3)
  d$y <- d$f + 2 * stats::rt(n, df = df)
  d
}

test_that("scat() estimates nu and sigma with the smoothing parameters, as mgcv's scat()", {
  local_store()
  d <- scat_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  nd <- new_points(d)
  for (case in list(list("REML", "identity"), list("ML", "identity"))) {
    fit <- gam_fit(f, data = d, family = scat(link = case[[2]]), method = case[[1]])
    label <- paste(case, collapse = " ")
    ref <- mgcv_reference(paste0("scat/scat-", case[[1]], "-", case[[2]]), f, d,
                          family = bquote(mgcv::scat(link = .(case[[2]]))), method = case[[1]])
    # nu and sigma to 1e-4 (the search stops where the criterion is flat to 1e-3 of
    # its tolerance); fitted values and criterion to 1e-5 relative, as the issue asks.
    theirs <- mgcv_call("theta", ref)
    expect_lt(max(abs(c(fit$family$nu, fit$family$sigma) / theirs - 1)), 1e-4, label = paste(label, "nu, sigma"))
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-5, crit_tol = 1e-6, edf_tol = 1e-3, se_tol = 1e-4,
                            predict_tol = 1e-5, label = label)
    # mgcv's null deviance minimizes over the intercept with optimize()'s default
    # tolerance; warmgam's with 1e-10: the two agree to 1e-6.
    expect_lt(abs(fit$deviance / ref$deviance - 1), 1e-5, label = paste(label, "deviance"))
    expect_lt(abs(fit$null.deviance / ref$null.deviance - 1), 1e-6, label = paste(label, "null deviance"))
    # The log likelihood to 1e-7; AIC counts the two estimated family parameters,
    # as mgcv does, and the edf corrected for the smoothing parameters' uncertainty
    # (mgcv's also for nu's and sigma's, as for nb(): 1e-4).
    expect_lt(abs(as.numeric(logLik(fit)) / as.numeric(logLik(ref)) - 1), 1e-7, label = paste(label, "logLik"))
    expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-4, label = paste(label, "AIC"))
  }
  expect_match(fit$family$family, "^Scaled t\\(")
})

test_that("a fixed nu and sigma are mgcv's scat(theta = c(nu, sigma)), with a log link", {
  local_store()
  d <- scat_data()
  d$y <- exp(d$f / 8) + 0.3 * stats::rt(nrow(d), df = 5)
  f <- y ~ s(x0) + s(x1) + s(x2)
  fit <- gam_fit(f, data = d, family = scat(theta = c(5, 0.3), link = "log"))
  ref <- mgcv_reference("scat/scat-fixed-log", f, d, family = quote(mgcv::scat(theta = c(5, 0.3), link = "log")),
                        method = "REML")
  # The same model and optimum: fitted values and criterion to what convergence leaves.
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8)
  expect_equal(c(fit$family$nu, fit$family$sigma), c(5, 0.3))
  mine <- summary(fit)
  theirs <- summary(ref)
  expect_lt(rel_diff(mine$s.table[, "Chi.sq"], theirs$s.table[, "Chi.sq"]), 1e-4)
  expect_lt(rel_diff(residuals(fit, type = "deviance"), residuals(ref, type = "deviance")), 1e-5)
  expect_lt(rel_diff(residuals(fit, type = "pearson"), residuals(ref, type = "pearson")), 1e-5)
  expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-6)
  # Leverages from the information the covariance uses, as mgcv's fit$hat (1e-6:
  # both fits converged to 1e-8 in the criterion); they sum to the edf.
  expect_lt(max(abs(hatvalues(fit) - ref$hat)), 1e-6)
  expect_equal(sum(hatvalues(fit)), sum(fit$edf), tolerance = 1e-8)
  # as_mgcv() gives mgcv's model at the same parameters.
  expect_lt(rel_diff(predict(as_mgcv(fit), d[1:20, ]), predict(fit, d[1:20, ])), 1e-8)
})

test_that("the store keys fixed parameters, keeps estimated ones and seeds from them", {
  local_store()
  d <- scat_data()
  f <- y ~ s(x0) + s(x1)
  a <- gam_fit(f, data = d, family = scat(theta = c(4, 2)))
  b <- gam_fit(f, data = d, family = scat(theta = c(5, 2)))
  expect_false(identical(a$warm_start$key, b$warm_start$key))
  cold <- gam_fit(f, data = d, family = mgcv::scat())
  again <- gam_fit(f, data = d, family = scat())
  expect_identical(again$warm_start$source, "exact")
  expect_identical(c(again$family$nu, again$family$sigma), c(cold$family$nu, cold$family$sigma))
  expect_identical(fitted(again), fitted(cold))
  d2 <- scat_data(seed = 5)
  seeded <- gam_fit(f, data = d2, family = scat())
  expect_identical(seeded$warm_start$source, "seeded")
  unseeded <- gam_fit(f, data = d2, family = scat(), cache = FALSE)
  expect_lt(abs(seeded$family$nu / unseeded$family$nu - 1), 1e-3)
  expect_lt(rel_diff(fitted(seeded), fitted(unseeded)), 1e-5)
})

test_that("scat() rejects bad input, and cross-validates by the deviance", {
  local_store()
  expect_error(scat(theta = c(2, 1)), "must exceed `min.df`", class = "warmgam_error_family")
  expect_error(scat(theta = c(5, -1)), "`theta` of `scat\\(\\)`", class = "warmgam_error_family")
  expect_error(scat(link = "logit"), "`link` of `scat\\(\\)`", class = "warmgam_error_family")
  expect_error(scat(min.df = -1), "`min.df`", class = "warmgam_error_family")
  d <- scat_data(n = 200)
  expect_warning(gam_fit(y ~ s(x0), data = d, family = scat(), method = "GCV.Cp"), "fitted by REML")
  cv <- gam_cv(y ~ s(x0) + s(x2), data = d, family = scat(), folds = 3, seed = 2, cache = FALSE)
  expect_true(all(is.finite(cv$folds$metric)) && all(cv$folds$metric > 0))
})
