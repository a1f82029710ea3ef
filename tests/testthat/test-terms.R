# Term constructors s(), te() and ti(): their arguments, as mgcv's.

test_that("arguments only mgcv's constructors read send the term there; unknown ones are errors", {
  d <- sim_data(200)
  for (f in c("y ~ ti(x1, x2, mc = c(0, 1))", "y ~ te(x1, x2, xt = list(max.knots = 100))",
              "y ~ te(x1, x2, np = FALSE)")) {
    fit <- gam_fit(stats::as.formula(f), data = d, cache = FALSE)
    expect_equal(fit$smooth[[1]]$class, "mgcv", label = f)
  }
  expect_error(gam_fit(y ~ te(x1, x2, fx = c(TRUE, FALSE)), data = d), "`fx = c\\(TRUE, FALSE\\)`.*some margins",
               class = "warmgam_error_argument")
  # mgcv's s() has no `mc` or `np`; an unknown argument is named, not taken for a covariate.
  expect_error(gam_fit(y ~ s(x0, np = TRUE), data = d), "no argument `np`", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x0, kk = 5), data = d), "no argument `kk`", class = "warmgam_error_argument")
})

test_that("fx, sp and pc give mgcv's fits", {
  local_store()
  d <- sim_data(500)
  nd <- new_points(d, 30)
  # cr bases are mgcv's: coefficients agree too. Tolerances: 1e-6 relative in fitted
  # values, predictions and coefficients, 1e-6 in the criterion, 1e-4 in se.
  cases <- list(
    list(key = "fx", f = y ~ s(x0, bs = "cr", fx = TRUE, k = 6) + s(x2, bs = "cr")),
    list(key = "pc", f = y ~ s(x0, bs = "cr", pc = 0.5) + s(x2, bs = "cr")),
    list(key = "pc-by", f = y ~ s(x0, bs = "cr", by = x1, pc = list(x0 = 0.2)) + s(x2, bs = "cr")),
    list(key = "sp", f = y ~ s(x0, bs = "cr", sp = 0.3) + s(x2, bs = "cr")),
    list(key = "te-sp", f = y ~ te(x1, x2, sp = c(0.1, -1))),
    list(key = "fx-nested", f = y ~ s(x1, bs = "cr", fx = TRUE) + te(x1, x2, fx = TRUE))
  )
  for (cs in cases) {
    label <- deparse_one(cs$f)
    fit <- gam_fit(cs$f, data = d)
    ref <- mgcv_reference(paste0("terms/", cs$key), cs$f, d, method = "REML")
    expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6, label = label)
    expect_lt(rel_diff(summary(fit)$s.table[, 1:3], summary(ref)$s.table[, 1:3]), 1e-6, label = label)
  }
  # A term's own sp is fixed (and reported with the estimated ones; mgcv's `sp` holds
  # only the estimated, its `full.sp` all).
  fit <- gam_fit(y ~ s(x0, bs = "cr", sp = 0.3) + s(x2, bs = "cr"), data = d)
  expect_equal(unname(fit$sp[[1]]), 0.3)
  # It overrides gam_fit(sp = ), as in mgcv.
  both <- gam_fit(y ~ s(x0, bs = "cr", sp = 0.3) + s(x2, bs = "cr"), data = d, sp = c(5, -1))
  expect_equal(fitted(both), fitted(fit), tolerance = 1e-9)
  # An unpenalized term has no smoothing parameter and edf k - 1.
  fx <- gam_fit(y ~ s(x0, bs = "cr", fx = TRUE, k = 6) + s(x2, bs = "cr"), data = d)
  expect_equal(names(fx$sp), "s(x2)")
  expect_equal(sum(fx$edf[grep("^s\\(x0\\)", names(fx$edf))]), 5, tolerance = 1e-12)
  # A point constraint makes the term zero there (mgcv 1.8-41's te() fails on `pc`,
  # so this one is checked by its definition).
  pc <- gam_fit(y ~ te(x1, x2, pc = list(x1 = 0.5, x2 = 0.4)), data = d)
  expect_lt(abs(predict(pc, data.frame(x1 = 0.5, x2 = 0.4), type = "terms")[[1]]), 1e-12)
  expect_error(gam_fit(y ~ s(x0, sp = c(1, 2)), data = d), "`sp` of `s\\(x0\\)` has 2 entries")
  expect_error(s(x0, pc = list(z = 1)), "`pc` of `s\\(x0\\)` must hold one finite number for `x0`",
               class = "warmgam_error_argument")
  expect_error(s(x0, fx = TRUE, sp = 1), "`fx = TRUE`.*and `sp`", class = "warmgam_error_argument")
  expect_error(s(g, bs = "re", pc = 1), "`pc` of `s\\(g\\)` does not apply", class = "warmgam_error_argument")
})

