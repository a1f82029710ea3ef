# Leverages, influence, Cook's distances, weights and simulate() against mgcv's for
# the same model (R/influence.R).

influence_cases <- function() {
  d <- sim_data(300, seed = 3)
  set.seed(5)
  d$cnt <- rpois(nrow(d), exp(d$f / 5))
  d$hit <- as.numeric(d$cnt > 2)
  d$gy <- rgamma(nrow(d), shape = 3, scale = exp(d$f / 8) / 3)
  cases <- list(
    gaussian = list(y ~ s(x0) + s(x1) + s(x2) + fac, gaussian(), d$w),
    poisson = list(cnt ~ s(x0) + s(x2) + fac, poisson(), d$w),
    gamma_log = list(gy ~ s(x0) + s(x2), Gamma(link = "log"), d$w),
    binomial = list(hit ~ s(x0) + s(x2), binomial(), rep(1, nrow(d)))
  )
  list(d = d, cases = cases)
}

test_that("hatvalues, influence, cooks.distance, weights and simulate equal mgcv's", {
  skip_if_not_installed("mgcv")
  setup <- influence_cases()
  d <- setup$d
  for (name in names(setup$cases)) {
    case <- setup$cases[[name]]
    d$wt <- case[[3]]
    fit <- gam_fit(case[[1]], data = d, family = case[[2]], weights = wt)
    ref <- mgcv_fit(case[[1]], d, family = case[[2]], method = "REML", weights = d$wt)
    # Leverages: mgcv's fit$hat, to 1e-6 relative.
    expect_lt(rel_diff(hatvalues(fit), ref$hat), 1e-6, label = paste(name, "hat"))
    expect_lt(rel_diff(influence(fit), stats::influence(ref)), 1e-6, label = paste(name, "influence"))
    # The leverages sum to the effective degrees of freedom (1e-8 absolute).
    expect_lt(abs(sum(hatvalues(fit)) - sum(fit$edf)), 1e-8, label = paste(name, "sum hat"))
    # Cook's distances as cooks.distance.gam(), to 1e-6 relative.
    expect_lt(rel_diff(cooks.distance(fit), stats::cooks.distance(ref)), 1e-6, label = paste(name, "cooks"))
    # Prior (exactly) and working weights (1e-6 relative).
    expect_equal(weights(fit), unname(stats::weights(ref, type = "prior")))
    expect_lt(rel_diff(weights(fit, type = "working"), stats::weights(ref, type = "working")), 1e-6,
              label = paste(name, "working weights"))
    # The same seed gives mgcv's draws (1e-6 relative: they move with the fitted values).
    sim <- suppressMessages(suppressWarnings(simulate(fit, nsim = 3, seed = 4)))
    ref_sim <- suppressMessages(suppressWarnings(stats::simulate(ref, nsim = 3, seed = 4)))
    expect_named(sim, c("sim_1", "sim_2", "sim_3"))
    expect_lt(rel_diff(as.matrix(sim), as.matrix(ref_sim)), 1e-6, label = paste(name, "simulate"))
  }
})

test_that("simulate() leaves the random number stream as it found it when given a seed", {
  skip_if_not_installed("mgcv")
  d <- sim_data(200)
  fit <- gam_fit(y ~ s(x0) + s(x2), data = d)
  set.seed(11)
  before <- .Random.seed
  sim <- simulate(fit, seed = 1)
  expect_identical(.Random.seed, before)
  expect_equal(attr(sim, "seed"), 1, ignore_attr = TRUE)
  expect_identical(sim, simulate(fit, seed = 1))
})

test_that("bad arguments are errors naming them", {
  skip_if_not_installed("mgcv")
  d <- sim_data(200)
  fit <- gam_fit(y ~ s(x0) + s(x2), data = d)
  expect_error(influence(fit, do.coef = TRUE), "do.coef", class = "warmgam_error_argument")
  expect_error(weights(fit, type = "pearson"), "`type` must be one of", class = "warmgam_error_argument")
  expect_error(hatvalues(fit, type = "x"), "has no argument `type`", class = "warmgam_error_argument")
  expect_error(simulate(fit, nsim = 0), "`nsim`", class = "warmgam_error_argument")
  expect_error(cooks.distance(fit, 1), "takes no unnamed argument", class = "warmgam_error_argument")
})
