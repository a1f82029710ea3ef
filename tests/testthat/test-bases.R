# Each basis against mgcv: same model, same answers. Tolerances as issue 2 sets them:
# fitted values and predictions 1e-6 relative (1e-4 for tp, whose eigenvectors can
# differ from mgcv's Lanczos ones in the last digits), total edf 1e-3, criterion 1e-6
# relative, se.fit 1e-4 relative, coefficients 1e-6 relative where the basis is
# identical (cr, ps, cc).

d <- sim_data()
nd <- new_points(d)

test_that("cubic regression splines agree with mgcv, coefficients included", {
  f <- y ~ s(x0, bs = "cr") + s(x1, bs = "cr", k = 12) + s(x2, bs = "cr", k = 15) + s(x3, bs = "cr")
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("bases/cr", f, d, method = "REML")
  expect_true(fit$converged)
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6)
  # Smoothing parameters are on mgcv's scale (the near-linear s(x3) is flat in its sp).
  expect_lt(max(abs(log(fit$sp[1:3]) - log(ref$sp[1:3]))), 1e-4)
})

test_that("P-splines agree with mgcv", {
  f <- y ~ s(x0, bs = "ps") + s(x2, bs = "ps", k = 20)
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("bases/ps", f, d, method = "REML")
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6)
  expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-4)
})

test_that("cyclic cubic splines agree with mgcv", {
  f <- y ~ s(x0, bs = "cc") + s(x2, bs = "cc", k = 12)
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("bases/cc", f, d, method = "REML")
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6)
})

test_that("cyclic P-splines are built natively and agree with mgcv, coefficients included", {
  f <- y ~ s(x0, bs = "cp") + s(x2, bs = "cp", k = 14, m = c(3, 1))
  fit <- gam_fit(f, data = d)
  expect_false(any(vapply(fit$smooth, function(s) identical(s$class, "mgcv"), TRUE)))
  ref <- mgcv_reference("bases/cp", f, d, method = "REML")
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6)
  expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-4)
  # Beyond the knot range the curve wraps round: a period on, the same prediction.
  period <- diff(range(d$x0))
  at <- data.frame(x0 = c(0.3, 0.3 + period, 0.3 - 2 * period), x2 = 0.5)
  p <- predict(fit, at)
  expect_lt(max(abs(p - p[[1]])), 1e-10)
})

test_that("B-splines with derivative penalties agree with mgcv, several penalties included", {
  f <- y ~ s(x0, bs = "bs") + s(x2, bs = "bs", m = c(3, 2, 1), k = 12) + s(x1, bs = "bs", m = c(2, 0))
  fit <- gam_fit(f, data = d)
  expect_false(any(vapply(fit$smooth, function(s) identical(s$class, "mgcv"), TRUE)))
  expect_length(fit$sp, 4)
  ref <- mgcv_reference("bases/bs", f, d, method = "REML")
  # The two penalties of s(x2) trade off along a flat ridge of the criterion, so its
  # smoothing parameters and coefficients are looser than the fit.
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-5)
  expect_lt(max(abs(log(fit$sp[c(1, 4)]) - log(ref$sp[c(1, 4)]))), 1e-4)
})

test_that("Gaussian process smooths are built natively and agree with mgcv", {
  # The eigenvectors come from a Lanczos iteration as mgcv's do, to a tolerance, so
  # fits agree to about 1e-8 rather than to rounding (a Matern 3.5 correlation, whose
  # eigenvalues fall to 1e-11 of the largest within k = 12, is not comparable).
  f <- y ~ s(x0, bs = "gp") + s(x1, x2, bs = "gp", k = 25, m = c(-3, 0.4)) + s(x3, bs = "gp", m = c(2, 0.3, 1.5))
  fit <- gam_fit(f, data = d)
  expect_false(any(vapply(fit$smooth, function(s) identical(s$class, "mgcv"), TRUE)))
  ref <- mgcv_reference("bases/gp", f, d, method = "REML")
  expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-6)
  # (s(x3) is shrunk to its line: its sp is past 1e7 in both, on a flat criterion.)
  expect_lt(max(abs(log(fit$sp[1:2]) - log(ref$sp[1:2]))), 1e-3)
  expect_gt(min(fit$sp[[3]], ref$sp[[3]]), 1e6)
})

test_that("Gaussian process smooths of more than 2000 points use mgcv's knot subsample", {
  set.seed(4)
  big <- gam_sim(1, n = 2600, dist = "normal", scale = 2)
  fit <- gam_fit(y ~ s(x2, bs = "gp", k = 15), data = big, cache = FALSE)
  expect_equal(nrow(matrix(fit$smooth[[1]]$state$points, ncol = 1)), 2000)
  ref <- mgcv_reference("bases/gp-subsample", y ~ s(x2, bs = "gp", k = 15), data = big, method = "REML")
  # Two different samples of 2000 points would differ by about 1e-2; what remains
  # (2e-6) is the two Lanczos iterations' tolerance on 2000 x 2000 correlations.
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
})

test_that("bad m for a Gaussian process is an error naming the term", {
  expect_error(gam_fit(y ~ s(x0, bs = "gp", m = 7), data = d, cache = FALSE), "type 1 to 5")
  expect_error(gam_fit(y ~ s(x0, bs = "gp", m = c(2, 1, 3)), data = d, cache = FALSE), "power in \\(0, 2\\]")
})

