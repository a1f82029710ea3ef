# gam_cv() with general families (the held-out rows' log loss), and general fits in
# the warm-start store.

# A Gaussian response whose standard deviation grows with z.
scale_data <- function(n, seed) {
  set.seed(seed)
  d <- data.frame(x = runif(n), z = runif(n))
  d$y <- sin(2 * pi * d$x) + exp(d$z - 0.5) * rnorm(n) * 0.4
  d
}

test_that("gam_cv() scores a gaulss() model by the held-out rows' negative log likelihood", {
  local_store()
  d <- scale_data(400, seed = 11)
  f <- list(y ~ s(x), ~ s(z))
  cv <- gam_cv(f, data = d, family = mgcv::gaulss(), folds = 4, seed = 2, progress = FALSE)
  expect_identical(cv$metric, "logloss")
  expect_true(all(is.finite(cv$folds$metric)))
  expect_s3_class(cv$fit, "warmgam_general")
  # Fold 2 by hand: gaulss' response scale is the mean and 1 / sd, so the log loss
  # is minus the mean normal log density (to rounding).
  held <- cv$fold_id == 2
  fold <- gam_fit(f, data = d[!held, ], family = mgcv::gaulss())
  p <- predict(fold, d[held, ], type = "response")
  by_hand <- -mean(stats::dnorm(d$y[held], p[, 1], 1 / p[, 2], log = TRUE))
  expect_lt(abs(cv$folds$metric[[2]] / by_hand - 1), 1e-10)
  expect_equal(cv$estimate, stats::weighted.mean(cv$folds$metric, cv$folds$n_test), tolerance = 1e-12)
  expect_error(gam_cv(f, data = d, family = mgcv::gaulss(), folds = 3, metric = "mse", progress = FALSE),
               "logloss", class = "warmgam_error_argument")
  # A metric function gets the linear predictors.
  first <- function(y, eta, weights) mean((y - eta[, 1])^2)
  custom <- gam_cv(f, data = d, family = mgcv::gaulss(), folds = 3, seed = 2, metric = first, progress = FALSE)
  expect_true(all(is.finite(custom$folds$metric)))
})

test_that("a multinom() model's log loss is minus the mean log probability of the held-out classes", {
  local_store()
  set.seed(12)
  n <- 450
  d <- data.frame(x = runif(n))
  eta1 <- 2 * d$x - 1
  eta2 <- sin(3 * d$x)
  p <- cbind(1, exp(eta1), exp(eta2))
  p <- p / rowSums(p)
  d$y <- apply(p, 1, function(pr) sample(0:2, 1, prob = pr))
  f <- list(y ~ s(x), ~ s(x))
  cv <- gam_cv(f, data = d, family = mgcv::multinom(K = 2), folds = 3, seed = 5, progress = FALSE)
  held <- cv$fold_id == 1
  fold <- gam_fit(f, data = d[!held, ], family = mgcv::multinom(K = 2))
  probs <- predict(fold, d[held, ], type = "response")
  by_hand <- -mean(log(probs[cbind(seq_len(sum(held)), d$y[held] + 1)]))
  expect_lt(abs(cv$folds$metric[[1]] / by_hand - 1), 1e-10)
})

test_that("the store returns a repeated general fit as it was and seeds fits to other data", {
  local_store()
  n <- 500
  d <- scale_data(n, seed = 13)
  # 45 coefficients: the entry (three 45 x 45 matrices) must fit the store's bound
  # for the model (a bound too small had every entry refused on reading).
  f <- list(y ~ s(x, k = 25), ~ s(z, k = 20))
  cold <- gam_fit(f, data = d, family = mgcv::gaulss())
  expect_identical(cold$warm_start$source, "cold")
  again <- gam_fit(f, data = d, family = mgcv::gaulss())
  expect_identical(again$warm_start$source, "exact")
  expect_identical(again$warm_start$key, cold$warm_start$key)
  for (field in c("coefficients", "fitted.values", "linear.predictors", "Vp", "Ve", "Vc", "edf", "edf1", "edf2",
                  "sp", "criterion", "loglik", "deviance", "outer_iterations")) {
    expect_identical(again[[field]], cold[[field]], label = field)
  }
  expect_identical(summary(again)$s.table, summary(cold)$s.table)
  expect_identical(gam_fit(f, data = d, family = mgcv::gaulss(), cache = "refresh")$warm_start$source, "cold")
  expect_identical(gam_fit(f, data = d, family = mgcv::gaulss(), cache = FALSE)$warm_start$source, "cold")

  # Other data of the same model: seeded, and the same optimum as a cold fit
  # (fitted values 1e-6 relative, REML 1e-9: the search's tolerance).
  other <- d[1:400, ]
  other$y <- other$y + rnorm(400) * 0.05
  seeded <- gam_fit(f, data = other, family = mgcv::gaulss())
  expect_identical(seeded$warm_start$source, "seeded")
  unseeded <- gam_fit(f, data = other, family = mgcv::gaulss(), cache = FALSE)
  expect_lt(rel_diff(seeded$fitted.values, unseeded$fitted.values), 1e-6)
  expect_lt(abs(unname(seeded$criterion / unseeded$criterion) - 1), 1e-9)
  # Another model (a smooth more) is neither.
  d$w <- runif(n)
  wider <- gam_fit(list(y ~ s(x) + s(w), ~ s(z)), data = d, family = mgcv::gaulss())
  expect_identical(wider$warm_start$source, "cold")

  cv <- gam_cv(f, data = d, family = mgcv::gaulss(), folds = 3, seed = 1, progress = FALSE)
  expect_true(all(cv$folds$warm_start == "seeded"))
  cold_cv <- gam_cv(f, data = d, family = mgcv::gaulss(), folds = 3, seed = 1, cache = FALSE, progress = FALSE)
  # Each fold's seeded and cold searches stop within the criterion's tolerance (1e-8
  # relative) of one optimum: their scores agree to 1e-7.
  expect_lt(max(abs(cv$folds$metric / cold_cv$folds$metric - 1)), 1e-7)
})