test_that("mgcv's default values of those arguments are accepted", {
  d <- sim_data(200)
  ref <- gam_fit(y ~ s(x0) + te(x1, x2), data = d, cache = FALSE)
  fit <- gam_fit(y ~ s(x0, fx = FALSE, sp = NULL, pc = NULL) +
                   te(x1, x2, fx = FALSE, np = TRUE, xt = NULL, sp = NULL, pc = NULL),
                 data = d, cache = FALSE)
  expect_equal(fitted(fit), fitted(ref), tolerance = 1e-12)
  fit_ti <- gam_fit(y ~ s(x1) + s(x2) + ti(x1, x2, mc = NULL, fx = c(FALSE, FALSE)), data = d, cache = FALSE)
  expect_s3_class(fit_ti, "warmgam")
})

test_that("k that is not whole or below the basis's minimum is treated as mgcv does", {
  d <- sim_data(300)
  # mgcv rounds k (5.5 to 6) and raises one below the minimum (k = 0 to 3 for tp and
  # cr, 3 to 4 for cc; a te() k below 3 resets every margin to 5), with a warning.
  # Tolerances as test-bases.R: 1e-6 relative in fitted values (1e-4 for tp), total
  # edf 1e-3, criterion 1e-6 relative.
  cases <- list(
    `k-5.5` = list(f = y ~ s(x2, k = 5.5), tol = 1e-4, warning = "rounded to 6"),
    `k-0` = list(f = y ~ s(x2, k = 0), tol = 1e-4, warning = "increased to minimum possible \\(3"),
    `k-2-cr` = list(f = y ~ s(x2, k = 2, bs = "cr"), tol = 1e-6, warning = "increased to minimum possible \\(3"),
    `k-3-cc` = list(f = y ~ s(x2, k = 3, bs = "cc"), tol = 1e-6, warning = "increased to minimum possible \\(4"),
    `k-3-tp2d` = list(f = y ~ s(x1, x2, k = 3), tol = 1e-4, warning = "increased to minimum possible \\(4"),
    `k-2-te` = list(f = y ~ te(x1, x2, k = 2), tol = 1e-6, warning = "reset to the default"),
    `k-3-te-cc` = list(f = y ~ te(x1, x2, k = c(3, 5), bs = c("cc", "cr")), tol = 1e-6,
                       warning = "minimum possible \\(4")
  )
  for (name in names(cases)) {
    case <- cases[[name]]
    label <- deparse(case$f)
    expect_warning(fit <- gam_fit(case$f, data = d, cache = FALSE), case$warning, label = label)
    ref <- mgcv_reference(paste0("terms/", name), case$f, d, method = "REML")
    expect_equal(length(coef(fit)), length(coef(ref)), label = label)
    expect_lt(rel_diff(fitted(fit), fitted(ref)), case$tol, label = paste(label, "fitted"))
    expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3, label = paste(label, "edf"))
    expect_lt(abs(fit$criterion - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-6, label = paste(label, "criterion"))
  }
  # mgcv fails for a P-spline with k below its order; so does warmgam, naming `k`.
  expect_error(gam_fit(y ~ s(x2, k = 0, bs = "ps"), data = d), "`k` of `s\\(x2\\)` is 0",
               class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x2, k = Inf), data = d), "`k`", class = "warmgam_error_argument")
})

test_that("xt = list(max.knots, seed) sets a thin plate spline's point subsample, as mgcv's", {
  set.seed(5)
  d <- gam_sim(1, n = 900, dist = "normal", scale = 2)
  nd <- new_points(d)
  # Tolerances as test-bases.R's subsample test: the same points give the same basis
  # up to mgcv's Lanczos eigenvectors (1e-6 in fitted values); ignoring max.knots,
  # as before, was 1e-2 off.
  models <- list(`max-knots` = y ~ s(x2, xt = list(max.knots = 300)) + x0,
                 `max-knots-seed` = y ~ s(x1, x2, k = 20, xt = list(max.knots = 200, seed = 7)))
  for (name in names(models)) {
    f <- models[[name]]
    label <- deparse(f)
    fit <- gam_fit(f, data = d, cache = FALSE)
    ref <- mgcv_reference(paste0("terms/", name), f, d, method = "REML")
    expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6, label = paste(label, "fitted"))
    expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-4, label = paste(label, "edf"))
    expect_lt(abs(fit$criterion - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8, label = paste(label, "criterion"))
    expect_lt(rel_diff(log(fit$sp), log(ref$sp)), 1e-4, label = paste(label, "log sp"))
    expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-6, label = paste(label, "predict"))
  }
  expect_equal(fit$smooth[[1]]$state$points_dim[[1]], 200)
})