test_that("Markov random fields are built natively from polygons, neighbours or a penalty", {
  data(columb, package = "mgcv", envir = environment())
  data(columb.polys, package = "mgcv", envir = environment())
  f <- crime ~ s(district, bs = "mrf", xt = list(polys = columb.polys))
  fit <- gam_fit(f, data = columb, cache = FALSE)
  expect_false(any(vapply(fit$smooth, function(s) identical(s$class, "mgcv"), TRUE)))
  ref <- mgcv_reference("bases/mrf", f, columb, method = "REML")
  expect_agrees_with_mgcv(fit, ref, columb[1:10, ])
  # The neighbours warmgam finds are mgcv's, so a neighbour list or the penalty
  # matrix built from it give the same fit.
  nb <- warmgam:::polygon_neighbours(columb.polys)
  by_nb <- gam_fit(crime ~ s(district, bs = "mrf", xt = list(nb = nb)), data = columb, cache = FALSE)
  expect_lt(rel_diff(fitted(by_nb), fitted(fit)), 1e-10)
  pen <- matrix(0, 49, 49, dimnames = list(names(nb), names(nb)))
  for (i in seq_along(nb)) {
    pen[i, i] <- length(nb[[i]])
    pen[i, nb[[i]]] <- -1
  }
  by_pen <- gam_fit(crime ~ s(district, bs = "mrf", xt = list(penalty = pen)), data = columb, cache = FALSE)
  expect_lt(rel_diff(fitted(by_pen), fitted(fit)), 1e-10)
  # Reduced rank (mgcv's natural parameterization), with another smooth.
  f2 <- crime ~ s(district, bs = "mrf", k = 20, xt = list(polys = columb.polys)) + s(income)
  fit2 <- gam_fit(f2, data = columb, cache = FALSE)
  ref2 <- mgcv_reference("bases/mrf-reduced", f2, columb, method = "REML")
  expect_agrees_with_mgcv(fit2, ref2, columb[1:10, ])
  # The map: one panel per region's polygon, filled by the effect.
  grDevices::pdf(NULL)
  panels <- plot(fit)
  grDevices::dev.off()
  expect_length(panels[[1]]$polys, 49)
  expect_equal(panels[[1]]$fit, unname(predict(fit, columb[match(panels[[1]]$regions, columb$district), ],
                                               type = "terms")[, 1]), tolerance = 1e-10)
})

test_that("bad Markov random field geographies are errors naming the term", {
  data(columb, package = "mgcv", envir = environment())
  data(columb.polys, package = "mgcv", envir = environment())
  nb <- warmgam:::polygon_neighbours(columb.polys)
  expect_error(gam_fit(crime ~ s(district, bs = "mrf"), data = columb, cache = FALSE), "geography in `xt`")
  bad <- nb
  bad[[1]] <- c(bad[[1]], 99)
  expect_error(gam_fit(crime ~ s(district, bs = "mrf", xt = list(nb = bad)), data = columb, cache = FALSE),
               "region numbers from 1 to 49")
  lopsided <- nb
  lopsided[[1]] <- c(lopsided[[1]], 40)
  expect_error(gam_fit(crime ~ s(district, bs = "mrf", xt = list(nb = lopsided)), data = columb, cache = FALSE),
               "not symmetric")
  expect_error(gam_fit(crime ~ s(district, bs = "mrf", xt = list(nb = nb[-1])), data = columb, cache = FALSE),
               "one per region")
  expect_error(gam_fit(crime ~ s(district, bs = "mrf", k = 60, xt = list(nb = nb)), data = columb, cache = FALSE),
               "more than its 49 regions")
  fit <- gam_fit(crime ~ s(district, bs = "mrf", xt = list(nb = nb)), data = columb, cache = FALSE)
  expect_error(predict(fit, data.frame(district = "nowhere")), "not fitted with: nowhere")
  one <- data.frame(y = rnorm(20), g = factor(rep("a", 20)))
  expect_error(gam_fit(y ~ s(g, bs = "mrf", xt = list(nb = list(a = integer()))), data = one, cache = FALSE),
               class = "warmgam_error_covariate")
})

