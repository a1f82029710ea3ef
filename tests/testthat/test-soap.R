# Soap film smoothers (bs = "so", "sf", "sw") built natively, against mgcv.

test_that("soap films are built natively and agree with mgcv", {
  sd <- soap_data()
  d <- sd$data
  bnd <- sd$bnd
  knots <- sd$knots
  nd <- d[1:20, ]
  cases <- list(
    list(key = "so", f = y ~ s(v, w, bs = "so", xt = list(bnd = bnd, nmax = 100))),
    list(key = "so-k", f = y ~ s(v, w, bs = "so", k = 20, xt = list(bnd = bnd, nmax = 80))),
    list(key = "sf-sw", f = y ~ s(v, w, bs = "sf", xt = list(bnd = bnd, nmax = 100)) +
           s(v, w, bs = "sw", xt = list(bnd = bnd, nmax = 100)))
  )
  for (cs in cases) {
    fit <- gam_fit(cs$f, data = d, knots = knots, cache = FALSE)
    expect_true(all(vapply(fit$smooth, `[[`, "", "class") %in% c("so", "sf", "sw")), label = cs$key)
    ref <- mgcv_reference(paste0("soap/", cs$key), cs$f, d, knots = knots, method = "REML")
    # The same basis as mgcv's: fitted values, criterion, smoothing parameters and
    # coefficients agree (a parameter heading for infinity, where the criterion is
    # flat, is compared by the fit alone: the interior part with k = 20).
    expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-6, coef_tol = 1e-5, label = cs$key)
    inner <- log(ref$sp) < 8
    expect_lt(max(abs(log(fit$sp[inner]) - log(ref$sp[inner]))), 1e-4, label = cs$key)
    # Given mgcv's smoothing parameters (one per loop's film and one for the
    # interior part), the fit is mgcv's.
    at <- gam_fit(cs$f, data = d, knots = knots, sp = ref$sp, cache = FALSE)
    expect_lt(rel_diff(fitted(at), fitted(ref)), 1e-6, label = cs$key)
  }
  # The same term through mgcv's constructor (the path every class has) fits alike;
  # as_mgcv() gives mgcv's object, predicting as the fit does.
  fit <- gam_fit(cases[[1]]$f, data = d, knots = knots, cache = FALSE)
  expect_lt(max(abs(predict(as_mgcv(fit), nd) - predict(fit, nd))), 1e-8)
  withr::local_options(warmgam.mgcv_classes = "so")
  built <- gam_fit(cases[[1]]$f, data = d, knots = knots, cache = FALSE)
  expect_equal(built$smooth[[1]]$class, "mgcv")
  expect_lt(rel_diff(fitted(fit), fitted(built)), 1e-6)
})

test_that("a soap film with given boundary values has them as its known part, as mgcv", {
  sd <- soap_data()
  bnd <- sd$bnd
  bnd[[1]]$f <- mgcv::fs.test(bnd[[1]]$v, bnd[[1]]$w, b = 1, exclude = FALSE)
  f <- y ~ s(v, w, bs = "so", xt = list(bnd = bnd, nmax = 100))
  fit <- gam_fit(f, data = sd$data, knots = sd$knots, cache = FALSE)
  expect_equal(fit$smooth[[1]]$class, "so")
  ref <- mgcv_reference("soap/so-known", f, sd$data, knots = sd$knots, method = "REML")
  # The boundary values' harmonic extension is the term's offset (mgcv's
  # attr(X, "offset")), in fitting and in predictions; the term has no constraint.
  expect_lt(rel_diff(fit$offset, ref$offset), 1e-9)
  expect_agrees_with_mgcv(fit, ref, sd$data[1:20, ], fitted_tol = 1e-8, crit_tol = 1e-9, coef_tol = 1e-6)
  outside <- predict(fit, data.frame(v = 1, w = 0))
  expect_true(is.na(outside))
  # A film whose every loop is known has no basis: an error saying so (mgcv's too).
  expect_error(gam_fit(y ~ s(v, w, bs = "sf", xt = list(bnd = bnd)), data = sd$data, knots = sd$knots, cache = FALSE),
               "every boundary loop has given values")
  # With a `by` variable the known part is mgcv's to build.
  d <- sd$data
  d$z <- runif(nrow(d))
  by_fit <- gam_fit(y ~ s(v, w, bs = "so", by = z, xt = list(bnd = bnd, nmax = 60)), data = d, knots = sd$knots,
                    cache = FALSE)
  expect_equal(by_fit$smooth[[1]]$class, "mgcv")
})

test_that("a soap film predicts NA outside its boundary and keeps its grid in the store", {
  sd <- soap_data()
  local_store()
  f <- y ~ s(v, w, bs = "so", xt = list(bnd = sd$bnd, nmax = 60))
  fit <- gam_fit(f, data = sd$data, knots = sd$knots)
  at <- data.frame(v = c(0.5, 1, 3.5), w = c(0.45, 0, 0))
  p <- predict(fit, at)
  # (1, 0) lies in the gap between the fingers, (3.5, 0) beyond the boundary.
  expect_true(is.finite(p[[1]]))
  expect_true(all(is.na(p[2:3])))
  hit <- gam_fit(f, data = sd$data, knots = sd$knots)
  expect_equal(hit$warm_start$source, "exact")
  expect_identical(predict(hit, at), p)
  # plot() draws it over its domain, NA outside, with its boundary, as mgcv's.
  path <- tempfile(fileext = ".pdf")
  grDevices::pdf(path)
  panel <- plot(fit)[[1]]
  grDevices::dev.off()
  unlink(path)
  expect_length(panel$boundary, 1L)
  expect_equal(range(panel$data$v), range(sd$bnd[[1]]$v))
  expect_true(anyNA(panel$fit) && !all(is.na(panel$fit)))
  # Another grid is another model.
  other <- gam_fit(y ~ s(v, w, bs = "so", xt = list(bnd = sd$bnd, nmax = 61)), data = sd$data, knots = sd$knots)
  expect_false(identical(other$warm_start$source, "exact"))
})

