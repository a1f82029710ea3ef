# plot(), gam_check(), k_check() and anova() against predict() and mgcv.

check_data <- function() {
  d <- sim_data(500, seed = 21)
  d$day <- (seq_len(nrow(d)) %% 30) / 30
  d
}

test_that("every panel's data is predict(type = 'terms', se.fit = TRUE) on its grid", {
  local_store()
  d <- check_data()
  fit <- gam_fit(y ~ s(x0, bs = "cr") + s(z, bs = "ps") + s(day, bs = "cc") + s(x1, x2, k = 20) +
                   s(x3, by = fac) + fac + w, data = d)
  panels <- render(plot(fit, residuals = TRUE, pages = 1, all.terms = TRUE, shade = TRUE))
  expect_equal(vapply(panels, `[[`, "", "label"),
               c(names(fit$smooth), "fac", "w"))
  for (p in panels) {
    pred <- predict(fit, newdata = p$data, type = "terms", se.fit = TRUE)
    expect_lt(max(abs(p$fit - pred$fit[, p$label])), 1e-8, label = p$label)
    expect_lt(max(abs(p$se - pred$se.fit[, p$label])), 1e-8, label = p$label)
  }
  # Partial residuals are the working residuals plus the term's fitted values.
  first <- panels[[1]]
  expect_equal(first$p_resid, unname(predict(fit, type = "terms")[, "s(x0)"] + residuals(fit, "working")),
               tolerance = 1e-12)
  # The two-dimensional panel is a grid, with points far from the data left out.
  tp2 <- panels[[4]]
  expect_equal(nrow(tp2$data), 40^2)
  expect_type(tp2$excluded, "logical")
  # One panel, other options.
  one <- render(plot(fit, select = 2, trans = exp, shade = FALSE, rug = FALSE))
  expect_length(one, 1)
  expect_error(plot(fit, select = 9), "select", class = "warmgam_error_argument")
})

test_that("autoplot() draws plot()'s panels with ggplot2, from the same data", {
  skip_if_not_installed("ggplot2")
  local_store()
  d <- check_data()
  d$g <- factor(sample(letters[1:8], nrow(d), replace = TRUE))
  fit <- gam_fit(y ~ s(x0, bs = "cr") + s(x1, x2, k = 20) + s(g, bs = "re") + fac, data = d)
  plots <- ggplot2::autoplot(fit, residuals = TRUE, all.terms = TRUE)
  expect_s3_class(plots, "warmgam_ggplots")
  panels <- render(plot(fit, residuals = TRUE, all.terms = TRUE))
  expect_length(plots, length(panels))
  for (i in seq_along(plots)) {
    expect_s3_class(plots[[i]], "ggplot")
    expect_lt(max(abs(plots[[i]]$data$fit - panels[[i]]$fit), na.rm = TRUE), 1e-12)
  }
  # The 1-D smooth's band is predict()'s, 2 standard errors wide.
  pred <- predict(fit, newdata = panels[[1]]$data, type = "terms", se.fit = TRUE)
  lab <- panels[[1]]$label
  expect_lt(max(abs(plots[[1]]$data$upper - (pred$fit[, lab] + 2 * pred$se.fit[, lab]))), 1e-8)
  render(print(plots))
  one <- ggplot2::autoplot(fit, select = 1, trans = exp, unconditional = TRUE)
  expect_s3_class(one, "ggplot")
  render(print(one))
  expect_error(ggplot2::autoplot(fit, select = 7), "select", class = "warmgam_error_argument")
})

test_that("seWithMean bands match mgcv's", {
  local_store()
  d <- check_data()
  f <- y ~ s(x0, bs = "cr") + s(x2, bs = "cr")
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("check/seWithMean", f, d, method = "REML")
  mine <- render(plot(fit, seWithMean = TRUE))
  theirs <- render(mgcv_call("plot.gam", ref, seWithMean = TRUE, n = 100))
  for (i in 1:2) {
    # mgcv returns the band half-width (2 standard errors).
    expect_lt(rel_diff(mine[[i]]$se, theirs[[i]]$se / 2), 1e-5)
    expect_lt(rel_diff(mine[[i]]$fit, theirs[[i]]$fit), 1e-5)
  }
})

