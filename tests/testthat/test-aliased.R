# Aliased parametric coefficients fixed at zero, and the model set up without
# fitting (gam_fit(fit = FALSE)), as mgcv's (issue 17).

aliased_data <- function(n = 300, seed = 1) {
  set.seed(seed)
  d <- data.frame(x = runif(n), z = runif(n))
  d$y <- sin(4 * d$x) + d$z + rnorm(n) * 0.3
  d$x2 <- 2 * d$x
  d$f <- factor(rep(c("a", "b", "c"), length.out = n))
  d$g <- factor(rep(c("u", "v"), each = 1, length.out = n))
  d$g[d$f == "c"] <- "u"
  d$count <- stats::rpois(n, exp(0.3 + d$z))
  d
}

test_that("aliased parametric columns are fixed at zero, as mgcv fixes them", {
  local_store()
  d <- aliased_data()
  nd <- d[1:25, ]
  # Tolerances: 1e-6 relative in fitted values, predictions and criterion (mgcv's
  # REML counts the aliased column in its null space, and so does warmgam's); the
  # parametric table's estimates and standard errors 1e-6, NaN where mgcv's are.
  cases <- list(
    list(key = "smooth", f = y ~ x + s(x), aliased = "x"),
    list(key = "cr", f = y ~ x + s(x, bs = "cr") + s(z, bs = "cr"), aliased = "x"),
    list(key = "proportional", f = y ~ x + x2 + s(z), aliased = "x"),
    list(key = "empty-cell", f = y ~ f * g + s(z), aliased = "fc:gv"),
    # In these two mgcv zeroes one of the smooth's coefficients instead (its choice
    # comes from a pivoted QR with the penalties at the current smoothing
    # parameters): the same fitted values, another parameterization, and (through
    # the log determinant of the reduced system) a REML value 3e-5 away.
    list(key = "gcv", f = y ~ x + s(x, bs = "cr"), aliased = "x", method = "GCV.Cp", mgcv_other = TRUE),
    list(key = "poisson", f = count ~ z + s(z, bs = "cr"), aliased = "z", family = poisson(), mgcv_other = TRUE)
  )
  for (cs in cases) {
    method <- cs$method %||% "REML"
    family <- cs$family %||% gaussian()
    label <- deparse_one(cs$f)
    expect_message(fit <- gam_fit(cs$f, data = d, method = method, family = family),
                   paste0("`", cs$aliased, "`"), fixed = TRUE)
    ref <- mgcv_reference(paste0("aliased/", cs$key), cs$f, d, method = method, family = family)
    expect_equal(fit$aliased, cs$aliased, label = label)
    expect_equal(unname(coef(fit)[cs$aliased]), 0, label = label)
    other <- isTRUE(cs$mgcv_other)
    expect_agrees_with_mgcv(fit, ref, nd, type = if (is.null(cs$family)) "link" else "response", label = label,
                            crit_tol = if (other) 1e-4 else 1e-6, se_tol = if (other) Inf else 1e-4)
    if (other) next
    mine <- summary(fit)$p.table
    theirs <- summary(ref)$p.table
    expect_equal(is.nan(mine), is.nan(theirs), label = label)
    expect_lt(rel_diff(mine[, 1:2][!is.nan(mine[, 1:2])], theirs[, 1:2][!is.nan(theirs[, 1:2])]), 1e-6, label = label)
  }
})

test_that("smooth terms that share unpenalized directions fit as mgcv's rank-deficient fit", {
  # s(x) + s(x, by = fac): the by-level terms add up to s(x), and their linear parts
  # are in no penalty's range. mgcv keeps every column and its solve fixes the
  # direction; warmgam leaves one column of the first level's term out. The space and
  # penalties are the same, so fitted values, predictions with standard errors and
  # the criterion agree (1e-6), and so do the per-term edf (1e-4) here. Coefficients
  # differ in how the direction is fixed (one fewer here); smoothing parameters
  # that run to infinity (a level's term reduced to its line) are compared by edf.
  d <- aliased_data()
  d$fac <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  nd <- d[1:40, ]
  nd$x <- seq(0.05, 0.95, length.out = 40)
  cases <- list(
    list(key = "shared-tp", f = y ~ s(x) + s(x, by = fac)),
    list(key = "shared-cr-factor", f = y ~ fac + s(x, bs = "cr") + s(x, by = fac, bs = "cr")),
    list(key = "shared-poisson", f = count ~ fac + s(x) + s(x, by = fac), family = poisson())
  )
  for (cs in cases) {
    label <- deparse_one(cs$f)
    family <- cs$family %||% gaussian()
    expect_message(fit <- gam_fit(cs$f, data = d, family = family, cache = FALSE),
                   "1 unpenalized direction.*`s\\(x\\):faca`")
    ref <- mgcv_reference(paste0("aliased/", cs$key), cs$f, d, method = "REML", family = family)
    expect_equal(length(coef(fit)), length(coef(ref)) - 1L, label = label)
    expect_agrees_with_mgcv(fit, ref, nd, type = if (is.null(cs$family)) "link" else "response", label = label)
    expect_lt(max(abs(summary(fit)$s.table[, "edf"] - summary(ref)$s.table[, "edf"])), 1e-4, label = label)
    expect_length(fit$smooth[[2]]$state$deleted, 1L)
    expect_equal(unname(lengths(lapply(fit$smooth[-2], function(sm) sm$state$deleted))), c(0L, 0L, 0L), label = label)
    expect_equal(nrow(predict(fit, nd, type = "lpmatrix")), nrow(nd))
  }
})

