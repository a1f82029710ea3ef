# gam_cv(): folds seeded through the store reach the cold folds' answers, in any
# future plan; bad input is refused with a clear error.

cv_formula <- y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr")

test_that("warm folds give the cold folds' metrics with fewer outer iterations", {
  local_store()
  d <- sim_data(1200, seed = 5)
  cold <- gam_cv(cv_formula, data = d, folds = 5, seed = 11, cache = FALSE)
  warm <- gam_cv(cv_formula, data = d, folds = 5, seed = 11)
  expect_s3_class(warm, "warmgam_cv")
  expect_identical(cold$fold_id, warm$fold_id)
  expect_true(all(cold$folds$warm_start == "cold"))
  expect_true(all(warm$folds$warm_start == "seeded"))
  expect_lt(max(abs(warm$folds$metric - cold$folds$metric) / cold$folds$metric), 1e-6)
  expect_lt(sum(warm$folds$outer_iterations), sum(cold$folds$outer_iterations))
  # The estimate is the folds' metrics weighted by their sizes; the metric for the
  # Gaussian family is the mean squared error.
  expect_equal(cold$estimate, weighted.mean(cold$folds$metric, cold$folds$n_test))
  expect_equal(cold$se, sd(cold$folds$metric) / sqrt(5))
  fold1 <- cold$fold_id == 1
  fit1 <- gam_fit(cv_formula, data = d[!fold1, ], cache = FALSE)
  mse1 <- mean((d$y[fold1] - predict(fit1, d[fold1, ]))^2)
  expect_lt(abs(cold$folds$metric[[1]] - mse1) / mse1, 1e-10)
  # The full-data fit comes with the result; a repeated call is answered by the store.
  expect_s3_class(warm$fit, "warmgam")
  again <- gam_cv(cv_formula, data = d, folds = 5, seed = 11)
  expect_true(all(again$folds$warm_start == "exact"))
  expect_equal(again$folds$metric, warm$folds$metric, tolerance = 1e-12)
})

test_that("binary cross-validation: warm folds reach the cold folds' deviance", {
  local_store()
  set.seed(8)
  d <- gam_sim(1, n = 1500, dist = "binary", scale = 0.33)
  cold <- gam_cv(cv_formula, data = d, family = binomial(), folds = 4, seed = 3, cache = FALSE)
  warm <- gam_cv(cv_formula, data = d, family = binomial(), folds = 4, seed = 3)
  expect_true(all(warm$folds$warm_start == "seeded"))
  expect_lt(max(abs(warm$folds$metric - cold$folds$metric) / cold$folds$metric), 1e-6)
  # Stratified folds keep the share of ones.
  shares <- tapply(d$y, cold$fold_id, mean)
  expect_lt(diff(range(shares)), 0.01)
  # The default metric is the binomial deviance of the held-out rows, per row.
  fold1 <- cold$fold_id == 1
  fit1 <- gam_fit(cv_formula, data = d[!fold1, ], family = binomial(), cache = FALSE)
  mu <- predict(fit1, d[fold1, ], type = "response")
  dev1 <- sum(binomial()$dev.resids(d$y[fold1], mu, rep(1, sum(fold1)))) / sum(fold1)
  expect_lt(abs(cold$folds$metric[[1]] - dev1) / dev1, 1e-10)
})

test_that("sequential and multisession plans give identical results", {
  skip_if_not_installed("future")
  local_store()
  d <- sim_data(800, seed = 6)
  sequential <- gam_cv(cv_formula, data = d, folds = 4, seed = 2, cache = FALSE)
  future::plan(future::multisession, workers = 2)
  withr::defer(future::plan(future::sequential))
  parallel <- gam_cv(cv_formula, data = d, folds = 4, seed = 2, cache = FALSE)
  expect_identical(parallel$folds$metric, sequential$folds$metric)
  expect_identical(parallel$estimate, sequential$estimate)
  # Workers share the store: seeded folds on other processes, same answers.
  shared <- gam_cv(cv_formula, data = d, folds = 4, seed = 2)
  expect_true(all(shared$folds$warm_start == "seeded"))
  expect_lt(max(abs(shared$folds$metric - sequential$folds$metric) / sequential$folds$metric), 1e-6)
})