test_that("sum-to-zero factor smooths are built natively and agree with mgcv", {
  set.seed(2)
  dz <- data.frame(x = runif(1500), fac = factor(sample(letters[1:4], 1500, TRUE)))
  # Each level deviates by a curve of its own, so every smoothing parameter is finite.
  dz$y <- sin(2 * pi * dz$x) + sin(as.numeric(dz$fac) * 2 * dz$x) * 0.5 + rnorm(1500, sd = 0.3)
  f <- y ~ s(x, bs = "cr") + s(fac, x, bs = "sz", xt = "cr", k = 6)
  fit <- gam_fit(f, data = dz, cache = FALSE)
  expect_equal(fit$smooth[[2]]$class, "sz")
  ref <- mgcv_reference("bases/sz", f, dz, method = "REML")
  # The same basis and constraint as mgcv's (the last level is minus the others):
  # coefficients and the REML score agree, not only the fit.
  expect_agrees_with_mgcv(fit, ref, dz[1:20, ], coef_tol = 1e-5)
  # Penalties scaled as mgcv scales them: the smoothing parameters agree too (those
  # not heading for zero, where the criterion is flat).
  finite <- ref$sp > 1e-2
  expect_gte(sum(finite), 3L)
  expect_lt(max(abs(log(fit$sp[finite]) - log(ref$sp[finite]))), 1e-3)
  f2 <- y ~ s(x) + s(x, fac, bs = "sz")
  fit2 <- gam_fit(f2, data = dz, cache = FALSE)
  ref2 <- mgcv_reference("bases/sz-tp", f2, dz, method = "REML")
  expect_agrees_with_mgcv(fit2, ref2, dz[1:20, ])
  # The deviations sum to zero over the levels at any x; a level the fit did not see
  # has none (its indicator is zero, as in mgcv).
  grid <- data.frame(x = rep(c(0.2, 0.7), each = 4), fac = factor(rep(letters[1:4], 2)))
  dev <- predict(fit2, grid, type = "terms")[, "s(x,fac)"]
  expect_lt(max(abs(tapply(dev, grid$x, sum))), 1e-10)
  unseen <- predict(fit2, data.frame(x = 0.2, fac = "z"), type = "terms")[, "s(x,fac)"]
  expect_equal(unname(unseen), 0)
  # A factor `by`: one term per level, each natively, as mgcv's.
  set.seed(5)
  dz$g <- factor(sample(c("u", "v"), nrow(dz), TRUE))
  dz$z <- runif(nrow(dz))
  f3 <- y ~ g + s(x, by = g) + s(fac, x, bs = "sz", by = g)
  fit3 <- gam_fit(f3, data = dz, cache = FALSE)
  expect_equal(unname(vapply(fit3$smooth, `[[`, "", "class")[3:4]), c("sz", "sz"))
  ref3 <- mgcv_reference("bases/sz-by", f3, dz, method = "REML")
  expect_agrees_with_mgcv(fit3, ref3, dz[1:20, ])
  expect_equal(names(fit3$sp), names(ref3$sp))
  # A numeric `by` that is not constant makes the term identifiable, and mgcv drops
  # the sum-to-zero constraint: one free curve per level, natively. With s(x, by = z)
  # the levels' curves share its unpenalized directions (the message); at mgcv's
  # smoothing parameters the criterion and fit are mgcv's (its penalties are scaled
  # as mgcv scales them).
  f4 <- y ~ s(x, by = z) + s(fac, x, bs = "sz", by = z, xt = "cr", k = 6)
  ref4 <- mgcv_reference("bases/sz-numeric-by", f4, dz, method = "REML")
  expect_message(at4 <- gam_fit(f4, data = dz, sp = ref4$sp, cache = FALSE), "unpenalized direction")
  expect_equal(at4$smooth[[2]]$class, "sz")
  expect_length(coef(at4), length(coef(ref4)) - 2L)
  expect_agrees_with_mgcv(at4, ref4, dz[1:20, ], fitted_tol = 1e-7, crit_tol = 1e-9, se_tol = Inf)
  expect_message(fit4 <- gam_fit(f4, data = dz, cache = FALSE), "unpenalized direction")
  # (Searched, one level's smoothing parameter heads for zero, where the criterion
  # is flat: the criterion is mgcv's to 1e-6, the fit within 2e-4.)
  expect_lte(fit4$criterion, ref4$gcv.ubre + 1e-6)
  expect_lt(rel_diff(fitted(fit4), fitted(ref4)), 2e-4)
})

test_that("sum-to-zero factor smooths of several factors are built natively and agree with mgcv", {
  set.seed(2)
  dz <- data.frame(x = runif(1500), fac = factor(sample(letters[1:4], 1500, TRUE)))
  set.seed(7)
  dz$h <- factor(sample(c("p", "q", "r"), nrow(dz), TRUE))
  # A curve per level of each factor and per combination of levels.
  amp <- matrix(runif(12, 0.3, 0.8), 4, 3)
  fr <- matrix(runif(12, 1, 4), 4, 3)
  cell <- cbind(as.integer(dz$fac), as.integer(dz$h))
  dz$y <- sin(2 * pi * dz$x) + sin(as.numeric(dz$fac) * 2 * dz$x) * 0.5 + amp[cell] * sin(fr[cell] * dz$x) +
    0.4 * cos(as.integer(dz$h) * 2 * dz$x) + rnorm(1500, sd = 0.3)
  f <- y ~ s(x, bs = "cr") + s(fac, x, bs = "sz", xt = "cr", k = 6) + s(h, x, bs = "sz", xt = "cr", k = 6) +
    s(fac, h, x, bs = "sz", xt = "cr", k = 6)
  ref <- mgcv_reference("bases/sz-two-factors", f, dz, method = "REML")
  # At mgcv's smoothing parameters: the same model, coefficient for coefficient
  # (mgcv's constraint, Z_fac kron Z_h, each factor's last level minus the others).
  at <- gam_fit(f, data = dz, sp = ref$sp, cache = FALSE)
  expect_equal(unname(vapply(at$smooth, `[[`, "", "class")), c("cr", "sz", "sz", "sz"))
  expect_equal(names(coef(at)), names(coef(ref)))
  expect_equal(names(at$sp), names(ref$sp))
  expect_agrees_with_mgcv(at, ref, dz[1:20, ], fitted_tol = 1e-7, crit_tol = 1e-9, coef_tol = 1e-6)
  # Searched: some combinations' smoothing parameters run to a bound, where the
  # criterion is flat; it is mgcv's to 1e-6 and the fit within 1e-4.
  fit <- gam_fit(f, data = dz, cache = FALSE)
  expect_lte(fit$criterion, ref$gcv.ubre + 1e-6)
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-4)
  # The deviations of s(fac, h, x) sum to zero over each factor's levels at any x;
  # an unseen level has none.
  grid <- expand.grid(x = c(0.2, 0.7), h = c("p", "q", "r"), fac = letters[1:4])
  dev <- predict(fit, grid, type = "terms")[, "s(fac,h,x)"]
  expect_lt(max(abs(tapply(dev, grid[c("x", "h")], sum))), 1e-10)
  expect_lt(max(abs(tapply(dev, grid[c("x", "fac")], sum))), 1e-10)
  unseen <- predict(fit, data.frame(x = 0.2, fac = "a", h = "z"), type = "terms")[, "s(fac,h,x)"]
  expect_equal(unname(unseen), 0)
  # plot() draws a curve per combination of levels, the first factor's slowest.
  path <- tempfile(fileext = ".pdf")
  grDevices::pdf(path)
  on.exit({ grDevices::dev.off(); unlink(path) }, add = TRUE)
  panel <- plot(fit, select = 4)[[1]]
  expect_equal(panel$levels[1:4], c("a:p", "a:q", "a:r", "b:p"))
  # Factors alone are mgcv's random effect of them (its sz constructor hands them to
  # the "re" class): natively, as s(fac, h, bs = "re"); no factor is mgcv's base
  # smooth, built by its constructor.
  re_fit <- gam_fit(y ~ s(x) + s(fac, h, bs = "sz"), data = dz, cache = FALSE)
  expect_equal(re_fit$smooth[[2]]$class, "re")
  ref_re <- mgcv_reference("bases/sz-factors-alone", y ~ s(x) + s(fac, h, bs = "sz"), dz, method = "REML")
  expect_agrees_with_mgcv(re_fit, ref_re, dz[1:20, ], fitted_tol = 1e-6)
  expect_equal(names(re_fit$sp), names(ref_re$sp))
  expect_equal(gam_fit(y ~ s(x, bs = "sz"), data = dz, cache = FALSE)$smooth[[1]]$class, "mgcv")
})

