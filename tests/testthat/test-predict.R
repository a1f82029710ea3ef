# predict(): types, se.fit and bad newdata.

d <- sim_data()
nd <- new_points(d)
f <- y ~ fac + x3 + s(x0, bs = "cr") + s(x2, bs = "ps")
fit <- gam_fit(f, data = d)
ref <- mgcv_reference("predict/main", f, d, method = "REML")

test_that("terms and lpmatrix agree with mgcv", {
  pt <- predict(fit, nd, type = "terms", se.fit = TRUE)
  qt <- predict(ref, nd, type = "terms", se.fit = TRUE)
  expect_equal(colnames(pt$fit), colnames(qt$fit))
  expect_lt(rel_diff(pt$fit, qt$fit), 1e-6)
  expect_lt(rel_diff(pt$se.fit, qt$se.fit), 1e-4)
  expect_lt(abs(attr(pt$fit, "constant") - attr(predict(ref, nd, type = "terms"), "constant")), 1e-6)
  x <- predict(fit, nd, type = "lpmatrix")
  expect_lt(rel_diff(x, predict(ref, nd, type = "lpmatrix")), 1e-10)
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

test_that("exclude, terms and type = \"iterms\" agree with mgcv's predict.gam", {
  # Before, `exclude` and `terms` went into `...` unused: excluding s(x0) was 0.54
  # off. Tolerances as above: 1e-6 relative in predictions, 1e-4 in se.fit
  # (measured: 4e-8 and 7e-6 at most).
  f2 <- y ~ fac + x3 + s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr", by = z) + ti(x1, x2)
  fit2 <- gam_fit(f2, data = d, cache = FALSE)
  ref2 <- mgcv_reference("predict/exclude-terms", f2, d, method = "REML")
  for (args in list(list(exclude = "s(x0)"), list(terms = c("s(x0)", "fac")), list(terms = "s(x1)"),
                    list(exclude = c("(Intercept)", "x3", "ti(x1,x2)")))) {
    for (type in c("link", "response", "terms", "iterms", "lpmatrix")) {
      # mgcv ignores (with a warning) an `exclude` that names a column type =
      # "terms" does not have, such as "(Intercept)"; warmgam excludes the others.
      if (type %in% c("terms", "iterms") && "(Intercept)" %in% args$exclude) next
      label <- paste(deparse(args), type)
      se <- type != "lpmatrix"
      p <- do.call(predict, c(list(fit2, nd, type = type, se.fit = se), args))
      q <- do.call(predict, c(list(ref2, nd, type = type, se.fit = se), args))
      if (!se) {
        expect_lt(rel_diff(p, q), 1e-6, label = label)
        next
      }
      expect_lt(rel_diff(p$fit, q$fit), 1e-6, label = paste(label, "fit"))
      expect_lt(rel_diff(p$se.fit, q$se.fit), 1e-4, label = paste(label, "se"))
      if (is.matrix(p$fit)) expect_equal(colnames(p$fit), colnames(q$fit), label = label)
    }
  }
  # iterms: a centred smooth's se includes the intercept's uncertainty (s(x0) 10%
  # above its "terms" se here); iterms.type = 2 as mgcv's.
  for (it in list(NULL, 2)) {
    p <- predict(fit2, nd, type = "iterms", se.fit = TRUE, iterms.type = it)
    q <- predict(ref2, nd, type = "iterms", se.fit = TRUE, iterms.type = it)
    expect_lt(rel_diff(p$se.fit, q$se.fit), 1e-4)
  }
  expect_gt(rel_diff(predict(fit2, nd, type = "iterms", se.fit = TRUE)$se.fit[, "s(x0)"],
                     predict(fit2, nd, type = "terms", se.fit = TRUE)$se.fit[, "s(x0)"]), 0.05)
  expect_error(predict(fit2, nd, exclude = "s(x9)"), "`exclude` names \"s\\(x9\\)\"", class = "warmgam_error_argument")
  expect_error(predict(fit2, nd, terms = 1), "`terms`", class = "warmgam_error_argument")
  expect_error(predict(fit2, nd, type = "iterms", iterms.type = 3), "iterms.type", class = "warmgam_error_argument")
})

test_that("na.action, block.size and newdata.guaranteed are mgcv's", {
  nd2 <- nd[1:8, ]
  nd2$x0[2] <- NA
  nd2$fac[5] <- NA
  # na.pass (the default) predicts NA for incomplete rows; na.omit and na.exclude
  # drop them, as mgcv's predict.gam does.
  for (na in list(stats::na.pass, stats::na.omit, "na.exclude")) {
    p <- predict(fit, nd2, se.fit = TRUE, na.action = na)
    q <- predict(ref, nd2, se.fit = TRUE, na.action = na)
    # mgcv returns one-dimensional arrays.
    qfit <- stats::setNames(c(q$fit), names(q$fit))
    expect_equal(names(p$fit), names(qfit))
    expect_equal(unname(is.na(p$fit)), unname(is.na(qfit)))
    ok <- !is.na(qfit)
    expect_lt(rel_diff(p$fit[ok], qfit[ok]), 1e-6)
    expect_lt(rel_diff(p$se.fit[ok], c(q$se.fit)[ok]), 1e-4)
  }
  expect_equal(dim(predict(fit, nd2, type = "terms")), c(8L, 4L))
  expect_error(predict(fit, nd2, na.action = stats::na.fail), "missing values", class = "warmgam_error_newdata")
  expect_error(predict(fit, nd2, na.action = "na.nothing"), "na.action", class = "warmgam_error_argument")
  # Blocks give the same answer as one pass.
  for (type in c("link", "terms", "iterms")) {
    expect_equal(predict(fit, nd, type = type, se.fit = TRUE, block.size = 7),
                 predict(fit, nd, type = type, se.fit = TRUE), tolerance = 1e-12)
  }
  expect_equal(predict(fit, nd, newdata.guaranteed = TRUE), predict(fit, nd))
  expect_error(predict(fit, nd, block.size = "big"), "block.size", class = "warmgam_error_argument")
})

test_that("an argument predict() does not take is an error naming it", {
  expect_error(predict(fit, nd, excluded = "s(x0)"), "no argument `excluded`", class = "warmgam_error_argument")
  expect_error(predict(fit, nd, "link", FALSE, NULL, NULL, NULL, FALSE, na.pass, FALSE, NULL, 1),
               "unnamed", class = "warmgam_error_argument")
  # model.matrix() passes its arguments on to predict(), as mgcv's does.
  expect_equal(model.matrix(fit, newdata = nd, exclude = "s(x0)"),
               predict(fit, nd, type = "lpmatrix", exclude = "s(x0)"))
})
