# Ordered categorical responses, ocat(), against mgcv's ocat().

ocat_data <- function(n = 400, seed = 4, alpha = c(-Inf, -1, 0, 5, Inf)) {
  set.seed(seed)
  d <- gam_sim(1, n = n, scale = 0.3)
  d$f <- d$f - mean(d$f)
  latent <- d$f + stats::rlogis(n)
  d$y <- findInterval(latent, alpha[-c(1, length(alpha))]) + 1
  d
}

test_that("ocat() estimates the cut points with the smoothing parameters, as mgcv's ocat()", {
  local_store()
  d <- ocat_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  nd <- new_points(d)
  for (method in c("REML", "ML")) {
    fit <- gam_fit(f, data = d, family = ocat(R = 4), method = method)
    ref <- mgcv_reference(paste0("ocat/ocat-", method), f, d, family = quote(mgcv::ocat(R = 4)), method = method)
    # Cut points to 1e-5 (the search stops where the criterion is flat to 1e-3 of
    # its tolerance); fitted values and criterion to 1e-5 relative, as the issue asks.
    expect_lt(max(abs(fit$family$cuts - mgcv_call("theta", ref))), 1e-5, label = paste(method, "cuts"))
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-5, crit_tol = 1e-6, edf_tol = 1e-3, se_tol = 1e-4,
                            predict_tol = 1e-5, label = method)
    # Class probabilities and their standard errors, as mgcv's predict().
    p <- predict(fit, nd, type = "response", se.fit = TRUE)
    q <- predict(ref, nd, type = "response", se.fit = TRUE)
    expect_equal(dim(p$fit), c(nrow(nd), 4L))
    expect_lt(max(abs(p$fit - q$fit)), 1e-5, label = paste(method, "probabilities"))
    expect_lt(max(abs(p$se.fit - q$se.fit)), 1e-5, label = paste(method, "probability se"))
    expect_lt(abs(fit$deviance / ref$deviance - 1), 1e-6, label = paste(method, "deviance"))
    expect_lt(abs(fit$null.deviance / ref$null.deviance - 1), 1e-6, label = paste(method, "null deviance"))
    expect_lt(abs(as.numeric(logLik(fit)) / as.numeric(logLik(ref)) - 1), 1e-7, label = paste(method, "logLik"))
  }
  expect_match(fit$family$family, "^Ordered Categorical\\(-1,")
})

test_that("fixed cut points are mgcv's ocat(theta = gaps)", {
  local_store()
  d <- ocat_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  fit <- gam_fit(f, data = d, family = ocat(theta = c(1, 5)))
  ref <- mgcv_reference("ocat/ocat-fixed", f, d, family = quote(mgcv::ocat(theta = c(1, 5))), method = "REML")
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8)
  expect_equal(fit$family$cuts, c(-1, 0, 5))
  expect_lt(rel_diff(summary(fit)$s.table[, "Chi.sq"], summary(ref)$s.table[, "Chi.sq"]), 1e-4)
  expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-6)
  # Deviance residuals signed as mgcv's (the class interval's midpoint against the
  # latent mean).
  expect_lt(max(abs(residuals(fit) - residuals(ref))), 1e-6)
  # Leverages from the information the covariance uses, as mgcv's fit$hat (1e-6:
  # both fits converged to 1e-8 in the criterion); they sum to the edf.
  expect_lt(max(abs(hatvalues(fit) - ref$hat)), 1e-6)
  expect_equal(sum(hatvalues(fit)), sum(fit$edf), tolerance = 1e-8)
  expect_lt(rel_diff(predict(as_mgcv(fit), d[1:20, ]), predict(fit, d[1:20, ])), 1e-8)
})

test_that("the store keeps estimated cut points and seeds from them", {
  local_store()
  d <- ocat_data()
  f <- y ~ s(x0) + s(x1)
  cold <- gam_fit(f, data = d, family = ocat(R = 4))
  again <- gam_fit(f, data = d, family = mgcv::ocat(R = 4))
  expect_identical(again$warm_start$source, "exact")
  expect_identical(again$family$cuts, cold$family$cuts)
  d2 <- ocat_data(seed = 5)
  seeded <- gam_fit(f, data = d2, family = ocat(R = 4))
  expect_identical(seeded$warm_start$source, "seeded")
  unseeded <- gam_fit(f, data = d2, family = ocat(R = 4), cache = FALSE)
  expect_lt(max(abs(seeded$family$cuts - unseeded$family$cuts)), 1e-4)
  expect_lt(rel_diff(fitted(seeded), fitted(unseeded)), 1e-5)
})

test_that("ocat() rejects bad input, and cross-validates by the deviance (log loss)", {
  local_store()
  expect_error(ocat(), "`R` of `ocat\\(\\)`", class = "warmgam_error_family")
  expect_error(ocat(theta = c(1, -1)), "`theta` of `ocat\\(\\)`", class = "warmgam_error_family")
  expect_error(ocat(theta = c(1, 2), R = 5), "`R` must be 4", class = "warmgam_error_family")
  expect_error(ocat(R = 3, link = "logit"), "`link` of `ocat\\(\\)`", class = "warmgam_error_family")
  d <- ocat_data(n = 200)
  bad <- d
  bad$y[c(2, 7)] <- c(0, 2.5)
  expect_error(gam_fit(y ~ s(x0), data = bad, family = ocat(R = 4)), "rows 2, 7", class = "warmgam_error_response")
  # (No warning: the null deviance by distinct response once recycled the grouped
  # weights against the rows.)
  expect_no_warning(cv <- gam_cv(y ~ s(x0) + s(x2), data = d, family = ocat(R = 4), folds = 3, seed = 2, cache = FALSE))
  expect_true(all(is.finite(cv$folds$metric)) && all(cv$folds$metric > 0))
})