test_that("Duchon splines are built natively and agree with mgcv, smoothing parameters included", {
  f <- y ~ s(x1, x2, bs = "ds", m = c(1, 0.5), k = 30) + s(x0, x3, bs = "ds")
  fit <- gam_fit(f, data = d)
  expect_false(any(vapply(fit$smooth, function(s) identical(s$class, "mgcv"), TRUE)))
  ref <- mgcv_reference("bases/ds", f, d, method = "REML")
  expect_agrees_with_mgcv(fit, ref, nd)
  # The side condition's null space is taken as mgcv's R code takes it (a LINPACK
  # QR), so the penalties are scaled alike and the smoothing parameters agree.
  expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-4)
  expect_warning(gam_fit(y ~ s(x0, bs = "ds", m = c(2, 1)), data = d, cache = FALSE), "reduced to 0")
})

test_that("splines on the sphere are built natively and agree with mgcv", {
  set.seed(5)
  ds <- data.frame(lat = runif(800, -80, 80), lon = runif(800, -180, 180))
  ds$y <- sin(ds$lat / 30) * cos(ds$lon / 60) + rnorm(800, sd = 0.3)
  f <- y ~ s(lat, lon, bs = "sos", k = 40)
  fit <- gam_fit(f, data = ds, cache = FALSE)
  expect_equal(fit$smooth[[1]]$class, "sos")
  ref <- mgcv_reference("bases/sos", f, ds, method = "REML")
  expect_agrees_with_mgcv(fit, ref, ds[1:20, ])
  expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-6)
  # A point and the same point a full turn of longitude on predict alike.
  at <- data.frame(lat = c(10, 10), lon = c(-170, 190))
  p <- predict(fit, at)
  expect_lt(abs(p[[1]] - p[[2]]), 1e-10)
  expect_error(gam_fit(y ~ s(lat, bs = "sos"), data = ds, cache = FALSE), "latitude and longitude")
  # mgcv's other orders: Wahba's pseudo-splines (m = 1..4) and the Duchon spline of
  # the embedding (m = -1, whose null space is the constant and the three
  # coordinates), natively; each against mgcv, and an exact hit from the store
  # (the order is part of the stored basis) predicting as the cold fit.
  local_store()
  for (order in c(-1, 2)) {
    fo <- as.formula(sprintf("y ~ s(lat, lon, bs = \"sos\", k = 30, m = %d)", order))
    fit_o <- gam_fit(fo, data = ds)
    expect_equal(fit_o$smooth[[1]]$class, "sos")
    # (The order is part of the model's key: m = 2 is not m = -1's hit.)
    expect_false(identical(fit_o$warm_start$source, "exact"))
    ref_o <- mgcv_reference(sprintf("bases/sos-m%d", order), fo, ds, method = "REML")
    expect_agrees_with_mgcv(fit_o, ref_o, ds[1:20, ], label = paste("m =", order))
    expect_lt(max(abs(log(fit_o$sp) - log(ref_o$sp))), 1e-4)
    hit <- gam_fit(fo, data = ds)
    expect_equal(hit$warm_start$source, "exact")
    expect_identical(predict(hit, ds[1:20, ]), predict(fit_o, ds[1:20, ]))
  }
  expect_warning(gam_fit(y ~ s(lat, lon, bs = "sos", k = 30, m = 7), data = ds, cache = FALSE), "taken as 4")
  expect_error(gam_fit(y ~ s(lat, lon, bs = "sos", m = "a"), data = ds, cache = FALSE), "whole number from -2 to 4",
               class = "warmgam_error_argument")
  # plot() draws the globe as mgcv does (orthographic, from above latitude `phi` and
  # longitude `theta`): the screen's centre is that point, every screen point is at
  # most 90 degrees from it, and the effect there is predict()'s.
  path <- tempfile(fileext = ".pdf")
  grDevices::pdf(path)
  on.exit({ grDevices::dev.off(); unlink(path) }, add = TRUE)
  panel <- plot(fit, theta = -40, phi = 20)[[1]]
  expect_true(panel$sphere)
  m <- length(panel$screen)
  centre <- which(panel$inside)[which.min((rep(panel$screen, m)^2 + rep(panel$screen, each = m)^2)[panel$inside])]
  at <- match(centre, which(panel$inside))
  expect_lt(abs(panel$lat[at] - 20) + abs(panel$lon[at] + 40), 3)
  cos_angle <- function(la, lo) {
    r <- pi / 180
    sin(la * r) * sin(20 * r) + cos(la * r) * cos(20 * r) * cos((lo + 40) * r)
  }
  expect_true(all(cos_angle(panel$lat, panel$lon) > -1e-12))
  expect_equal(panel$fit, unname(predict(fit, panel$data, type = "terms")[, 1]), tolerance = 1e-12)
  expect_error(plot(fit, phi = 100), "`phi`")
})

