# Multivariate normal additive models (mgcv's mvn()) against mgcv's fits: the
# sufficient-statistics likelihood of src/rust/src/fit/mvn.rs in the general engine.

# Two correlated responses whose means are smooth in x0, x1 and x2 (as ?mvn draws
# them), and a third for mvn(d = 3).
mvn_data <- function(n = 300, seed = 3) {
  set.seed(seed)
  d <- data.frame(x0 = runif(n), x1 = runif(n), x2 = runif(n), x3 = runif(n))
  f0 <- 2 * sin(pi * d$x0) + exp(2 * d$x1)
  f1 <- 0.2 * d$x2^11 * (10 * (1 - d$x2))^6 + 10 * (10 * d$x2)^3 * (1 - d$x2)^10
  L <- chol(matrix(c(2, 1, 0.5, 1, 2, 0.3, 0.5, 0.3, 1), 3, 3))
  e <- matrix(stats::rnorm(3 * n), n, 3) %*% L
  d$y0 <- f0 + e[, 1]
  d$y1 <- f1 + e[, 2]
  d$y2 <- cos(2 * d$x3) + e[, 3]
  d
}

test_that("mvn(d = 2) fits as mgcv's: each response its own smooths, a shared precision matrix", {
  skip_if_not_installed("mgcv")
  d <- mvn_data()
  f <- list(y0 ~ s(x0) + s(x1), y1 ~ s(x2) + s(x3))
  fit <- gam_fit(f, data = d, family = mgcv::mvn(d = 2))
  ref <- mgcv_reference("mvn/two", f, d, family = quote(mgcv::mvn(d = 2)), method = "REML")
  expect_identical(tail(names(coef(fit)), 3), paste0("R.", 1:3))
  nd <- d[c(2, 40, 90, 200), ]
  # Fitted means, criterion, sp, edf, deviance, summaries, residuals, predictions.
  # mgcv 1.8-41's mvn() log likelihood leaves out -n d log(2 pi) / 2, which moves
  # its REML score and logLik() but not the fit.
  # mgcv has no second derivatives for mvn() (`available.derivs = 1`): its
  # criterion Hessian, and so its Vc, edf2 and unconditional standard errors, is
  # a quasi-Newton one, where warmgam's is exact.
  expect_general_agrees(fit, ref, nd, "mvn", shift = nrow(d) * log(2 * pi), unconditional_se_tol = 0.05,
                        edf2_tol = 0.05)
  expect_equal(fit$family$data$R, mgcv_call("mvn_factor", ref), tolerance = 1e-5)
  expect_output(print(fit), "Multivariate normal")
  expect_output(print(summary(fit)), "Link function: identity identity")
})

test_that("mvn(d = 3) with a parametric term and given smoothing parameters", {
  skip_if_not_installed("mgcv")
  d <- mvn_data(seed = 4)
  f <- list(y0 ~ s(x0) + x1, y1 ~ s(x2), y2 ~ s(x3))
  shift <- nrow(d) * 3 / 2 * log(2 * pi)
  # Here the log likelihood's Hessian is indefinite at the fit (an eigenvalue of
  # -0.81), and covariances and edf use it with its negative eigenvalues set to
  # zero, as mgcv's; mgcv does so in its reparameterized basis, warmgam in the
  # model's, so these differ by up to 1e-3 in edf while the fit is the same.
  check <- function(fit, ref, label) {
    expect_lt(rel_diff(fit$fitted.values, fitted(ref)), 1e-6, label = paste(label, "fitted"))
    expect_lt(abs((unname(fit$criterion) - shift) / ref$gcv.ubre - 1), 1e-8, label = paste(label, "REML"))
    # (A smoothing parameter past 1e6 is on its plateau, where each fit stops anywhere.)
    sp <- ref$full.sp %||% ref$sp
    inside <- sp < 1e6
    expect_lt(max(abs(log(fit$sp[inside]) - log(sp[inside]))), 1e-3, label = paste(label, "log sp"))
    expect_true(all(fit$sp[!inside] > 1e5), label = paste(label, "sp at bounds"))
    expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 2e-3, label = paste(label, "edf"))
    expect_equal(fit$family$data$R, mgcv_call("mvn_factor", ref), tolerance = 1e-5)
    nd <- d[c(1, 50, 100), ]
    expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-6, label = paste(label, "predictions"))
  }
  fit <- gam_fit(f, data = d, family = mgcv::mvn(d = 3))
  check(fit, mgcv_reference("mvn/three", f, d, family = quote(mgcv::mvn(d = 3)), method = "REML"), "mvn three")
  sp <- c(0.5, 2, 10)
  given <- gam_fit(f, data = d, family = mgcv::mvn(d = 3), sp = sp)
  check(given, mgcv_reference("mvn/three-sp", f, d, family = quote(mgcv::mvn(d = 3)), method = "REML", sp = sp),
        "mvn given sp")
})

