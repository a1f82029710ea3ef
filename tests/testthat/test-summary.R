# summary() and the small methods against mgcv.

d <- sim_data()
f <- y ~ fac + s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr") + s(x3, bs = "cc")
fit <- gam_fit(f, data = d)
ref <- mgcv_reference("summary/main", f, d, method = "REML")
sw <- summary(fit)
sm <- summary(ref)

test_that("the parametric table agrees with mgcv", {
  expect_lt(rel_diff(sw$p.table, sm$p.table), 1e-5)
})

test_that("smooth term edf, Ref.df and F agree with mgcv", {
  # Columns edf, Ref.df, F: the same statistics (Wood 2013). The cyclic term has no
  # null space and is tested as a random effect, as mgcv does.
  expect_lt(rel_diff(sw$s.table[, 1:3], sm$s.table[, 1:3]), 1e-4)
  # p-values: both use Davies' algorithm (accuracy ~2e-5; warmgam falls back on
  # Imhof's inversion when it fails), so they agree to that accuracy.
  expect_lt(max(abs(sw$s.table[, 4] - sm$s.table[, 4])), 1e-4)
  expect_lt(abs(sw$r.sq - sm$r.sq), 1e-6)
  expect_lt(abs(sw$dev.expl - sm$dev.expl), 1e-6)
  expect_output(print(sw), "R-sq.\\(adj\\)")
  expect_output(print(fit), "REML score")
})

test_that("logLik, residuals and vcov follow mgcv", {
  expect_lt(abs(as.numeric(logLik(fit)) - as.numeric(logLik(ref))), 1e-6)
  for (type in c("deviance", "pearson", "working", "response")) {
    expect_lt(rel_diff(residuals(fit, type), residuals(ref, type)), 1e-5)
  }
  expect_lt(rel_diff(vcov(fit), vcov(ref)), 1e-4)
  expect_equal(nobs(fit), nrow(d))
  expect_identical(formula(fit), f)
  expect_identical(family(fit)$family, "gaussian")
})
