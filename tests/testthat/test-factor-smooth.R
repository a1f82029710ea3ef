# Factor smooth interactions, s(x, g, bs = "fs"), against mgcv.

fs_data <- function(n = 400, seed = 1) {
  set.seed(seed)
  x <- runif(n)
  g <- factor(sample(letters[1:5], n, replace = TRUE))
  eff <- rnorm(5)
  data.frame(x = x, g = g, z = runif(n),
             y = sin(3 * x) + eff[as.integer(g)] * x + 0.3 * eff[as.integer(g)] + rnorm(n) * 0.3)
}

test_that("fs with a one-dimensional null space is mgcv's model exactly", {
  local_store()
  d <- fs_data()
  models <- list(`fs-m1` = y ~ s(x, g, bs = "fs", m = 1), `fs-m1-plus` = y ~ s(x, g, bs = "fs", m = 1, k = 8) + s(z))
  for (case in names(models)) {
    f <- models[[case]]
    fit <- gam_fit(f, data = d)
    ref <- mgcv_reference(paste0("factor-smooth/", case), f, d, method = "REML")
    expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
    expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3)
    expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-5)
    # Both fs parameters (wiggliness, constant); s(z) is at its bound in both.
    expect_lt(max(abs(log(fit$sp[1:2]) - log(ref$sp[1:2]))), 1e-3)
    expect_equal(names(fit$sp), names(ref$sp))
    nd <- d[1:30, ]
    nd$x <- seq(0, 1, length.out = 30)
    p <- predict(fit, nd, se.fit = TRUE)
    q <- predict(ref, nd, se.fit = TRUE)
    expect_lt(rel_diff(p$fit, q$fit), 1e-5)
    expect_lt(rel_diff(p$se.fit, q$se.fit), 1e-4)
  }
})

test_that("fs with a larger null space: warmgam's basis, fitted as mgcv fits it", {
  # mgcv is given warmgam's own basis here, so its fit cannot be stored: mgcv runs.
  skip_if_not_installed("mgcv")
  local_store()
  d <- fs_data()
  for (xt in c("tp", "cr")) {
    fit <- gam_fit(y ~ s(x, g, bs = "fs", xt = xt, k = 6), data = d)
    sm <- fit$smooth[[1]]
    expect_equal(fit$smooth[[1]]$n_penalties, 3) # wiggliness, then two null directions
    # mgcv's null-space basis is set by rounding, so compare the fit of warmgam's
    # basis and penalties: mgcv given the same model matrix and penalties (paraPen)
    # must reach the same optimum.
    X <- predict(fit, type = "lpmatrix")
    cols <- sm$first:sm$last
    p <- length(cols)
    S <- lapply(seq_len(3), function(i) {
      matrix(sm$state$penalty[(i - 1) * p * p + seq_len(p * p)], p, p)
    })
    Xf <- X[, cols]
    ref <- mgcv_fit(y ~ Xf, data = list(y = d$y, Xf = Xf), paraPen = list(Xf = S), method = "REML")
    expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
    expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-3)
    expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3)
  }
})

test_that("fs with a larger null space is close to mgcv's own fs fit, whose null basis differs", {
  local_store()
  d <- fs_data()
  for (xt in c("tp", "cr")) {
    fit <- gam_fit(y ~ s(x, g, bs = "fs", xt = xt, k = 6), data = d)
    own <- mgcv_reference(paste0("factor-smooth/fs-own-", xt), y ~ s(x, g, bs = "fs", xt = xt, k = 6), d,
                          method = "REML")
    expect_lt(rel_diff(fitted(fit), fitted(own)), 0.1)
  }
})

test_that("fs terms predict unseen levels as zero, plot one curve per level, and check input", {
  local_store()
  d <- fs_data()
  fit <- gam_fit(y ~ s(x, g, bs = "fs", k = 6), data = d)
  nd <- data.frame(x = c(0.2, 0.5), g = factor(c("zz", "a")))
  terms <- predict(fit, nd, type = "terms")
  expect_equal(unname(terms[1, "s(x,g)"]), 0)
  expect_true(terms[2, "s(x,g)"] != 0)
  path <- tempfile(fileext = ".png")
  grDevices::png(path)
  panels <- plot(fit)
  grDevices::dev.off()
  expect_true(panels[[1]]$fs)
  expect_equal(nrow(panels[[1]]$data), 100 * 5)
  pred <- predict(fit, panels[[1]]$data, type = "terms", se.fit = TRUE)
  expect_lt(max(abs(panels[[1]]$fit - pred$fit[, "s(x,g)"])), 1e-8)
  if (requireNamespace("ggplot2", quietly = TRUE)) {
    expect_s3_class(ggplot2::autoplot(fit), "ggplot")
  }
  # The store rebuilds the basis: an exact hit predicts as the fit.
  again <- gam_fit(y ~ s(x, g, bs = "fs", k = 6), data = d)
  expect_identical(again$warm_start$source, "exact")
  expect_identical(predict(again, d[1:10, ]), predict(fit, d[1:10, ]))
  expect_error(gam_fit(y ~ s(x, z, bs = "fs"), data = d), "exactly one factor", class = "warmgam_error_covariate")
  expect_error(gam_fit(y ~ s(g, bs = "fs"), data = d), "exactly one factor", class = "warmgam_error_covariate")
  expect_error(gam_fit(y ~ s(x, g, bs = "fs", xt = "re"), data = d), "xt", class = "warmgam_error_basis")
  expect_error(gam_fit(y ~ s(x, g, bs = "fs", by = z), data = d), "by", class = "warmgam_error_basis")
})
