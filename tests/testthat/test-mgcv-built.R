# Terms warmgam has no native code for, built by mgcv's own constructor
# (smoothCon()) and fitted by the engine as penalized blocks (issues 17 and 18).

built_data <- function(n = 600, seed = 3) {
  set.seed(seed)
  d <- data.frame(x = runif(n), z = runif(n), fac = factor(sample(c("a", "b", "c"), n, replace = TRUE)))
  d$y <- sin(3 * d$x) + d$z^2 + 0.5 * d$x * d$z + rnorm(n) * 0.3
  d
}

test_that("terms built by mgcv's constructor give mgcv's fits and predictions", {
  local_store()
  d <- built_data()
  nd <- redrawn_rows(d, c("x", "z"), seed = 8)
  # The same columns and penalties as mgcv's fit: fitted values, predictions and
  # criterion to 1e-6 relative (1e-5 where a native tp term is beside them), se 1e-4.
  cases <- list(
    list(key = "bs", f = y ~ s(x, bs = "bs") + s(z, bs = "cr")),
    list(key = "ad", f = y ~ s(x, bs = "ad") + s(z, bs = "cr")),
    list(key = "gp-cp", f = y ~ s(x, bs = "gp") + s(z, bs = "cp")),
    # mgcv's term tests for t2() use its prediction constraint's columns (the
    # intercept mixed in), warmgam's the fitted ones: edf agree, the tests do not.
    list(key = "t2", f = y ~ t2(x, z), tests = FALSE),
    list(key = "t2-full", f = y ~ t2(x, z, full = TRUE), tests = FALSE),
    list(key = "by-factor", f = y ~ fac + s(x, bs = "bs", by = fac)),
    list(key = "te-cs", f = y ~ te(x, z, bs = "cs")),
    list(key = "tp-no-null", f = y ~ s(x, m = c(2, 0)) + s(z, bs = "cr"), tol = 1e-5),
    list(key = "ti-mc", f = y ~ s(x) + s(z) + ti(x, z, mc = c(TRUE, FALSE)), tol = 1e-5),
    list(key = "nested", f = y ~ s(x, bs = "bs") + t2(x, z), tol = 1e-5, tests = FALSE)
  )
  for (cs in cases) {
    label <- deparse_one(cs$f)
    fit <- gam_fit(cs$f, data = d)
    ref <- mgcv_reference(paste0("mgcv-built/", cs$key), cs$f, d, method = "REML")
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = cs$tol %||% 1e-6, label = label)
    expect_equal(names(fit$sp), names(ref$sp), label = label)
    columns <- if (isFALSE(cs$tests)) 1 else 1:3
    expect_lt(rel_diff(summary(fit)$s.table[, columns], summary(ref)$s.table[, columns]), 1e-4, label = label)
  }
  # (warmgam builds "ad" itself since 0.6.0; the option sends it to mgcv's.)
  withr::local_options(warmgam.mgcv_classes = "ad")
  fit <- gam_fit(y ~ s(x, bs = "ad") + s(z, bs = "cr"), data = d)
  expect_output(print(fit), "Built by mgcv's smoothCon\\(\\): s\\(x\\) \\(ad\\)")
  expect_output(print(summary(fit)), "Built by mgcv")
  # An exact hit of the store rebuilds the term from the data (its matrix is data).
  again <- gam_fit(y ~ s(x, bs = "ad") + s(z, bs = "cr"), data = d)
  expect_equal(again$warm_start$source, "exact")
  expect_equal(predict(again, nd), predict(fit, nd), tolerance = 1e-12)
  other <- d
  other$x <- rev(other$x)
  expect_false(identical(gam_fit(y ~ s(x, bs = "ad") + s(z, bs = "cr"), data = other)$warm_start$source, "exact"))
})

