# predict(): types, se.fit and bad newdata.

skip_if_not_installed("mgcv")

d <- sim_data()
nd <- new_points(d)
f <- y ~ fac + x3 + s(x0, bs = "cr") + s(x2, bs = "ps")
fit <- gam_fit(f, data = d)
ref <- mgcv_fit(f, d, method = "REML")

test_that("terms and lpmatrix agree with mgcv", {
  pt <- predict(fit, nd, type = "terms", se.fit = TRUE)
  qt <- mgcv::predict.gam(ref, nd, type = "terms", se.fit = TRUE)
  expect_equal(colnames(pt$fit), colnames(qt$fit))
  expect_lt(rel_diff(pt$fit, qt$fit), 1e-6)
  expect_lt(rel_diff(pt$se.fit, qt$se.fit), 1e-4)
  expect_lt(abs(attr(pt$fit, "constant") - attr(mgcv::predict.gam(ref, nd, type = "terms"), "constant")), 1e-6)
  x <- predict(fit, nd, type = "lpmatrix")
  expect_lt(rel_diff(x, mgcv::predict.gam(ref, nd, type = "lpmatrix")), 1e-10)
  expect_equal(unname(drop(x %*% coef(fit))), unname(predict(fit, nd)))
  expect_equal(predict(fit, nd, type = "response"), predict(fit, nd))
})

test_that("predict without newdata reproduces the fitted values", {
  expect_equal(unname(predict(fit)), unname(fitted(fit)), tolerance = 1e-10)
  expect_equal(dim(model.matrix(fit)), c(nrow(d), length(coef(fit))))
})

test_that("bad newdata gives a clear error", {
  expect_error(predict(fit, nd[, c("x0", "fac", "x3")]), "x2", class = "warmgam_error_missing_variable")
  bad <- nd
  bad$fac <- as.character(bad$fac)
  bad$fac[1] <- "zzz"
  expect_error(predict(fit, bad), "zzz", class = "warmgam_error_unseen_level")
  expect_error(predict(fit, nd, type = "nonsense"), "type", class = "warmgam_error_argument")
})

test_that("a damaged basis in the fit object gives an error, not a crash", {
  local_store()
  d <- sim_data(200, seed = 4)
  fit <- gam_fit(y ~ s(x0, bs = "cr") + s(x1), data = d)
  broken <- fit
  broken$smooth[[1]]$state$knots <- 1
  expect_error(predict(broken, d[1:3, ]), "knots", class = "warmgam_error_newdata")
  broken <- fit
  broken$smooth[[2]]$state$points_dim <- c(3, 7)
  expect_error(predict(broken, d[1:3, ]), class = "warmgam_error_newdata")
  broken <- fit
  broken$smooth[[1]]$state$rank <- numeric(0)
  expect_error(predict(broken, d[1:3, ]), "rank", class = "warmgam_error_newdata")
})
