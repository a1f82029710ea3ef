# The test helpers themselves: simulated data reproduces mgcv's generators, and the
# stored mgcv references say where they came from and refuse changed inputs.

test_that("gam_sim() and r_tweedie() draw mgcv's gamSim() and rTweedie() numbers", {
  skip_if_not_installed("mgcv")
  cases <- list(
    list(eg = 1, n = 400, dist = "normal", scale = 2, seed = 2),
    list(eg = 1, n = 500, dist = "binary", scale = 0.33, seed = 8),
    list(eg = 1, n = 400, dist = "poisson", scale = 0.3, seed = 3),
    list(eg = 2, n = 500, dist = "normal", scale = 0.1, seed = 2),
    list(eg = 4, n = 600, dist = "normal", scale = 2, seed = 3),
    list(eg = 6, n = 600, dist = "normal", scale = 2, seed = 6)
  )
  for (cs in cases) {
    set.seed(cs$seed)
    mine <- gam_sim(cs$eg, n = cs$n, dist = cs$dist, scale = cs$scale)
    after_mine <- stats::runif(1)
    set.seed(cs$seed)
    theirs <- suppressMessages(utils::capture.output(
      out <- mgcv::gamSim(cs$eg, n = cs$n, dist = cs$dist, scale = cs$scale, verbose = FALSE)
    ))
    expect_identical(mine, out, label = paste("gamSim", cs$eg, cs$dist))
    expect_identical(stats::runif(1), after_mine, label = paste("random stream after", cs$eg, cs$dist))
  }
  mu <- exp(seq(-2, 2, length.out = 300))
  set.seed(5)
  mine <- r_tweedie(mu, p = 1.4, phi = 1.2)
  set.seed(5)
  expect_identical(mine, mgcv::rTweedie(mu, p = 1.4, phi = 1.2))
})

test_that("every fixture records mgcv's and R's versions", {
  files <- list.files(reference_fixture_dir(), pattern = "\\.rds$", full.names = TRUE)
  expect_gt(length(files), 0)
  for (path in files) {
    meta <- readRDS(path)$meta
    expect_match(meta$mgcv, "^[0-9]+\\.[0-9]+", label = basename(path))
    expect_match(meta$R, "^R version", label = basename(path))
  }
})

test_that("a reference asked with other inputs or arguments than recorded is an error", {
  skip_if(!is.null(reference_recorder()), "references are being recorded")
  d <- sim_data()
  f <- y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr")
  expect_s3_class(mgcv_reference("gam_fit/methods-REML", f, d, method = "REML"), "mgcv_reference")
  d$y[7] <- d$y[7] + 1e-4
  expect_error(mgcv_reference("gam_fit/methods-REML", f, d, method = "REML"), "inputs\\$data\\$y differs")
  expect_error(mgcv_reference("gam_fit/methods-REML", f, sim_data(), method = "ML"), "inputs\\$args\\$method")
  expect_error(mgcv_reference("gam_fit/no-such-case", f, sim_data()), "No stored reference")
  ref <- mgcv_reference("gam_fit/methods-REML", f, sim_data(), method = "REML")
  expect_error(predict(ref, sim_data()[1:5, ]), "no stored answer to predict")
})
