# The Tweedie family, tw(), against mgcv's tw() and Tweedie(p).

tw_data <- function(n = 400, seed = 5) {
  set.seed(seed)
  d <- gam_sim(1, n = n)
  d$y <- r_tweedie(exp(d$f / 4), p = 1.4, phi = 1.2)
  d
}

test_that("tw() estimates the power with the smoothing parameters, as mgcv's tw()", {
  local_store()
  d <- tw_data()
  expect_gt(sum(d$y == 0), 5) # exact zeros, the point of the family
  f <- y ~ s(x0) + s(x1) + s(x2)
  nd <- new_points(d)
  for (case in list(list("REML", "log"), list("ML", "log"), list("REML", "sqrt"))) {
    fit <- gam_fit(f, data = d, family = warmgam::tw(link = case[[2]]), method = case[[1]])
    label <- paste(case, collapse = " ")
    # mgcv's tw() finds its ldTweedie() only with mgcv attached (tools/make_fixtures.R
    # attaches it).
    ref <- mgcv_reference(paste0("tweedie/tw-", case[[1]], "-", case[[2]]), f, d,
                          family = bquote(mgcv::tw(link = .(case[[2]]))), method = case[[1]])
    expect_lt(abs(fit$family$p / mgcv_call("theta", ref) - 1), 1e-3, label = paste(label, "p"))
    expect_lt(abs(fit$scale / ref$scale - 1), 1e-4, label = paste(label, "scale"))
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-5, crit_tol = 1e-5, edf_tol = 1e-3, se_tol = 1e-4,
                            predict_tol = 1e-4, type = "response", label = label)
    expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-3, label = paste(label, "AIC"))
  }
})

test_that("a fixed power is mgcv's Tweedie(p); the store keys it", {
  local_store()
  d <- tw_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  fit <- gam_fit(f, data = d, family = warmgam::tw(p = 1.3))
  ref <- mgcv_reference("tweedie/Tweedie-1.3", f, d, family = quote(mgcv::Tweedie(1.3)), method = "REML")
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8)
  expect_lt(abs(fit$scale / ref$scale - 1), 1e-6) # Fletcher's estimate, as Tweedie(p)
  expect_lt(abs(AIC(fit) - AIC(ref)) / abs(AIC(ref)), 1e-6)
  other <- gam_fit(f, data = d, family = warmgam::tw(p = 1.5))
  expect_false(identical(other$warm_start$key, fit$warm_start$key))
})

test_that("mgcv's own Tweedie family objects are taken as they are, and keyed as warmgam's", {
  skip_if_not_installed("mgcv")
  local_store()
  withr::local_package("mgcv")
  d <- tw_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  ref <- mgcv_reference("tweedie/Tweedie-1.3", f, d, family = quote(mgcv::Tweedie(1.3)), method = "REML")
  expect_lt(rel_diff(fitted(gam_fit(f, data = d, family = mgcv::Tweedie(1.3))), fitted(ref)), 1e-10)
  est <- gam_fit(f, data = d, family = warmgam::tw())
  again <- gam_fit(f, data = d, family = mgcv::tw())
  expect_identical(again$warm_start$source, "exact")
  expect_identical(again$family$p, est$family$p)
})

test_that("tw() rejects bad input", {
  d <- tw_data(100)
  expect_error(tw(p = 2.5), "between 1 and 2", class = "warmgam_error_family")
  expect_error(tw(link = "logit"), "link", class = "warmgam_error_family")
  expect_warning(gam_fit(y ~ s(x0), data = d, family = tw(), method = "GCV.Cp"), "fitted by REML")
  d$y[2] <- -0.5
  expect_error(gam_fit(y ~ s(x0), data = d, family = tw()), "non-negative", class = "warmgam_error_response")
})