test_that("k_check() agrees with mgcv's k.check()", {
  local_store()
  d <- check_data()
  f <- y ~ s(x0, bs = "cr") + s(x1, x2, k = 20) + s(x3, bs = "ps")
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("check/k_check", f, d, method = "REML")
  mine <- k_check(fit)
  theirs <- mgcv_call("k.check", ref)
  expect_equal(rownames(mine), rownames(theirs))
  expect_equal(unname(mine[, "k'"]), unname(theirs[, "k'"]))
  expect_lt(max(abs(mine[, "edf"] - theirs[, "edf"])), 1e-4)
  # k-index: within 1e-2 (the p-value is randomized in both and is not compared).
  expect_lt(max(abs(mine[, "k-index"] - theirs[, "k-index"])), 1e-2)
  expect_true(all(mine[, "p-value"] >= 0 & mine[, "p-value"] <= 1))
})

test_that("gam_check() draws four panels and reports convergence and k", {
  local_store()
  d <- check_data()
  fit <- gam_fit(y ~ s(x0) + s(x2), data = d)
  out <- NULL
  expect_output(render(out <- gam_check(fit)), "Full convergence")
  expect_true(out$converged)
  expect_true(all(out$hessian_range > 0))
  expect_equal(rownames(out$k_table), c("s(x0)", "s(x2)"))
  expect_output(gam_check(fit, plot = FALSE), "Basis dimension")
  expect_error(gam_check(lm(y ~ x0, d)), "gam_fit", class = "warmgam_error_argument")
})

test_that("anova() on one fit gives mgcv's term tests", {
  local_store()
  d <- check_data()
  f <- y ~ s(x0) + s(x1, x2, k = 20) + s(x3, bs = "cr") + fac + I(z^2)
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("check/anova", f, d, method = "REML")
  mine <- anova(fit)
  theirs <- anova(ref)
  expect_equal(rownames(mine$pTerms.table), rownames(theirs$pTerms.table))
  expect_lt(rel_diff(mine$pTerms.table[, "F"], theirs$pTerms.table[, "F"]), 1e-4)
  expect_lt(rel_diff(mine$pTerms.table[, "p-value"], theirs$pTerms.table[, "p-value"]), 1e-4)
  expect_equal(mine$pTerms.table[, "df"], theirs$pTerms.table[, "df"])
  expect_lt(rel_diff(mine$s.table[, "F"], theirs$s.table[, "F"]), 1e-4)
  expect_output(print(mine), "Parametric Terms")
})

test_that("anova() compares nested fits", {
  local_store()
  d <- check_data()
  small <- gam_fit(y ~ s(x0), data = d)
  large <- gam_fit(y ~ s(x0) + s(x2), data = d)
  tab <- anova(small, large, test = "Chisq")
  expect_s3_class(tab, "anova")
  expect_equal(tab$Deviance[[2]], small$deviance - large$deviance)
  expect_lt(tab[["Pr(>Chi)"]][[2]], 1e-6)
  ftab <- anova(small, large, test = "F")
  expect_true(is.finite(ftab$F[[2]]))
  expect_error(anova(small, lm(y ~ x0, d)), "gam_fit", class = "warmgam_error_argument")
  expect_error(anova(small, large, test = "Cp"), "test", class = "warmgam_error_argument")
})

test_that("concurvity() agrees with mgcv's, whole and pairwise", {
  local_store()
  d <- check_data()
  set.seed(3)
  d$x4 <- d$x1 + rnorm(nrow(d), sd = 0.1) # nearly the same covariate as x1
  f <- y ~ s(x0) + s(x1, bs = "cr") + s(x4, bs = "cr") + fac
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("check/concurvity", f, d, method = "REML")
  whole <- concurvity(fit)
  expect_equal(dimnames(whole), dimnames(mgcv_call("concurvity", ref)))
  expect_lt(max(abs(whole - mgcv_call("concurvity", ref))), 1e-4)
  pairs <- concurvity(fit, full = FALSE)
  theirs <- mgcv_call("concurvity", ref, full = FALSE)
  for (m in c("worst", "observed", "estimate")) expect_lt(max(abs(pairs[[m]] - theirs[[m]])), 1e-4)
  # x1 and x4 nearly coincide: each is almost entirely explained by the other.
  expect_gt(pairs$worst["s(x1)", "s(x4)"], 0.8)
  expect_error(concurvity(gam_fit(y ~ x0, data = d)), "no smooth", class = "warmgam_error_argument")
})
