# emmeans and ggeffects on warmgam fits against the same calls on the mgcv fit of
# the same model (R/emmeans.R; ggeffects through insight::get_predicted() and
# emmeans).

emmeans_case <- function() {
  d <- sim_data(300, seed = 12)
  set.seed(13)
  d$cnt <- rpois(nrow(d), exp(d$f / 5))
  d$g <- factor(sample(letters[1:8], nrow(d), replace = TRUE))
  list(
    d = d,
    fit = gam_fit(y ~ s(x0) + s(x1) + s(x2) + fac, data = d),
    ref = mgcv_fit(y ~ s(x0) + s(x1) + s(x2) + fac, d, method = "REML"),
    pois = gam_fit(cnt ~ s(x0) + s(x2) + fac + s(g, bs = "re"), data = d, family = poisson()),
    pois_ref = mgcv_fit(cnt ~ s(x0) + s(x2) + fac + s(g, bs = "re"), d, family = poisson(), method = "REML")
  )
}

# Columns of two summaries: estimates to `tol`, standard errors and limits to `se_tol`.
expect_summaries_close <- function(got, want, est, tol = 1e-6, se_tol = 1e-4, label = "") {
  got <- as.data.frame(got)
  want <- as.data.frame(want)
  expect_named(got, names(want))
  expect_lt(rel_diff(got[[est]], want[[est]]), tol, label = paste(label, est))
  for (col in intersect(c("SE", "lower.CL", "upper.CL", "asymp.LCL", "asymp.UCL"), names(want))) {
    expect_lt(rel_diff(got[[col]], want[[col]]), se_tol, label = paste(label, col))
  }
  if ("df" %in% names(want)) expect_lt(rel_diff(got$df, want$df), 1e-6, label = paste(label, "df"))
}

test_that("emmeans() and emtrends() give emmeans' numbers for the mgcv fit", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("emmeans")
  cs <- emmeans_case()
  # Means to 1e-6 relative, standard errors and limits to 1e-4, df to 1e-6.
  expect_summaries_close(emmeans::emmeans(cs$fit, ~fac), emmeans::emmeans(cs$ref, ~fac), "emmean",
                         label = "gaussian")
  expect_summaries_close(emmeans::emtrends(cs$fit, ~fac, var = "x1"),
                         emmeans::emtrends(cs$ref, ~fac, var = "x1"), "x1.trend", label = "trend")
  got <- emmeans::contrast(emmeans::emmeans(cs$fit, ~fac), "pairwise")
  want <- emmeans::contrast(emmeans::emmeans(cs$ref, ~fac), "pairwise")
  expect_summaries_close(got, want, "estimate", label = "contrast")
  expect_lt(rel_diff(summary(got)$p.value, summary(want)$p.value), 1e-6)
  # A random-effect smooth is left out, as emmeans does for mgcv; on the response scale.
  got <- emmeans::emmeans(cs$pois, ~fac, type = "response")
  want <- emmeans::emmeans(cs$pois_ref, ~fac, type = "response")
  expect_summaries_close(got, want, "rate", label = "poisson")
  expect_false("g" %in% names(as.data.frame(emmeans::ref_grid(cs$pois)@grid)))
  expect_summaries_close(emmeans::emtrends(cs$pois, ~fac, var = "x0"),
                         emmeans::emtrends(cs$pois_ref, ~fac, var = "x0"), "x0.trend", label = "poisson trend")
  # The frequentist covariance, as vcov(freq = TRUE).
  expect_summaries_close(emmeans::emmeans(cs$fit, ~fac, freq = TRUE), emmeans::emmeans(cs$ref, ~fac, freq = TRUE),
                         "emmean", label = "freq")
})

test_that("emmeans' arguments to warmgam are checked", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("emmeans")
  cs <- emmeans_case()
  expect_error(emmeans::emmeans(cs$fit, ~fac, freq = "yes"), "`freq`")
  expect_error(emmeans::emmeans(cs$fit, ~fac, vcov. = diag(2)), "`vcov.` must be a 30 x 30 matrix")
  expect_equal(
    summary(emmeans::emmeans(cs$fit, ~fac, vcov. = function(f) vcov(f, unconditional = TRUE)))$SE,
    summary(emmeans::emmeans(cs$ref, ~fac, unconditional = TRUE))$SE, tolerance = 1e-4
  )
})