test_that("adaptive smooths are built natively and agree with mgcv, coefficients included", {
  skip_if_not_installed("MASS")
  mcycle <- get(utils::data("mcycle", package = "MASS", envir = environment()))
  f <- accel ~ s(times, bs = "ad")
  fit <- gam_fit(f, data = mcycle)
  expect_false(identical(fit$smooth[[1]]$class, "mgcv"))
  expect_equal(names(fit$sp), paste0("s(times)", 1:5))
  ref <- mgcv_reference("bases/ad", f, mcycle, method = "REML")
  # (Some of the five smoothing parameters sit on flat stretches of REML, where the
  # two optimizers stop at different values: the fits agree, the sp need not.)
  expect_agrees_with_mgcv(fit, ref, data.frame(times = seq(3, 57, length.out = 40)), coef_tol = 1e-6)
  # The other bases mgcv takes for it, and a penalty basis of 3.
  f2 <- y ~ s(x0, bs = "ad", k = 20, m = 3, xt = list(bs = "cr")) + s(x2, bs = "ad", k = 20, xt = list(bs = "cp"))
  fit2 <- gam_fit(f2, data = d)
  ref2 <- mgcv_reference("bases/ad-bases", f2, d, method = "REML")
  expect_agrees_with_mgcv(fit2, ref2, nd)
  # Two covariates: a tensor product of P-splines, nine weight functions by default,
  # named as mgcv names it.
  f3 <- y ~ s(x1, x2, bs = "ad", k = 8)
  fit3 <- gam_fit(f3, data = d)
  expect_equal(names(fit3$sp), paste0("te(x1,x2)", 1:9))
  ref3 <- mgcv_reference("bases/ad-2d", f3, d, method = "REML")
  expect_agrees_with_mgcv(fit3, ref3, redrawn_rows(d, c("x1", "x2")))
  # The store: an exact hit rebuilds the term and predicts as the fit did; another
  # penalty basis is another model.
  local_store()
  first <- gam_fit(f3, data = d)
  again <- gam_fit(f3, data = d)
  expect_equal(again$warm_start$source, "exact")
  expect_equal(predict(again, nd), predict(first, nd), tolerance = 1e-12)
  expect_false(identical(gam_fit(y ~ s(x1, x2, bs = "ad", k = 8, m = 4), data = d)$warm_start$source, "exact"))
  # A penalty basis of one function is the base smooth; of none, the base unpenalized.
  one <- gam_fit(accel ~ s(times, bs = "ad", m = 1), data = mcycle)
  expect_equal(fitted(one), fitted(gam_fit(accel ~ s(times, bs = "ps", k = 40), data = mcycle)), tolerance = 1e-10)
  none <- gam_fit(accel ~ s(times, bs = "ad", k = 12, m = 0), data = mcycle)
  expect_length(none$sp, 0)
  expect_equal(fitted(none), fitted(gam_fit(accel ~ s(times, bs = "ps", k = 12, fx = TRUE), data = mcycle)),
               tolerance = 1e-10)
})

test_that("bad adaptive smooths are errors naming the term", {
  expect_error(gam_fit(y ~ s(x0, bs = "ad", k = 10, m = 8), data = d, cache = FALSE), "s\\(x0\\).*too large",
               class = "warmgam_error_spec")
  expect_error(gam_fit(y ~ s(x1, x2, bs = "ad", k = 6, m = 5), data = d, cache = FALSE), "te\\(x1,x2\\).*too large",
               class = "warmgam_error_spec")
  expect_error(s(x0, bs = "ad", xt = list(bs = "cr", other = 1)), "`xt` of `s\\(x0\\)`", class = "warmgam_error_argument")
  expect_error(s(x0, bs = "ad", xt = list(bs = "tp")), "`xt` of `s\\(x0\\)`", class = "warmgam_error_argument")
  expect_error(s(x0, bs = "ad", m = 1.5), "`m` of `s\\(x0\\)`", class = "warmgam_error_argument")
  expect_error(s(x0, bs = "ad", k = 3), "`k` of `s\\(x0\\)`", class = "warmgam_error_argument")
  # Fewer than three weight functions a direction in two dimensions: mgcv's own.
  expect_equal(s(x1, x2, bs = "ad", m = 2)$bs, "mgcv")
})

test_that("bad m and k for the B-spline classes are errors naming the term", {
  expect_error(gam_fit(y ~ s(x0, bs = "bs", m = c(2, 3)), data = d, cache = FALSE), "derivative of order above")
  expect_error(gam_fit(y ~ s(x0, bs = "bs", m = c(3, 1, 1)), data = d, cache = FALSE), "twice")
  expect_error(gam_fit(y ~ s(x0, bs = "bs", k = 3), data = d, cache = FALSE), "too small for its B-spline")
  expect_error(gam_fit(y ~ s(x0, bs = "cp", m = -1), data = d, cache = FALSE), "must not be negative")
  expect_error(gam_fit(y ~ s(x0, bs = "cp", m = c(2, 1, 1)), data = d, cache = FALSE), "one or two whole numbers")
  # A covariate of one value: an error naming the term, not a basis of NaNs.
  flat <- transform(d, x0 = 1)
  for (bs in c("bs", "ps")) {
    expect_error(gam_fit(y ~ s(x0, bs = bs), data = flat, cache = FALSE), "only 1 unique", class = "warmgam_error_basis")
  }
  expect_error(gam_fit(y ~ s(x0, bs = "cp"), data = flat, cache = FALSE), "must vary")
})

