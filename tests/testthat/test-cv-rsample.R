# gam_cv() with an rsample `rset` as `folds` (R/cv.R).

test_that("an rset's assessment rows define the folds", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("rsample")
  d <- sim_data(200, seed = 21)
  set.seed(3)
  rs <- rsample::vfold_cv(d, v = 5)
  cv <- gam_cv(y ~ s(x0, k = 5) + s(x2, k = 5), data = d, folds = rs, cache = FALSE, seed = 1)
  # Each row's fold is the split whose assessment set holds it.
  want <- integer(nrow(d))
  for (i in seq_along(rs$splits)) want[rsample::complement(rs$splits[[i]])] <- i
  expect_identical(cv$fold_id, want)
  expect_identical(cv$fold_label, rs$id)
  expect_identical(cv$folds$n_test, vapply(rs$splits, function(s) nrow(rsample::assessment(s)), integer(1)))
  expect_identical(cv$folds$n_train, vapply(rs$splits, function(s) nrow(rsample::analysis(s)), integer(1)))
  # The same folds given as ids give the same estimate (exactly: the same fits).
  by_id <- gam_cv(y ~ s(x0, k = 5) + s(x2, k = 5), data = d, folds = want, cache = FALSE, seed = 1)
  expect_identical(cv$estimate, by_id$estimate)
  expect_identical(cv$folds$metric, by_id$folds$metric)
  # Each fold's metric is the deviance of a fit to its analysis rows (1e-10 relative).
  s1 <- rs$splits[[1]]
  fit1 <- gam_fit(y ~ s(x0, k = 5) + s(x2, k = 5), data = rsample::analysis(s1), cache = FALSE)
  test <- rsample::assessment(s1)
  expect_lt(abs(mean((test$y - predict(fit1, test))^2) / cv$folds$metric[[1]] - 1), 1e-10)
})

test_that("any rset is accepted: repeated, grouped, bootstrap and Monte Carlo splits", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("rsample")
  d <- sim_data(150, seed = 22)
  d$grp <- rep(1:15, each = 10)
  set.seed(4)
  f <- y ~ s(x0, k = 5)
  rep_cv <- gam_cv(f, data = d, folds = rsample::vfold_cv(d, v = 3, repeats = 2), cache = FALSE)
  expect_equal(nrow(rep_cv$folds), 6L)
  expect_null(rep_cv$fold_id)
  expect_identical(rep_cv$fold_label[[1]], "Repeat1/Fold1")
  grp <- rsample::group_vfold_cv(d, group = grp, v = 5)
  grp_cv <- gam_cv(f, data = d, folds = grp, cache = FALSE)
  for (i in seq_along(grp$splits)) {
    expect_true(all(grp_cv$fold_id[rsample::complement(grp$splits[[i]])] == i))
  }
  boot <- rsample::bootstraps(d, times = 3)
  boot_cv <- gam_cv(f, data = d, folds = boot, cache = FALSE)
  # Fitted to the rows outside each assessment set (the analysis rows, once each).
  expect_identical(boot_cv$folds$n_train, vapply(boot$splits, function(s) length(unique(s$in_id)), integer(1)))
  mc <- rsample::mc_cv(d, prop = 0.8, times = 4)
  mc_cv <- gam_cv(f, data = d, folds = mc, cache = FALSE)
  expect_identical(mc_cv$folds$n_test, vapply(mc$splits, function(s) nrow(rsample::assessment(s)), integer(1)))
  expect_true(all(is.finite(mc_cv$folds$metric)))
})

test_that("rows with missing values are dropped from an rset's folds; a foreign rset is refused", {
  skip_if_not_installed("mgcv")
  skip_if_not_installed("rsample")
  d <- sim_data(120, seed = 23)
  d$x0[c(2, 50)] <- NA
  set.seed(5)
  rs <- rsample::vfold_cv(d, v = 4)
  cv <- gam_cv(y ~ s(x0, k = 5), data = d, folds = rs, cache = FALSE)
  expect_equal(sum(cv$folds$n_test), 118)
  want <- integer(nrow(d))
  for (i in seq_along(rs$splits)) want[rsample::complement(rs$splits[[i]])] <- i
  expect_identical(cv$fold_id, want[-c(2, 50)])
  expect_error(gam_cv(y ~ s(x0, k = 5), data = d[1:100, ], folds = rs),
               "`folds` was made from data with 120 rows", class = "warmgam_error_argument")
})