test_that("soap film input errors name the term and what is wrong", {
  sd <- soap_data()
  d <- sd$data
  f <- y ~ s(v, w, bs = "so", xt = list(bnd = sd$bnd, nmax = 60))
  expect_error(gam_fit(f, data = d, cache = FALSE), "needs the knots", class = "warmgam_error_argument")
  outside <- d
  outside$v[3] <- 5
  expect_error(gam_fit(f, data = outside, knots = sd$knots, cache = FALSE), "row 3 .*outside")
  renamed <- list(list(a = sd$bnd[[1]]$v, b = sd$bnd[[1]]$w))
  expect_error(gam_fit(y ~ s(v, w, bs = "so", xt = list(bnd = renamed)), data = d, knots = sd$knots, cache = FALSE),
               "named `v` and `w`", class = "warmgam_error_argument")
  expect_error(gam_fit(y ~ s(v, w, bs = "so", k = c(10, 12), xt = list(bnd = sd$bnd)), data = d,
                       knots = sd$knots, cache = FALSE), "one per boundary loop", class = "warmgam_error_argument")
  expect_warning(gam_fit(f, data = d, knots = rbind(sd$knots, data.frame(v = 5, w = 0)), cache = FALSE),
                 "1 knots .*dropped")
})

test_that("soap film margins of te() are built natively and agree with mgcv", {
  # mgcv's tensor product example: the film and the interior part each times a
  # cubic spline of time. A te() with the interior part as a margin has no
  # constraint (that margin has none), as mgcv's te() does.
  set.seed(9)
  n <- 3000
  v <- runif(n) * 5 - 1
  w <- runif(n) * 2 - 1
  t <- runif(n)
  y <- (mgcv::fs.test(v, w, b = 1) + 4.2)^(0.5 + t)
  fsb <- list(mgcv::fs.boundary())
  names(fsb[[1]]) <- c("v", "w")
  ind <- mgcv::inSide(fsb, x = v, y = w)
  d <- data.frame(y = y[ind] + rnorm(sum(ind)) * 0.05, v = v[ind], w = w[ind], t = t[ind])
  knots <- data.frame(v = rep(seq(-0.5, 3, by = 0.5), 4), w = rep(c(-0.6, -0.3, 0.3, 0.6), rep(8, 4)))
  f <- y ~ te(v, w, t, bs = c("sf", "cr"), k = c(25, 4), d = c(2, 1), xt = list(list(bnd = fsb, nmax = 60), NULL)) +
    te(v, w, t, bs = c("sw", "cr"), k = c(25, 4), d = c(2, 1), xt = list(list(bnd = fsb, nmax = 60), NULL))
  fit <- gam_fit(f, data = d, knots = knots, cache = FALSE)
  expect_false(any(vapply(fit$smooth, function(sm) identical(sm$class, "mgcv"), TRUE)))
  ref <- mgcv_reference("soap/te-sf-sw", f, d, knots = knots, method = "REML")
  expect_agrees_with_mgcv(fit, ref, d[1:20, ], fitted_tol = 1e-6, crit_tol = 1e-8)
  expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-4)
  expect_true(is.na(predict(fit, data.frame(v = 1, w = 0, t = 0.5))))
  # ti(): each margin keeps its own constraint, the interior part none (as mgcv's
  # smoothCon() margins).
  f_ti <- y ~ s(t) + ti(v, w, t, bs = c("sf", "cr"), k = c(25, 4), d = c(2, 1), xt = list(list(bnd = fsb, nmax = 60), NULL)) +
    ti(v, w, t, bs = c("sw", "cr"), k = c(25, 4), d = c(2, 1), xt = list(list(bnd = fsb, nmax = 60), NULL))
  fit_ti <- gam_fit(f_ti, data = d, knots = knots, cache = FALSE)
  expect_false(any(vapply(fit_ti$smooth, function(sm) identical(sm$class, "mgcv"), TRUE)))
  ref_ti <- mgcv_reference("soap/ti-sf-sw", f_ti, d, knots = knots, method = "REML")
  at_ti <- gam_fit(f_ti, data = d, knots = knots, sp = ref_ti$sp, cache = FALSE)
  expect_lt(rel_diff(fitted(at_ti), fitted(ref_ti)), 1e-7)
  expect_lt(abs(at_ti$criterion - ref_ti$gcv.ubre) / abs(ref_ti$gcv.ubre), 1e-9)
  expect_agrees_with_mgcv(fit_ti, ref_ti, d[1:20, ], fitted_tol = 1e-5, crit_tol = 1e-7)
})