test_that("a store others can write to is not used by a general fit, which says so", {
  skip_on_os("windows")
  dir <- local_store()
  d <- scale_data(300, seed = 14)
  f <- list(y ~ s(x), ~ s(z))
  cold <- gam_fit(f, data = d, family = mgcv::gaulss())
  Sys.chmod(dir, "777", use_umask = FALSE)
  on.exit(Sys.chmod(dir, "700", use_umask = FALSE), add = TRUE)
  # The notice is given once per R session: forget an earlier test's.
  noticed <- store_problem$noticed
  store_problem$noticed <- list()
  on.exit(store_problem$noticed <- noticed, add = TRUE)
  expect_warning(again <- gam_fit(f, data = d, family = mgcv::gaulss()), "can be written by other users")
  expect_identical(again$warm_start$source, "cold")
  expect_equal(again$fitted.values, cold$fitted.values, tolerance = 1e-10)
})

test_that("a seed with a term on its plateau reaches the cold fit where the term has an effect", {
  # In the seed's sample s.1(z) is shrunk to its plateau (log sp 17); in the new
  # one it has an effect (log sp 5). This seeded fit used to fail outright: the
  # check for a better inner optimum refitted far out on s(w)'s plateau (log sp
  # 21), where the inner fit from the search's coefficients ends with a Hessian
  # not positive definite to working precision.
  local_store()
  f <- list(y ~ s(x) + s(w), ~ s(z))
  flat <- scale_data(600, seed = 21)
  flat$w <- runif(600)
  seed <- gam_fit(f, data = flat, family = mgcv::gaulss())
  expect_gt(log(seed$sp[[3]]), 15)
  sloped <- scale_data(600, seed = 22)
  sloped$w <- runif(600)
  seeded <- gam_fit(f, data = sloped, family = mgcv::gaulss())
  expect_identical(seeded$warm_start$source, "seeded")
  cold <- gam_fit(f, data = sloped, family = mgcv::gaulss(), cache = FALSE)
  expect_lt(log(cold$sp[[3]]), 10)
  expect_lt(abs(seeded$criterion / cold$criterion - 1), 1e-8) # the outer tolerance
  expect_lt(max(abs(fitted(seeded) - fitted(cold))) / max(abs(fitted(cold))), 1e-6)
})

test_that("a twlss() fold where the seeded fit fails is fitted cold, to the cold fold's metric", {
  local_store()
  # The log scale smooth in x2: the full data's smoothing parameters put fold 2's
  # inner fit where its penalized Hessian is not positive definite (the fold failed
  # with "not identifiable"); the cold fit of that fold does not fail.
  set.seed(3)
  d <- mgcv::gamSim(1, n = 400, dist = "poisson", scale = 0.2, verbose = FALSE)
  d$y <- mgcv::rTweedie(exp(d$f), p = 1.3, phi = 0.5)
  f <- list(y ~ s(x0) + s(x1) + s(x2) + s(x3), ~1, ~ s(x2, k = 5))
  warm <- gam_cv(f, data = d, family = mgcv::twlss(), folds = 3, seed = 1, progress = FALSE)
  cold <- gam_cv(f, data = d, family = mgcv::twlss(), folds = 3, seed = 1, progress = FALSE, cache = FALSE)
  expect_true(all(is.na(warm$folds$error)))
  expect_identical(warm$folds$warm_start, c("seeded", "cold", "seeded"))
  expect_lt(max(abs(warm$folds$metric / cold$folds$metric - 1)), 1e-7)
})