test_that("mvn() refuses formulae without responses, offsets, and a wrong count", {
  d <- mvn_data(n = 60)
  fam <- mgcv::mvn(d = 2)
  expect_error(gam_fit(list(y0 ~ s(x0), ~ s(x2)), data = d, family = fam), "each with its response",
               class = "warmgam_error_formula")
  expect_error(gam_fit(list(y0 ~ s(x0), y1 ~ s(x2), y2 ~ s(x3)), data = d, family = fam), "list of 2 formulae",
               class = "warmgam_error_formula")
  expect_error(gam_fit(list(y0 ~ s(x0) + offset(x1), y1 ~ s(x2)), data = d, family = fam), "offsets",
               class = "warmgam_error_argument")
})

test_that("gam_cv() scores mvn() folds by the held-out rows' log likelihood", {
  skip_if_not_installed("mgcv")
  local_store()
  d <- mvn_data(n = 200)
  f <- list(y0 ~ s(x0) + s(x1), y1 ~ s(x2))
  folds <- rep(1:2, length.out = nrow(d))
  cv <- gam_cv(f, data = d, family = mgcv::mvn(d = 2), folds = folds)
  fold_fit <- gam_fit(f, data = d[folds != 1, ], family = mgcv::mvn(d = 2), cache = FALSE)
  held <- d[folds == 1, ]
  R <- fold_fit$family$data$R
  r <- cbind(held$y0, held$y1) - predict(fold_fit, held)
  ll <- sum(log(diag(R))) - 0.5 * colSums((R %*% t(r))^2) - log(2 * pi)
  expect_equal(cv$folds$metric[[1]], -mean(ll), tolerance = 1e-6)
})

test_that("the store keeps mvn() fits: an exact hit is the fit, a seed reaches the cold one", {
  skip_if_not_installed("mgcv")
  local_store()
  d <- mvn_data(n = 200)
  f <- list(y0 ~ s(x0) + s(x1), y1 ~ s(x2))
  first <- gam_fit(f, data = d, family = mgcv::mvn(d = 2))
  again <- gam_fit(f, data = d, family = mgcv::mvn(d = 2))
  expect_identical(again$warm_start$source, "exact")
  expect_equal(again$fitted.values, first$fitted.values, tolerance = 1e-12)
  expect_equal(again$family$data$R, first$family$data$R, tolerance = 1e-12)
  # Another second response: its own key, started from the first fit's smoothing
  # parameters.
  d$y1 <- d$y1 + stats::rnorm(nrow(d), sd = 0.1)
  seeded <- gam_fit(f, data = d, family = mgcv::mvn(d = 2))
  cold <- gam_fit(f, data = d, family = mgcv::mvn(d = 2), cache = FALSE)
  expect_identical(seeded$warm_start$source, "seeded")
  expect_lt(abs(unname(seeded$criterion) / unname(cold$criterion) - 1), 1e-8)
  expect_lt(max(abs(seeded$fitted.values - cold$fitted.values)), 1e-6)
})