test_that("each fold's worker receives the data and settings, not gam_cv()'s call", {
  skip_if_not_installed("future")
  d <- sim_data(600, seed = 8)
  tests <- lapply(1:3, function(i) seq_len(600) %% 3 == i - 1)
  args <- warmgam:::cv_args(tests, d, list(), character(), cv_formula, gaussian(), "REML", FALSE, NULL)
  # A package function (serialized as a reference) and its argument: about the
  # data's size, whatever the full fit holds.
  expect_identical(environment(warmgam:::cv_fold), asNamespace("warmgam"))
  data_bytes <- length(serialize(d, NULL))
  expect_lt(length(serialize(list(warmgam:::cv_fold, args), NULL)), 1.2 * data_bytes + 2e4)
  # The same folds on worker processes give the sequential answers.
  future::plan(future::multisession, workers = 2)
  withr::defer(future::plan(future::sequential))
  parallel <- gam_cv(cv_formula, data = d, folds = 3, seed = 1, cache = FALSE)
  future::plan(future::sequential)
  expect_identical(parallel$folds$metric, gam_cv(cv_formula, data = d, folds = 3, seed = 1, cache = FALSE)$folds$metric)
})

test_that("a seed on a plateau of the criterion does not stop the fold there (issue 21)", {
  # The full-data fit shrinks s(x3) to its line (sp ~ 1e7); on fold 3's rows a cold
  # search keeps it wiggly (sp ~ 0.7) at a REML lower by 0.48. Seeded there, the
  # search used to stop at once on the flat plateau; it now checks the cold start's
  # point once it ends and searches on from it when that is lower.
  local_store()
  sample_data <- function(n) {
    x1 <- runif(n)
    x2 <- runif(n)
    x3 <- runif(n)
    y <- sin(2 * pi * x1) + exp(2 * x2) / 4 + cos(3 * x3) + rnorm(n, sd = 0.5)
    data.frame(x1, x2, x3, y)
  }
  # (The draws before the binary data are those of the case where this was found.)
  set.seed(3)
  counts <- sample_data(6000)
  invisible(rnbinom(6000, mu = exp(1 + sin(2 * pi * counts$x1) + counts$x2), size = 2))
  binary <- sample_data(3000)
  binary$hit <- rbinom(3000, 1, plogis(binary$y - 1))
  f <- hit ~ s(x1) + s(x2) + s(x3)
  warm <- gam_cv(f, data = binary, family = binomial(), folds = 5, seed = 1)
  cold <- gam_cv(f, data = binary, family = binomial(), folds = 5, seed = 1, cache = FALSE)
  train <- binary[warm$fold_id != 3, ]
  seeded <- gam_fit(f, data = train, family = binomial())
  alone <- gam_fit(f, data = train, family = binomial(), cache = FALSE)
  expect_equal(seeded$warm_start$source, "seeded")
  expect_lt(unname(seeded$criterion), unname(alone$criterion) + 1e-6)
  expect_lt(abs(warm$folds$metric[[3]] - cold$folds$metric[[3]]) / cold$folds$metric[[3]], 1e-6)
})

test_that("folds are reproducible, stratified for 0/1 responses, or given", {
  local_store()
  d <- sim_data(300, seed = 7)
  set.seed(42)
  before <- runif(1)
  set.seed(42)
  a <- gam_cv(y ~ s(x0), data = d, folds = 3, seed = 9)
  expect_identical(runif(1), before) # the seed leaves the session's stream alone
  b <- gam_cv(y ~ s(x0), data = d, folds = 3, seed = 9)
  expect_identical(a$fold_id, b$fold_id)
  expect_equal(as.vector(table(a$fold_id)), c(100, 100, 100))
  d$hit <- as.numeric(d$y > quantile(d$y, 0.8))
  strat <- gam_cv(hit ~ s(x2), data = d, folds = 4, seed = 1, metric = "auc")
  positives <- tapply(d$hit, strat$fold_id, sum)
  expect_lte(max(positives) - min(positives), 1)
  expect_true(all(strat$folds$metric > 0.5 & strat$folds$metric <= 1))
  given <- rep(c("a", "b", "c"), length.out = nrow(d))
  g <- gam_cv(y ~ s(x0), data = d, folds = given)
  expect_identical(g$fold_id, as.integer(factor(given)))
})

test_that("metrics: built in and user functions", {
  local_store()
  d <- sim_data(300, seed = 8)
  dev <- gam_cv(y ~ s(x0), data = d, folds = 3, seed = 1)
  mse <- gam_cv(y ~ s(x0), data = d, folds = 3, seed = 1, metric = "mse")
  expect_equal(dev$folds$metric, mse$folds$metric)
  mae <- gam_cv(y ~ s(x0), data = d, folds = 3, seed = 1, metric = "mae")
  expect_true(all(mae$folds$metric < sqrt(mse$folds$metric)))
  own <- gam_cv(y ~ s(x0), data = d, folds = 3, seed = 1,
                metric = function(y, mu, weights) max(abs(y - mu)))
  expect_equal(own$metric, "custom")
  expect_true(all(own$folds$metric > mae$folds$metric))
  d$hit <- as.numeric(d$y > median(d$y))
  ll <- gam_cv(hit ~ s(x2), data = d, folds = 3, seed = 1, metric = "logloss")
  expect_true(all(is.finite(ll$folds$metric) & ll$folds$metric > 0))
})

