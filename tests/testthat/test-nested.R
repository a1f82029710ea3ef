# Nested smooths made identifiable as mgcv's gam.side() does (issue 17): the larger
# term loses the columns the smaller ones span, as mgcv chooses them.

nested_data <- function(n = 600, seed = 4) {
  set.seed(seed)
  d <- data.frame(x = runif(n), z = runif(n), fac = factor(sample(c("a", "b", "c"), n, replace = TRUE)))
  d$y <- sin(3 * d$x) + d$z^2 + 0.5 * d$x * d$z + 0.3 * as.numeric(d$fac) + rnorm(n) * 0.3
  d$count <- stats::rpois(n, exp(0.5 + sin(3 * d$x) + d$z))
  d
}

# A model's deleted columns (0-based, per term) as one string, for messages.
deleted_columns <- function(fit) {
  vapply(fit$smooth, function(sm) paste(sm$state$deleted, collapse = ","), "")
}

test_that("nested smooths agree with mgcv's fits", {
  local_store()
  d <- nested_data()
  nd <- redrawn_rows(d, c("x", "z"), seed = 7)
  cases <- list(
    # cr margins: mgcv's basis, so the coefficients agree too.
    list(key = "s-te", f = y ~ s(x, bs = "cr") + te(x, z), coef = 1e-6),
    list(key = "s-s-te", f = y ~ s(x, bs = "cr") + s(z, bs = "cr") + te(x, z), coef = 1e-6),
    # Thin plate terms: the same space, so fitted values agree; coefficients differ by column signs.
    list(key = "s-s2", f = y ~ s(x) + s(x, z)),
    list(key = "ti-te", f = y ~ ti(x, z) + te(x, z), coef = 1e-6),
    list(key = "by-factor", f = y ~ fac + s(x, bs = "cr", by = fac) + te(x, z, by = fac), coef = 1e-6),
    list(key = "no-intercept", f = y ~ s(x, bs = "cr") + te(x, z) - 1, coef = 1e-6),
    list(key = "factor-no-intercept", f = y ~ fac - 1 + s(x, bs = "cr") + te(x, z), coef = 1e-6),
    list(key = "ps", f = y ~ s(x, bs = "ps") + te(x, z, bs = "ps"), method = "ML", coef = 1e-6)
  )
  for (cs in cases) {
    method <- cs$method %||% "REML"
    label <- deparse_one(cs$f)
    fit <- gam_fit(cs$f, data = d, method = method)
    ref <- mgcv_reference(paste0("nested/", cs$key), cs$f, d, method = method)
    expect_equal(length(coef(fit)), length(coef(ref)), label = paste(label, "coefficients"))
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-6, crit_tol = 1e-6, coef_tol = cs$coef, label = label)
    # The columns deleted are mgcv's (its del.index, 1-based, is these plus one).
    expect_equal(unname(deleted_columns(fit)), mgcv_call("deleted_columns", ref), label = paste(label, "deleted"))
    expect_true(any(nzchar(deleted_columns(fit))), label = label)
    expect_equal(names(fit$sp), names(ref$sp), label = label)
  }
})

test_that("a nested generalized model, its summary and the store agree with mgcv", {
  local_store()
  d <- nested_data()
  f <- count ~ s(x) + s(z) + te(x, z)
  fit <- gam_fit(f, data = d, family = poisson())
  ref <- mgcv_reference("nested/poisson", f, d, method = "REML", family = poisson())
  expect_agrees_with_mgcv(fit, ref, d[1:40, ], fitted_tol = 1e-6, type = "response", label = "poisson")
  # Term tests on the reduced term: edf and p-values as mgcv's.
  expect_lt(rel_diff(summary(fit)$s.table[, "edf"], summary(ref)$s.table[, "edf"]), 1e-4)
  expect_lt(rel_diff(summary(fit)$s.table[, 1:3], summary(ref)$s.table[, 1:3]), 1e-4)
  expect_equal(unname(deleted_columns(fit)), mgcv_call("deleted_columns", ref))
  # An exact hit of the store rebuilds the reduced term from its stored state.
  again <- gam_fit(f, data = d, family = poisson())
  expect_equal(again$warm_start$source, "exact")
  expect_equal(unname(deleted_columns(again)), unname(deleted_columns(fit)))
  expect_equal(predict(again, d[1:40, ]), predict(fit, d[1:40, ]), tolerance = 1e-10)
  # Terms and lpmatrix predictions use the reduced columns.
  X <- predict(fit, d[1:40, ], type = "lpmatrix")
  expect_equal(ncol(X), length(coef(fit)))
  expect_equal(unname(drop(X %*% coef(fit))), unname(predict(fit, d[1:40, ])), tolerance = 1e-10)
  expect_equal(rowSums(predict(fit, d[1:40, ], type = "terms")) + attr(predict(fit, d[1:40, ], type = "terms"), "constant"),
               predict(fit, d[1:40, ]), tolerance = 1e-10, ignore_attr = TRUE)
})

test_that("models that are not nested, or exempt as in mgcv, delete nothing", {
  local_store()
  d <- nested_data(200)
  for (f in c("y ~ s(x) + s(z) + ti(x, z)", "y ~ s(x) + s(fac, x, bs = 're')", "y ~ s(x) + s(x, fac, bs = 'fs')")) {
    fit <- gam_fit(stats::as.formula(f), data = d)
    expect_true(all(deleted_columns(fit) == ""), label = f)
  }
  # As mgcv, repeated one-dimensional smooths of one variable are made identifiable,
  # with mgcv's warning.
  expect_warning(fit <- gam_fit(y ~ s(x, bs = "cr") + s(x, bs = "ps"), data = d), "repeated 1-d smooths")
  expect_true(nzchar(deleted_columns(fit)[[2]]))
})
