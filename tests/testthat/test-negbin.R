# The negative binomial family, nb(), against mgcv's nb() and negbin().

nb_data <- function(n = 400, seed = 3) {
  set.seed(seed)
  d <- gam_sim(1, n = n, dist = "poisson", scale = 0.3)
  d$y <- rnbinom(n, mu = exp(d$f / 3), size = 2)
  d
}

test_that("nb() estimates theta with the smoothing parameters, as mgcv's nb()", {
  local_store()
  d <- nb_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  nd <- new_points(d)
  for (case in list(list("REML", "log"), list("ML", "log"), list("REML", "sqrt"))) {
    fit <- gam_fit(f, data = d, family = nb(link = case[[2]]), method = case[[1]])
    label <- paste(case, collapse = " ")
    ref <- mgcv_reference(paste0("negbin/nb-", case[[1]], "-", case[[2]]), f, d,
                          family = bquote(mgcv::nb(link = .(case[[2]]))), method = case[[1]])
    expect_lt(abs(fit$family$theta / mgcv_call("theta", ref) - 1), 1e-3, label = paste(label, "theta"))
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-5, crit_tol = 1e-5, edf_tol = 1e-3, se_tol = 1e-4,
                            predict_tol = 1e-4, type = "response", label = label)
  }
  expect_match(fit$family$family, "^Negative Binomial\\(")
})

test_that("a fixed theta is mgcv's negbin(theta), and summary and AIC follow mgcv", {
  local_store()
  d <- nb_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  fit <- gam_fit(f, data = d, family = nb(theta = 2))
  ref <- mgcv_reference("negbin/negbin-2", f, d, family = quote(mgcv::negbin(2)), method = "REML")
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8)
  expect_equal(fit$family$theta, 2)
})

test_that("mgcv's own negative binomial family objects are taken as they are", {
  skip_if_not_installed("mgcv")
  local_store()
  d <- nb_data()
  f <- y ~ s(x0) + s(x1) + s(x2)
  ref <- mgcv_reference("negbin/negbin-2", f, d, family = quote(mgcv::negbin(2)), method = "REML")
  expect_lt(rel_diff(fitted(gam_fit(f, data = d, family = mgcv::negbin(2))), fitted(ref)), 1e-10)
  est <- gam_fit(f, data = d, family = mgcv::nb())
  ref_est <- mgcv_reference("negbin/nb-estimated", f, d, family = quote(mgcv::nb()), method = "REML")
  expect_lt(abs(est$family$theta / mgcv_call("theta", ref_est) - 1), 1e-3)
  # Chi-squared tests (the scale is 1), p-values by Davies' method as mgcv.
  mine <- summary(est)$s.table
  theirs <- summary(ref_est)$s.table
  expect_equal(colnames(mine), colnames(theirs))
  expect_lt(rel_diff(mine[, "Chi.sq"], theirs[, "Chi.sq"]), 1e-4)
  expect_lt(max(abs(mine[, "p-value"] - theirs[, "p-value"]) / pmax(theirs[, "p-value"], 1e-12)), 1e-3)
  # AIC counts the estimated theta, as mgcv.
  expect_lt(abs(AIC(est) - AIC(ref_est)) / abs(AIC(ref_est)), 1e-3)
  expect_equal(attr(logLik(est), "df"), attr(logLik(ref_est), "df"), tolerance = 1e-2)
})

test_that("the store keys a fixed theta and keeps an estimated one", {
  local_store()
  d <- nb_data()
  f <- y ~ s(x0) + s(x1)
  a <- gam_fit(f, data = d, family = nb(theta = 2))
  b <- gam_fit(f, data = d, family = nb(theta = 3))
  expect_false(identical(a$warm_start$key, b$warm_start$key))
  cold <- gam_fit(f, data = d, family = nb())
  again <- gam_fit(f, data = d, family = nb())
  expect_identical(again$warm_start$source, "exact")
  expect_identical(again$family$theta, cold$family$theta)
  expect_identical(fitted(again), fitted(cold))
  # Another sample of the same model starts from this one and reaches its own optimum.
  d2 <- nb_data(seed = 4)
  seeded <- gam_fit(f, data = d2, family = nb())
  expect_identical(seeded$warm_start$source, "seeded")
  unseeded <- gam_fit(f, data = d2, family = nb(), cache = FALSE)
  expect_lt(abs(seeded$family$theta / unseeded$family$theta - 1), 1e-4)
  expect_lt(rel_diff(fitted(seeded), fitted(unseeded)), 1e-5)
  # What the seed saved in theta's search (issue 21): the trials this fit made, and
  # the seed's own; an exact hit makes none.
  expect_equal(seeded$warm_start$seed_family_trials, cold$warm_start$family_trials)
  expect_gt(cold$warm_start$family_trials, 0)
  expect_lte(seeded$warm_start$family_trials, unseeded$warm_start$family_trials)
  expect_equal(again$warm_start$family_trials, 0)
  expect_true(is.na(unseeded$warm_start$seed_family_trials))
  expect_output(print(seeded), sprintf("values tried against %d", cold$warm_start$family_trials))
})

test_that("nb() rejects bad input", {
  d <- nb_data(100)
  expect_error(nb(theta = -1), "theta", class = "warmgam_error_family")
  expect_error(nb(link = "logit"), "link", class = "warmgam_error_family")
  expect_warning(gam_fit(y ~ s(x0), data = d, family = nb(), method = "GCV.Cp"), "fitted by REML")
  d$y[3] <- -1
  expect_error(gam_fit(y ~ s(x0), data = d, family = nb()), "non-negative", class = "warmgam_error_response")
})

test_that("a seed with a no-effect term reaches the cold fit where the term has an effect", {
  # The seed's s(z) is shrunk far up its plateau. The seeded nb() fit starts from
  # it (brought into seed_start's box), its later trials from one another's points
  # as they are (checked at the cold start and the box's edge): it has to find
  # this data's s(z), 10 or more below the seed's.
  local_store()
  counts <- function(seed, effect) {
    set.seed(seed)
    d <- data.frame(x = runif(3000), z = runif(3000))
    d$y <- rnbinom(3000, mu = exp(1 + sin(2 * pi * d$x) + effect * d$z^2), size = 3)
    d
  }
  f <- y ~ s(x) + s(z)
  seed <- gam_fit(f, data = counts(1, 0), family = nb())
  new <- counts(2, 0.8)
  seeded <- gam_fit(f, data = new, family = nb())
  expect_identical(seeded$warm_start$source, "seeded")
  cold <- gam_fit(f, data = new, family = nb(), cache = FALSE)
  expect_lt(log(cold$sp[[2]]) - log(seed$sp[[2]]), -10) # far below the seed's
  expect_lt(abs(seeded$criterion / cold$criterion - 1), 1e-8) # the outer tolerance
  expect_lt(max(abs(fitted(seeded) - fitted(cold))) / max(abs(fitted(cold))), 1e-6)
})