test_that("thin plate splines agree with mgcv in one and two dimensions", {
  f <- y ~ s(x0) + s(x2, k = 12)
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("bases/tp-1d", f, d, method = "REML")
  expect_agrees_with_mgcv(fit, ref, nd, fitted_tol = 1e-4)
  f2 <- y ~ s(x1, x2, k = 25) + s(x0)
  fit2 <- gam_fit(f2, data = d)
  ref2 <- mgcv_reference("bases/tp-2d", f2, d, method = "REML")
  expect_agrees_with_mgcv(fit2, ref2, nd, fitted_tol = 1e-4)
})

test_that("thin plate splines of more than 2000 points use mgcv's knot subsample", {
  # Beyond 2000 distinct points mgcv's tp basis is built on a random sample of 2000 of
  # them (seed 1, the user's random stream restored). warmgam draws the same sample
  # with R's generator, so the two fits agree far closer than the 1e-2 that two
  # different samples would; what remains is mgcv's Lanczos eigenvectors against a
  # full eigendecomposition.
  set.seed(3)
  d <- gam_sim(1, n = 2600, dist = "normal", scale = 2)
  set.seed(99)
  before <- runif(1)
  set.seed(99)
  fit <- gam_fit(y ~ s(x2) + x0, data = d, cache = FALSE)
  expect_identical(runif(1), before) # the user's random numbers are untouched
  ref <- mgcv_reference("bases/tp-subsample", y ~ s(x2) + x0, data = d, method = "REML")
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-6)
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-4)
  expect_lt(abs(fit$criterion - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-8)
  expect_equal(fit$smooth[[1]]$state$points_dim[[1]], 2000)
  nd <- new_points(d)
  expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-6)
  # Supplied knots must come one vector per covariate, all of one length.
  expect_error(
    gam_fit(y ~ s(x1, x2, k = 10), data = d, knots = list(x1 = 1:12 / 13, x2 = 1:11 / 12)),
    "knots", class = "warmgam_error_argument"
  )
})

test_that("by variables (factor and numeric) agree with mgcv", {
  f <- y ~ fac + s(x2, bs = "cr", by = fac) + s(x1, bs = "cr", by = z)
  fit <- gam_fit(f, data = d)
  ref <- mgcv_reference("bases/by", f, d, method = "REML")
  expect_equal(names(fit$sp), names(ref$sp))
  expect_agrees_with_mgcv(fit, ref, nd, coef_tol = 1e-6)
})

test_that("an ordered factor by has no smooth for its first level, as mgcv", {
  # Before, warmgam made a smooth for every level: 0.94 off mgcv's fitted values for
  # the first formula, "not identifiable" for the second. Tolerances as the factor
  # by test above (cr: the same basis), log sp to 1e-4 absolute. Measured: fitted
  # 5e-13 and 2e-8 relative, edf 1e-11 and 2e-6, criterion 3e-16 and 7e-10.
  dd <- d
  dd$og <- ordered(dd$fac)
  ndd <- nd
  ndd$og <- ordered(ndd$fac, levels = levels(dd$og))
  models <- list(`ordered-by` = y ~ og + s(x2, bs = "cr", by = og),
                 `ordered-by-plus-main` = y ~ og + s(x2, bs = "cr") + s(x2, bs = "cr", by = og))
  for (case in names(models)) {
    f <- models[[case]]
    fit <- gam_fit(f, data = dd, cache = FALSE)
    ref <- mgcv_reference(paste0("bases/", case), f, dd, method = "REML")
    expect_equal(names(fit$smooth), mgcv_call("smooth_labels", ref))
    expect_equal(names(fit$sp), names(ref$sp))
    expect_equal(names(coef(fit)), names(coef(ref)))
    # In the second model the levels' differences are penalized to straight lines
    # (log sp 22 and 28): the criterion is flat there, so only the others are compared.
    shaped <- log(ref$sp) < 10
    expect_lt(max(abs(log(fit$sp) - log(ref$sp))[shaped]), 1e-4)
    expect_agrees_with_mgcv(fit, ref, ndd, coef_tol = 1e-6, label = deparse(f))
  }
  expect_equal(names(fit$smooth), c("s(x2)", "s(x2):ogb", "s(x2):ogc"))
})

test_that("random effects (intercepts and slopes) agree with mgcv", {
  set.seed(6)
  d6 <- gam_sim(6, n = 600)
  models <- list(`re-intercepts` = y ~ s(x0) + s(x1) + s(x2) + s(fac, bs = "re"),
                 `re-slopes` = y ~ s(x2) + s(fac, x0, bs = "re"))
  for (case in names(models)) {
    f <- models[[case]]
    fit <- gam_fit(f, data = d6, cache = FALSE)
    ref <- mgcv_reference(paste0("bases/", case), f, d6, method = "REML")
    expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
    expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3)
    expect_lt(abs(fit$criterion - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-5)
    expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-3)
    nd <- d6[sample(nrow(d6), 40), ]
    expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-5)
    expect_lt(rel_diff(summary(fit)$s.table[, "edf"], summary(ref)$s.table[, "edf"]), 1e-4)
  }
  # A level the fit never saw: its random effect is left out (zero), as mgcv does.
  fit <- gam_fit(y ~ s(x2) + s(fac, bs = "re"), data = d6, cache = FALSE)
  nd <- d6[1:6, ]
  nd$fac <- factor(c("1", "2", "new", "new", "3", "4"))
  terms <- predict(fit, nd, type = "terms")
  expect_equal(unname(terms[3:4, "s(fac)"]), c(0, 0))
  expect_equal(unname(predict(fit, nd)[3:4]),
               unname(attr(terms, "constant") + terms[3:4, "s(x2)"]), tolerance = 1e-12)
  # The group effects are plotted against normal quantiles.
  path <- tempfile(fileext = ".png")
  grDevices::png(path)
  panels <- plot(fit)
  grDevices::dev.off()
  expect_true(panels[[2]]$qq)
  expect_equal(sort(unname(coef(fit)[fit$smooth[[2]]$first:fit$smooth[[2]]$last])), panels[[2]]$fit)
  # A random effect needs a grouping factor.
  expect_error(gam_fit(y ~ s(x0, bs = "re"), data = d6), "needs a factor", class = "warmgam_error_covariate")
})