test_that("print, summary and plot show a cross-validation", {
  local_store()
  d <- sim_data(300, seed = 9)
  cv <- gam_cv(y ~ s(x0), data = d, folds = 3, seed = 1)
  expect_output(print(cv), "3-fold cross-validation")
  expect_output(print(summary(cv)), "n_train")
  path <- tempfile(fileext = ".png")
  grDevices::png(path)
  expect_invisible(plot(cv))
  grDevices::dev.off()
  expect_gt(file.size(path), 0)
})

test_that("bad input is refused, and a failing fold is reported while the others finish", {
  local_store()
  d <- sim_data(200, seed = 10)
  expect_error(gam_cv(y ~ s(x0), data = d, folds = 1), "folds", class = "warmgam_error_argument")
  expect_error(gam_cv(y ~ s(x0), data = d, folds = 201), "folds", class = "warmgam_error_argument")
  expect_error(gam_cv(y ~ s(x0), data = d, folds = rep(1:2, 50)), "one fold id per row",
               class = "warmgam_error_argument")
  empty <- factor(rep(c("a", "b"), 100), levels = c("a", "b", "c"))
  expect_error(gam_cv(y ~ s(x0), data = d, folds = empty), "Fold `c`", class = "warmgam_error_argument")
  expect_error(gam_cv(y ~ s(x0), data = d, folds = 3, metric = "r2"), "metric",
               class = "warmgam_error_argument")
  expect_error(
    gam_cv(y ~ s(x0), data = d, folds = 3, seed = 1, metric = function(y, mu, weights) stop("no good")),
    "metric failed on fold 1: no good", class = "warmgam_error_metric"
  )
  expect_error(gam_cv(y ~ s(x0), data = as.list(d), folds = 3), "data frame",
               class = "warmgam_error_argument")
  # Fold 1 holds every row with x below 8: its training rows have 5 distinct values,
  # too few for k = 10. The other folds fit and are scored.
  few <- data.frame(x = rep(1:12, each = 10))
  few$y <- sin(few$x / 2) + rnorm(nrow(few), sd = 0.1)
  ids <- ifelse(few$x <= 7, 1, rep(2:3, length.out = nrow(few)))
  cv <- gam_cv(y ~ s(x, k = 10), data = few, folds = ids)
  expect_match(cv$folds$error[[1]], "unique values")
  expect_true(is.na(cv$folds$metric[[1]]))
  expect_true(all(is.finite(cv$folds$metric[2:3])))
  expect_true(is.finite(cv$estimate))
  expect_output(print(cv), "1 fold\\(s\\) failed")
})

test_that("nb() and tw() folds are scored by their own fit's family, not NA (issue 21)", {
  # Before: every fold's deviance and the estimate were NA, silently (the family
  # given to gam_cv() has theta / p unknown).
  local_store()
  set.seed(3)
  n <- 900
  x <- runif(n)
  mu <- exp(1 + sin(2 * pi * x))
  d <- data.frame(x = x, y = rnbinom(n, mu = mu, size = 3))
  d$yt <- mu * rgamma(n, shape = 2, rate = 2)
  for (case in list(list(family = nb(), response = "y"), list(family = tw(), response = "yt"))) {
    f <- stats::as.formula(paste(case$response, "~ s(x)"))
    cv <- gam_cv(f, data = d, family = case$family, folds = 3, seed = 1)
    expect_true(all(is.finite(cv$folds$metric)))
    expect_true(is.finite(cv$estimate))
    # Each fold searched its family parameter (at least one value tried).
    expect_true(all(cv$folds$family_trials >= 1))
    # Fold 2 by hand: its fit's family (theta or p estimated on the fold) scores it.
    test <- cv$fold_id == 2
    fit <- gam_fit(f, data = d[!test, ], family = case$family, cache = FALSE)
    mu2 <- predict(fit, d[test, ], type = "response")
    dev <- mean(family(fit)$dev.resids(d[[case$response]][test], mu2, rep(1, sum(test))))
    expect_lt(abs(cv$folds$metric[[2]] - dev) / dev, 1e-6) # the fold's fit agrees to its tolerance
  }
})