test_that("fit = FALSE gives the model matrix and penalties, as mgcv's", {
  d <- aliased_data()
  f <- y ~ x + s(z, bs = "cr") + te(x, z)
  setup <- gam_fit(f, data = d, fit = FALSE)
  expect_s3_class(setup, "warmgam_setup")
  expect_output(print(setup), "not fitted")
  fit <- gam_fit(f, data = d, cache = FALSE)
  ref <- mgcv_reference("aliased/setup", f, d, method = "REML")
  G <- mgcv_call("setup", ref)
  # cr and te(cr) bases are mgcv's: the same columns and penalties (1e-10).
  expect_equal(colnames(setup$X), names(coef(fit)))
  expect_lt(rel_diff(setup$X, G$X), 1e-10)
  expect_equal(unname(setup$off), G$off)
  for (i in seq_along(G$S)) expect_lt(rel_diff(setup$S[[i]], G$S[[i]]), 1e-10)
  expect_equal(unname(setup$sp_index), 1:3)
  expect_equal(drop(setup$X %*% coef(fit)), unname(fit$linear.predictors), tolerance = 1e-10)
  expect_error(gam_fit(f, data = d, fit = NA), "`fit`", class = "warmgam_error_argument")
})

test_that("G = a set-up fits that model, as mgcv's gam(G = G); an edited mgcv set-up is refused", {
  skip_if_not_installed("mgcv")
  local_store()
  d <- gam_sim(1, n = 300, dist = "poisson", scale = 0.3)
  d$wt <- rep(c(1, 2), 150)
  d$off <- log(rep(c(1, 1.5), each = 150))
  f <- y ~ s(x0) + s(x1, bs = "cr") + offset(off)
  G <- mgcv::gam(f, data = d, family = poisson(), weights = wt, fit = FALSE)
  fit <- gam_fit(G = G, method = "REML")
  direct <- gam_fit(f, data = d, family = poisson(), weights = wt, method = "REML")
  # The same model as the formula's: the same fit, to the last bits.
  expect_equal(fitted(fit), fitted(direct), tolerance = 1e-12)
  ref <- mgcv_reference("aliased/G-poisson", f, d, family = quote(poisson()), weights = d$wt, method = "REML")
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(unname(fit$criterion) - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8)
  # warmgam's own set-up too.
  own <- gam_fit(f, data = d, family = poisson(), weights = wt, fit = FALSE)
  expect_equal(fitted(gam_fit(G = own, method = "REML")), fitted(direct), tolerance = 1e-12)
  # Every smoothing parameter given: mgcv reads them from G$lsp0, which mgcv's ?gam
  # example edits after the set-up; so does warmgam.
  g <- y ~ s(x0) + s(x1, bs = "cr")
  fixed <- mgcv::gam(g, data = d, family = poisson(), sp = c(0.5, 2), fit = FALSE)
  fixed$lsp0 <- log(c(5, 20))
  expect_equal(fitted(gam_fit(G = fixed)), fitted(gam_fit(g, data = d, family = poisson(), sp = c(5, 20))),
               tolerance = 1e-12)
  # An edited set-up would be fitted wrong from its formula: refused.
  edited <- G
  edited$X[, 2] <- 2 * edited$X[, 2]
  expect_error(gam_fit(G = edited), "differs from the set-up", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x0), G = G), "do not also give `formula`", class = "warmgam_error_argument")
  expect_error(gam_fit(G = list()), "`G` must be", class = "warmgam_error_argument")
})