test_that("shrinkage smooths: ts agrees with mgcv; cs shrinks a null term away", {
  d <- sim_data(500, seed = 2)
  f <- y ~ s(x0, bs = "ts") + s(x1, x2, bs = "ts") + s(x3, bs = "ts")
  fit <- gam_fit(f, data = d, cache = FALSE)
  ref <- mgcv_reference("bases/ts", f, d, method = "REML")
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3)
  expect_lt(abs(fit$criterion - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-5)
  # x3 has no effect in gamSim(1): its whole term, null space included, is shrunk.
  expect_lt(summary(fit)$s.table["s(x3)", "edf"], 1e-3)
  # mgcv's "cs" penalizes its two-dimensional null space with two different weights
  # along eigenvectors that LAPACK picks by rounding error, so no implementation can
  # reproduce its penalty exactly: agreement is within 1e-2 here, not 1e-5.
  fc <- y ~ s(x0, bs = "cs") + s(x1, bs = "cs") + s(x3, bs = "cs")
  fit_cs <- gam_fit(fc, data = d, cache = FALSE)
  ref_cs <- mgcv_reference("bases/cs", fc, d, method = "REML")
  expect_lt(rel_diff(fitted(fit_cs), fitted(ref_cs)), 1e-2)
  expect_lt(summary(fit_cs)$s.table["s(x3)", "edf"], 1e-3)
  expect_equal(fit_cs$smooth[[1]]$null_space_dim, 0)
})

test_that("select = TRUE adds mgcv's null-space penalties", {
  d <- sim_data(500, seed = 2)
  f <- y ~ s(x0, bs = "cr") + s(x1, x2) + s(x3, bs = "ps")
  fit <- gam_fit(f, data = d, select = TRUE, cache = FALSE)
  ref <- mgcv_reference("bases/select", f, d, method = "REML", select = TRUE)
  expect_equal(names(fit$sp), names(ref$sp))
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3)
  expect_lt(abs(fit$criterion - ref$gcv.ubre) / abs(ref$gcv.ubre), 1e-5)
  # Smoothing parameters of terms that are not penalized away agree on the log scale
  # (x3 has no effect: both of its parameters run to their bounds, which differ).
  kept <- !grepl("x3", names(fit$sp))
  expect_lt(max(abs(log(fit$sp[kept]) - log(ref$sp[kept]))), 1e-3)
  expect_true(all(vapply(fit$smooth, `[[`, 0, "null_space_dim") == 0))
  expect_lt(sum(fit$edf[fit$smooth[["s(x3)"]]$first:fit$smooth[["s(x3)"]]$last]), 1e-3)
  # The store tells the two models apart.
  local_store()
  plain <- gam_fit(f, data = d)
  expect_false(identical(gam_fit(f, data = d, select = TRUE)$warm_start$key, plain$warm_start$key))
})

test_that("id shares smoothing parameters, as mgcv", {
  set.seed(3)
  d4 <- gam_sim(4, n = 600)
  f <- y ~ fac + s(x2, by = fac, id = 1) + s(x0)
  fit <- gam_fit(f, data = d4, cache = FALSE)
  ref <- mgcv_reference("bases/id-by", f, d4, method = "REML")
  expect_equal(names(fit$sp), names(ref$sp))
  expect_length(fit$sp, 2)
  expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3)
  expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-3)
  # With select, each of the shared term's two penalties is shared.
  fit_sel <- gam_fit(f, data = d4, select = TRUE, cache = FALSE)
  ref_sel <- mgcv_reference("bases/id-by-select", f, d4, method = "REML", select = TRUE)
  expect_equal(names(fit_sel$sp), names(ref_sel$sp))
  expect_lt(rel_diff(fitted(fit_sel), fitted(ref_sel)), 1e-5)
  # Fixed smoothing parameters are given per shared parameter.
  fixed <- gam_fit(f, data = d4, sp = c(0.5, -1), cache = FALSE)
  expect_equal(unname(fixed$sp[1]), 0.5)
  d4$x3 <- runif(nrow(d4))
  # Terms of different covariates sharing an id share one basis, built from their
  # covariates stacked (mgcv's pooled construction); the second term's own `k` and
  # `bs` give way to the first's.
  models <- list(`id-pooled` = y ~ s(x0, id = "a") + s(x1, id = "a"),
                 `id-pooled-mixed` = y ~ fac + s(x0, bs = "cr", id = "a") + s(x1, bs = "ps", k = 5, id = "a") + s(x2),
                 `id-pooled-te` = y ~ te(x0, x1, k = 4, id = 2) + te(x2, x3, k = 4, id = 2))
  for (case in names(models)) {
    g <- models[[case]]
    fit <- gam_fit(g, data = d4, cache = FALSE)
    ref <- mgcv_reference(paste0("bases/", case), g, d4, method = "REML")
    expect_equal(names(fit$sp), names(ref$sp))
    expect_lt(rel_diff(fitted(fit), fitted(ref)), 1e-5)
    expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-3)
    expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-3)
    nd <- d4[1:20, ]
    expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-5)
  }
  expect_error(gam_fit(y ~ s(x0, id = "a") + s(x1, x2, id = "a"), data = d4),
               "same number of covariates", class = "warmgam_error_argument")
})

