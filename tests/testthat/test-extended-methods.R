# simulate(), augment() and the refusals of the extended families (betar, scat,
# ocat, ziP), beyond what their own test files compare with mgcv.

extended_data <- function(n = 300, seed = 3) {
  set.seed(seed)
  d <- gam_sim(1, n = n, scale = 0.3)
  mu <- stats::plogis(d$f / 4 - 2)
  d$yb <- stats::rbeta(n, mu * 4, (1 - mu) * 4)
  d$ys <- d$f + 2 * stats::rt(n, 4)
  d$yo <- findInterval(d$f - mean(d$f) + stats::rlogis(n), c(-1, 0, 5)) + 1
  lam <- exp(d$f / 4 - 1)
  p <- 1 - exp(-exp(-2 + exp(0.3) * (d$f / 4 - 1)))
  d$yz <- ifelse(stats::runif(n) < p, stats::qpois(stats::runif(n, stats::dpois(0, lam), 1), lam), 0)
  d
}

test_that("simulate() draws from each extended family's fitted distribution", {
  local_store()
  d <- extended_data()
  cases <- list(
    list("yb", betar()), list("ys", scat()), list("yo", ocat(R = 4)), list("yz", ziP())
  )
  for (case in cases) {
    fit <- gam_fit(stats::as.formula(paste(case[[1]], "~ s(x0) + s(x2)")), data = d, family = case[[2]])
    sims <- simulate(fit, nsim = 400, seed = 7)
    expect_equal(dim(sims), c(nrow(d), 400L))
    # The draws' mean, row by row, is the fitted response mean (the class
    # probabilities' mean class for ocat), within 5 standard errors of 400 draws.
    expected <- switch(case[[1]],
      yo = drop(predict(fit, d, type = "response") %*% 1:4),
      yz = predict(fit, d, type = "response"),
      fitted(fit)
    )
    spread <- apply(sims, 1, stats::sd) / sqrt(400)
    expect_lt(max(abs(rowMeans(sims) - expected) / pmax(spread, 1e-8)), 5, label = case[[1]])
    # The same seed, the same draws.
    expect_identical(simulate(fit, nsim = 2, seed = 3), simulate(fit, nsim = 2, seed = 3))
  }
})

test_that("augment() gives NA Cook's distances where Pearson residuals are not defined", {
  skip_if_not_installed("broom")
  local_store()
  d <- extended_data()
  fit <- gam_fit(yo ~ s(x0) + s(x2), data = d, family = ocat(R = 4))
  out <- broom::augment(fit)
  expect_true(all(is.na(out$.cooksd)))
  expect_equal(sum(out$.hat), sum(fit$edf), tolerance = 1e-8)
  expect_error(cooks.distance(fit), "not defined")
  expect_error(residuals(fit, type = "response"), "not defined")
})