test_that("ggeffects' ggpredict() and ggemmeans() give the mgcv fit's predictions", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("ggeffects")
  skip_if_not_installed("emmeans")
  skip_if_not_installed("insight")
  cs <- emmeans_case()
  for (pair in list(list(cs$fit, cs$ref, "gaussian"), list(cs$pois, cs$pois_ref, "poisson"))) {
    # ggeffects predicts at every value of a smooth's covariate by default only for
    # classes it knows; "[all]" asks for them (rounded to 3 digits) for both.
    got <- as.data.frame(ggeffects::ggpredict(pair[[1]], "x0 [all]"))
    want <- as.data.frame(ggeffects::ggpredict(pair[[2]], "x0 [all]"))
    expect_equal(got$x, want$x)
    # Predictions to 1e-6 relative; confidence limits to 1e-4.
    expect_lt(rel_diff(got$predicted, want$predicted), 1e-6, label = paste(pair[[3]], "ggpredict"))
    expect_lt(rel_diff(got$conf.low, want$conf.low), 1e-4, label = paste(pair[[3]], "ggpredict low"))
    expect_lt(rel_diff(got$conf.high, want$conf.high), 1e-4, label = paste(pair[[3]], "ggpredict high"))
    # Without "[all]" ggeffects takes a pretty grid for the warmgam fit; at those
    # values the predictions and limits are the mgcv fit's.
    got <- as.data.frame(suppressMessages(ggeffects::ggpredict(pair[[1]], "x0")))
    grid <- sprintf("x0 [%s]", paste(got$x, collapse = ", "))
    want <- as.data.frame(ggeffects::ggpredict(pair[[2]], grid))
    expect_equal(got$x, want$x)
    expect_lt(rel_diff(got$predicted, want$predicted), 1e-6, label = paste(pair[[3]], "ggpredict pretty"))
    expect_lt(rel_diff(got$conf.low, want$conf.low), 1e-4, label = paste(pair[[3]], "ggpredict pretty low"))
    got <- as.data.frame(ggeffects::ggpredict(pair[[1]], "fac"))
    want <- as.data.frame(ggeffects::ggpredict(pair[[2]], "fac"))
    expect_lt(rel_diff(got$predicted, want$predicted), 1e-6, label = paste(pair[[3]], "ggpredict fac"))
    expect_lt(rel_diff(got$conf.high, want$conf.high), 1e-4, label = paste(pair[[3]], "ggpredict fac high"))
    got <- as.data.frame(ggeffects::ggemmeans(pair[[1]], "fac"))
    want <- as.data.frame(ggeffects::ggemmeans(pair[[2]], "fac"))
    expect_lt(rel_diff(got$predicted, want$predicted), 1e-6, label = paste(pair[[3]], "ggemmeans"))
    expect_lt(rel_diff(got$conf.low, want$conf.low), 1e-4, label = paste(pair[[3]], "ggemmeans low"))
    expect_lt(rel_diff(got$std.error, want$std.error), 1e-4, label = paste(pair[[3]], "ggemmeans se"))
  }
})

test_that("as_mgcv() gives ggeffects' default grid of a smooth's covariate for the mgcv fit", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("ggeffects")
  skip_if_not_installed("emmeans")
  skip_if_not_installed("insight")
  cs <- emmeans_case()
  for (pair in list(list(cs$fit, cs$ref, "gaussian"), list(cs$pois, cs$pois_ref, "poisson"))) {
    m <- as_mgcv(pair[[1]])
    for (fun in c("ggpredict", "ggemmeans")) {
      f <- getExportedValue("ggeffects", fun)
      got <- as.data.frame(f(m, "x0"))
      want <- as.data.frame(f(pair[[2]], "x0"))
      label <- paste(pair[[3]], fun)
      # Every value of x0, as ggeffects takes for an mgcv fit.
      expect_identical(got$x, want$x)
      expect_equal(nrow(want), length(unique(cs$d$x0)))
      # Predictions to 1e-6 relative; standard errors and limits to 1e-4.
      expect_lt(rel_diff(got$predicted, want$predicted), 1e-6, label = label)
      expect_columns_close(got, want, c("std.error", "conf.low", "conf.high"), 1e-4, label)
    }
    # On the warmgam fit itself ggeffects takes a pretty() range (its fixed list of
    # classes for which it takes every value), as the documentation says.
    expect_lt(nrow(suppressMessages(ggeffects::ggpredict(pair[[1]], "x0"))), 20L)
  }
})