test_that("random effects with many levels (accumulated without their columns) agree with mgcv", {
  set.seed(8)
  n <- 3000
  d <- data.frame(x = runif(n), g = factor(sample(60, n, replace = TRUE)), h = factor(sample(45, n, replace = TRUE)))
  d$y <- sin(3 * d$x) + rnorm(60)[as.integer(d$g)] + rnorm(45, sd = 0.5)[as.integer(d$h)] * d$x + rnorm(n)
  f <- y ~ s(x, bs = "cr") + s(g, bs = "re") + s(h, x, bs = "re")
  # The 60 levels' block is eliminated (PenaltySet::diagonal_block), the 45 levels'
  # stays in the dense part: REML and ML (which takes the determinant on the
  # penalties' range space) both go through it.
  for (method in c("REML", "ML")) {
    fit <- gam_fit(f, data = d, method = method, cache = FALSE)
    ref <- mgcv_reference(paste0("bases/re-many-levels-", method), f, d, method = method)
    expect_agrees_with_mgcv(fit, ref, new_points(d), fitted_tol = 1e-6, crit_tol = 1e-8)
    expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-3)
    # The covariance corrected for smoothing-parameter uncertainty.
    expect_lt(rel_diff(vcov(fit, unconditional = TRUE), vcov(ref, unconditional = TRUE)), 1e-3)
  }
  # The random-effect test (eigenvalues only of Vp^-1 Ve) with one random effect.
  # A weak effect keeps the p-value away from 0 (it is 0.015).
  d$y1 <- sin(3 * d$x) + 0.12 * rnorm(60)[as.integer(d$g)] + rnorm(n)
  f1 <- y1 ~ s(x, bs = "cr") + s(g, bs = "re")
  sw <- summary(gam_fit(f1, data = d, cache = FALSE))$s.table
  sm <- summary(mgcv_reference("bases/re-test", f1, d, method = "REML"))$s.table
  expect_lt(max(abs(sw[, 1:3] / sm[, 1:3] - 1)), 1e-4)
  expect_lt(max(abs(sw[, 4] - sm[, 4])), 1e-5)
  # With two random effects each is tested with the other integrated out, as mgcv's
  # reTest does (p-values 7e-5 and 5e-4 for s(g) here; statistics were up to 45% off
  # without).
  set.seed(8)
  a <- 0.15
  d$y2 <- sin(3 * d$x) + a * rnorm(60)[as.integer(d$g)] + 2 * a * rnorm(45)[as.integer(d$h)] * d$x + rnorm(n)
  d$yp <- rpois(n, exp(0.3 + sin(3 * d$x) / 2 + 0.1 * rnorm(60)[as.integer(d$g)] +
                         0.2 * rnorm(45)[as.integer(d$h)] * d$x))
  for (case in list(list(y = "y2", family = gaussian()), list(y = "yp", family = poisson()))) {
    f2 <- stats::reformulate(c("s(x, bs = 'cr')", "s(g, bs = 're')", "s(h, x, bs = 're')"), case$y)
    sw <- summary(gam_fit(f2, data = d, family = case$family, cache = FALSE))$s.table
    sm <- summary(mgcv_reference(paste0("bases/re-test-two-", case$y), f2, d, family = case$family,
                                 method = "REML"))$s.table
    expect_lt(max(abs(sw[, 1:3] / sm[, 1:3] - 1)), 1e-4)
    expect_lt(max(abs(sw[, 4] - sm[, 4])), 1e-5)
  }
})

test_that("generalized fits with wide random effects (kept as level codes) agree with mgcv", {
  # 60 levels (and a 40-level random slope) go through rows::Layout's structured
  # passes; the fits must be mgcv's.
  set.seed(11)
  n <- 4000
  d <- data.frame(x = runif(n), g = factor(sample(60, n, replace = TRUE)), h = factor(sample(40, n, replace = TRUE)))
  eta <- sin(3 * d$x) + rnorm(60, sd = 0.5)[as.integer(d$g)] + rnorm(40, sd = 0.3)[as.integer(d$h)] * d$x
  d$yb <- rbinom(n, 1, plogis(eta))
  d$yp <- rpois(n, exp(0.5 + eta / 2))
  cases <- list(
    `re-wide-binomial` = list(f = yb ~ s(x, bs = "cr") + s(g, bs = "re"), family = binomial(), method = "REML"),
    `re-wide-poisson` = list(f = yp ~ s(x, bs = "cr") + s(g, bs = "re") + s(h, x, bs = "re"), family = poisson(),
                             method = "REML"),
    `re-wide-poisson-ML` = list(f = yp ~ s(x, bs = "cr") + s(g, bs = "re"), family = poisson(), method = "ML")
  )
  for (name in names(cases)) {
    case <- cases[[name]]
    fit <- gam_fit(case$f, data = d, family = case$family, method = case$method, cache = FALSE)
    ref <- mgcv_reference(paste0("bases/", name), case$f, d, family = case$family, method = case$method)
    expect_agrees_with_mgcv(fit, ref, new_points(d), fitted_tol = 1e-5, crit_tol = 1e-7)
    expect_lt(max(abs(log(fit$sp) - log(ref$sp))), 1e-3)
  }
})