test_that("a user's own smooth class is fitted, and a native class built by mgcv agrees with itself", {
  local_store()
  d <- built_data(300)
  # A user's class: a cubic regression spline under another name, as mgcv's
  # smooth.construct help page defines new classes.
  smooth.construct.mycr.smooth.spec <- function(object, data, knots) {
    object$bs <- "cr"
    class(object) <- "cr.smooth.spec"
    out <- mgcv::smooth.construct(object, data, knots)
    class(out) <- c("mycr.smooth", class(out))
    out
  }
  Predict.matrix.mycr.smooth <- function(object, data) {
    class(object) <- class(object)[-1]
    mgcv::Predict.matrix(object, data)
  }
  registerS3method("smooth.construct", "mycr.smooth.spec", smooth.construct.mycr.smooth.spec, envir = asNamespace("mgcv"))
  registerS3method("Predict.matrix", "mycr.smooth", Predict.matrix.mycr.smooth, envir = asNamespace("mgcv"))
  mine <- gam_fit(y ~ s(x, bs = "mycr") + s(z, bs = "cr"), data = d)
  native <- gam_fit(y ~ s(x, bs = "cr") + s(z, bs = "cr"), data = d)
  # The same basis and penalty: the same fit, to 1e-8.
  expect_lt(rel_diff(fitted(mine), fitted(native)), 1e-8)
  expect_lt(rel_diff(predict(mine, d[1:10, ]), predict(native, d[1:10, ])), 1e-8)
  # mgcv's own cr class forced through that path agrees with warmgam's native one.
  withr_options <- options(warmgam.mgcv_classes = "cr")
  on.exit(options(withr_options), add = TRUE)
  forced <- gam_fit(y ~ s(x, bs = "cr") + s(z, bs = "cr"), data = d)
  expect_true(all(vapply(forced$smooth, function(sm) identical(sm$class, "mgcv"), logical(1))))
  expect_lt(rel_diff(fitted(forced), fitted(native)), 1e-8)
  expect_lt(rel_diff(coef(forced), coef(native)), 1e-6)
  options(warmgam.mgcv_classes = NULL)
  expect_error(gam_fit(y ~ s(x, bs = "nosuch"), data = d), "nor mgcv has a constructor for class \"nosuch.smooth.spec\"",
               class = "warmgam_error_basis")
})

test_that("linear functional terms (matrix covariates) are mgcv's", {
  local_store()
  set.seed(6)
  n <- 300
  d <- list(X = matrix(runif(n * 4), n, 4), L = matrix(runif(n * 4), n, 4), z = runif(n))
  d$y <- rowSums(sin(3 * d$X) * d$L) + d$z^2 + rnorm(n) * 0.2
  d$Z <- matrix(runif(n * 4), n, 4)
  # Summation convention (?linear.functional.terms): each row sums the smooth over
  # its matrix row, weighted by L's. Fitted values and criterion 1e-6.
  for (cs in list(list(key = "lft-s", f = y ~ s(X, by = L, k = 10) + s(z, bs = "cr")),
                  list(key = "lft-te", f = y ~ te(X, Z, by = L, k = 4)))) {
    fit <- gam_fit(cs$f, data = d)
    ref <- mgcv_reference(paste0("mgcv-built/", cs$key), cs$f, d, method = "REML")
    expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6, label = cs$key)
    expect_lt(abs(fit$criterion - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-6, label = cs$key)
    expect_equal(fit$smooth[[1]]$class, "mgcv")
  }
  nd <- list(X = d$X[1:5, ], L = d$L[1:5, ], z = d$z[1:5])
  fit <- gam_fit(y ~ s(X, by = L, k = 10) + s(z, bs = "cr"), data = d)
  ref <- mgcv_reference("mgcv-built/lft-s", y ~ s(X, by = L, k = 10) + s(z, bs = "cr"), d, method = "REML")
  expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-6)
})

test_that("a term mgcv builds with a known part (a soap film's given boundary) keeps it as an offset", {
  # Before: the known boundary values (mgcv's attr(X, "offset")) were dropped, and the
  # fit was another model, silently (fitted values 99% apart on this example of
  # mgcv's help page). (Soap films are native now: this forces mgcv's constructor.)
  local_store()
  withr::local_options(warmgam.mgcv_classes = "so")
  sd <- soap_data()
  fsb <- sd$bnd
  knots <- sd$knots
  d <- sd$data
  fsb[[1]]$f <- mgcv::fs.test(fsb[[1]]$v, fsb[[1]]$w, b = 1, exclude = FALSE)
  f <- y ~ s(v, w, bs = "so", xt = list(bnd = fsb, nmax = 60))
  fit <- gam_fit(f, data = d, knots = knots)
  expect_equal(fit$smooth[[1]]$class, "mgcv")
  ref <- mgcv_reference("mgcv-built/so-known-boundary", f, d, knots = knots, method = "REML")
  # Fitted values and predictions 1e-8 (measured 2e-11), REML 1e-8.
  expect_agrees_with_mgcv(fit, ref, d[seq(1, nrow(d), by = 25), ], fitted_tol = 1e-8, crit_tol = 1e-8)
})