test_that("every other use of xt is an error naming it", {
  d <- sim_data(200)
  d$g <- factor(sample(letters[1:5], nrow(d), replace = TRUE))
  # mgcv's penalty list for a random effect: built by mgcv's constructor.
  expect_equal(gam_fit(y ~ s(g, bs = "re", xt = list(S = list(diag(5)))), data = d, cache = FALSE)$smooth[[1]]$class,
               "mgcv")
  expect_error(gam_fit(y ~ s(x2, bs = "cr", xt = list(max.knots = 50)), data = d),
               "`xt` of `s\\(x2\\)`", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x2, xt = list(foo = 1)), data = d), "holds `foo`", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x2, xt = 500), data = d), "an unnamed value", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x2, xt = list(max.knots = 0)), data = d), "max.knots", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x2, g, bs = "fs", xt = list(bs = "cr", max.knots = 50)), data = d),
               "holds `max.knots`", class = "warmgam_error_argument")
})

test_that("m values the engine does not implement are errors naming `m`; the others are mgcv's models", {
  d <- sim_data(300)
  # mgcv's m = c(2, 0) drops a thin plate spline's null space: built by mgcv's
  # constructor (test-mgcv-built.R compares it with mgcv's fit).
  expect_equal(gam_fit(y ~ s(x2, m = c(2, 0)), data = d, cache = FALSE)$smooth[[1]]$class, "mgcv")
  # So is a tensor product with a list `m` (a margin's several values).
  expect_equal(gam_fit(y ~ te(x1, x2, bs = "tp", m = list(c(2, 0), 2)), data = d, cache = FALSE)$smooth[[1]]$class,
               "mgcv")
  expect_error(gam_fit(y ~ s(x2, m = 1.5), data = d), "whole numbers", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x2, m = c(2, 2, 2)), data = d), "`m`", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(x2, bs = "ps", m = c(-1, 1)), data = d), "must not be negative",
               class = "warmgam_error_argument")
  # What is implemented fits mgcv's model: fitted values 1e-6 relative (1e-4 for tp,
  # as test-bases.R), total edf 1e-3, criterion 1e-6 relative. A list m for a
  # tensor product's margins was an R error ("the condition has length > 1").
  cases <- list(
    `m-1-tp2d` = list(f = y ~ s(x1, x2, m = 1), tol = 1e-4),
    `m-3-1` = list(f = y ~ s(x2, m = c(3, 1)), tol = 1e-4),
    `m-1-3-ps` = list(f = y ~ s(x2, bs = "ps", m = c(1, 3)), tol = 1e-6),
    `m-list-te` = list(f = y ~ te(x1, x2, bs = "ps", m = list(c(2, 1), c(1, 1))), tol = 1e-6)
  )
  for (name in names(cases)) {
    case <- cases[[name]]
    label <- deparse(case$f)
    fit <- gam_fit(case$f, data = d, cache = FALSE)
    ref <- mgcv_reference(paste0("terms/", name), case$f, d, method = "REML")
    expect_equal(length(coef(fit)), length(coef(ref)), label = label)
    expect_lt(rel_diff(fitted(fit), fitted(ref)), case$tol, label = paste(label, "fitted"))
    expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3, label = paste(label, "edf"))
    expect_lt(abs(fit$criterion - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-6, label = paste(label, "criterion"))
  }
})

test_that("an fs term's tp base takes xt's max.knots, as mgcv's", {
  d <- sim_data(300)
  d$g <- factor(sample(letters[1:4], nrow(d), replace = TRUE))
  # With m = 1 warmgam's fs basis is mgcv's exactly (see ?s): 1e-6 in fitted values.
  f <- y ~ s(x2, g, bs = "fs", m = 1, xt = list(bs = "tp", max.knots = 100))
  fit <- gam_fit(f, data = d, cache = FALSE)
  ref <- mgcv_reference("terms/fs-max-knots", f, d, method = "REML")
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3)
})
