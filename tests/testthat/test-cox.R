# Cox proportional hazards models (mgcv's cox.ph()) against mgcv's fits: Cox's
# partial likelihood in the general-family engine (src/rust/src/fit/cox.rs).

# Right-censored survival times whose log hazard is smooth in x0 and x1, varies with
# x2 by factor g, with ties (times rounded) and three strata.
cox_data <- function(n = 400, seed = 5) {
  set.seed(seed)
  d <- data.frame(x0 = runif(n), x1 = runif(n), x2 = runif(n), g = factor(sample(c("a", "b"), n, replace = TRUE)))
  eta <- sin(pi * d$x0) + 0.5 * exp(d$x1) - 1.5 + (d$g == "b") * d$x2
  event_time <- stats::rexp(n, exp(eta))
  censor_time <- stats::runif(n, 0, 4)
  d$time <- round(pmin(event_time, censor_time), 2)
  d$event <- as.numeric(event_time <= censor_time)
  d$stratum <- sample(1:3, n, replace = TRUE)
  d
}

test_that("cox.ph() fits as mgcv's: smooths, a factor and a smooth by it, censoring and ties", {
  skip_if_not_installed("mgcv")
  d <- cox_data()
  f <- time ~ s(x0) + s(x1) + s(x2, by = g) + g
  fit <- gam_fit(f, data = d, family = mgcv::cox.ph(), weights = event)
  ref <- mgcv_reference("cox/smooths", f, d, family = quote(mgcv::cox.ph()), weights = d$event,
                        method = "REML")
  expect_s3_class(fit, "warmgam_cox")
  # No intercept: the baseline hazard takes its place, as mgcv's.
  expect_false("(Intercept)" %in% names(coef(fit)))
  nd <- d[c(3, 50, 77, 120, 301), ]
  nd$time <- c(0.1, 0.5, 1, 2, 10)
  # Fitted values (the survival function at each row's time), criterion, sp, edf,
  # deviance, summaries, deviance residuals and the predictions with their standard
  # errors: all as for the other general families.
  expect_general_agrees(fit, ref, nd, "cox")
  expect_lt(rel_diff(residuals(fit, "martingale"), mgcv_call("residuals", ref, type = "martingale")), 1e-5,
            label = "martingale residuals")
  # Score and Schoenfeld residuals: matrices with a column per coefficient. A smooth's
  # basis is mgcv's up to a linear map A within its block (residual rows map by A',
  # the covariance by A^-1 . A^-T), so its columns are compared through the
  # invariant r'Vr per row, the parametric columns directly.
  V_ours <- vcov(fit)
  V_theirs <- mgcv_call("vcov", ref)
  blocks <- c(list(parametric = which(names(coef(fit)) == "gb")),
              lapply(fit$smooth, function(sm) sm$first:sm$last))
  for (type in c("score", "schoenfeld")) {
    ours <- residuals(fit, type)
    theirs <- mgcv_call("residuals", ref, type = type)
    expect_identical(is.na(ours[, 1]), is.na(theirs[, 1]))
    rows <- !is.na(ours[, 1])
    for (b in names(blocks)) {
      ii <- blocks[[b]]
      # (The score residuals are scaled by the covariance already: their plain
      # squared norm is the invariant.)
      quad <- function(r, V) if (type == "score") rowSums(r^2) else rowSums((r %*% V) * r)
      mine <- quad(ours[rows, ii, drop = FALSE], V_ours[ii, ii])
      mgcvs <- quad(theirs[rows, ii, drop = FALSE], V_theirs[ii, ii])
      expect_lt(rel_diff(mine, mgcvs), 1e-5, label = paste(type, "residuals", b))
    }
    expect_lt(rel_diff(ours[rows, blocks$parametric], theirs[rows, blocks$parametric]), 1e-5,
              label = paste(type, "residuals of gb"))
  }
  expect_identical(names(attr(residuals(fit, "score"), "term")), c("parametric", "s(x0)", "s(x1)", "s(x2):ga",
                                                                    "s(x2):gb"))
  expect_output(print(fit), "Cox PH")
  expect_output(print(summary(fit)), "Deviance explained")
  # plot(): every smooth as mgcv's plot.gam() draws it (mgcv returns the band
  # half-width, 2 standard errors).
  mine <- render(plot(fit, pages = 1))
  theirs <- render(mgcv_call("plot.gam", ref, n = 100))
  expect_identical(vapply(mine, `[[`, "", "label"), c("s(x0)", "s(x1)", "s(x2):ga", "s(x2):gb"))
  for (i in seq_along(mine)) {
    expect_lt(rel_diff(mine[[i]]$fit, theirs[[i]]$fit), 1e-5, label = paste("plot fit", i))
    expect_lt(rel_diff(mine[[i]]$se, theirs[[i]]$se / 2), 1e-4, label = paste("plot se", i))
  }
  # broom's tidy() and glance(): the summary's tables and the columns broom gives
  # mgcv's fit.
  if (requireNamespace("generics", quietly = TRUE)) {
    theirs <- mgcv_call("summary", ref)
    smooths <- generics::tidy(fit)
    expect_identical(smooths$term, rownames(theirs$s.table))
    expect_lt(max(abs(as.matrix(smooths[, -1]) - theirs$s.table) / (1 + abs(theirs$s.table))), 1e-4)
    parametric <- generics::tidy(fit, parametric = TRUE)
    expect_identical(parametric$term, "gb")
    expect_lt(max(abs(as.matrix(parametric[, -1]) - theirs$p.table)), 1e-5)
    g <- generics::glance(fit)
    # mgcv counts a Cox model's events as its observations (its rows of nonzero
    # weight: what BIC takes).
    expect_identical(g$nobs, as.integer(sum(d$event)))
    expect_identical(g$nobs, sum(ref$prior.weights != 0))
    expect_equal(g$logLik, as.numeric(mgcv_call("logLik", ref)), tolerance = 1e-8)
    expect_equal(g$BIC, -2 * g$logLik + log(g$nobs) * attr(logLik(fit), "df"), tolerance = 1e-12)
    expect_named(g, c("df", "logLik", "AIC", "BIC", "deviance", "df.residual", "nobs"))
  }
  # A time before the first fitted time: survival 1, as mgcv's.
  early <- predict(fit, transform(nd[1, ], time = -1), type = "response", se.fit = TRUE)
  expect_equal(unname(c(early$fit, early$se.fit)), c(1, 0))
})

test_that("cox.ph() with strata: one baseline hazard per stratum, the coefficients mgcv's", {
  skip_if_not_installed("mgcv")
  d <- cox_data(seed = 6)
  f <- cbind(time, stratum) ~ s(x0) + s(x1) + g
  fit <- gam_fit(f, data = d, family = mgcv::cox.ph(), weights = event)
  ref <- mgcv_reference("cox/strata", f, d, family = quote(mgcv::cox.ph()), weights = d$event,
                        method = "REML")
  expect_lt(abs(unname(fit$criterion) / ref$gcv.ubre - 1), 1e-9)
  # (A smoothing parameter past 1e6 is on its plateau, where each fit stops anywhere.)
  inside <- ref$sp < 1e6
  expect_lt(max(abs(log(fit$sp[inside]) - log(ref$sp[inside]))), 1e-4)
  expect_true(all(fit$sp[!inside] > 1e5))
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), 1e-5)
  expect_lt(rel_diff(fit$linear.predictors, ref$linear.predictors), 1e-6)
  nd <- d[c(5, 60, 200), ]
  expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-6)
  # mgcv 1.8-41's fitted values of a stratified model take the first stratum's hazard
  # for every row (its time index within the stratum into the table of all
  # strata), and its predictions are off the same way: checked here against its
  # own baseline hazard, each row at its stratum's.
  haz <- mgcv_call("cox_hazard", ref)
  expect_equal(length(fit$hazard$h), length(haz$h))
  at <- function(time, stratum) {
    vapply(seq_along(time), function(i) {
      j <- which(haz$tr.strat == stratum[[i]] & haz$tr <= time[[i]])
      if (length(j)) haz$h[[j[[1]]]] else 0
    }, 1)
  }
  expected <- exp(-at(d$time, d$stratum) * exp(ref$linear.predictors))
  expect_lt(rel_diff(fit$fitted.values, expected), 1e-6)
  nd$time <- c(0.3, 1, 2.5)
  expected <- exp(-at(nd$time, nd$stratum) * exp(predict(ref, nd)))
  expect_lt(rel_diff(predict(fit, nd, type = "response"), expected), 1e-6)
  expect_error(predict(fit, transform(nd, stratum = 9), type = "response"), "stratum 9",
               class = "warmgam_error_newdata")
})

test_that("a conditional logistic regression (strata of cases and controls) as mgcv's", {
  skip_if_not_installed("mgcv")
  d <- datasets::infert
  d$dumt <- 1
  f <- cbind(dumt, stratum) ~ spontaneous + induced
  fit <- gam_fit(f, data = d, family = "cox.ph", weights = case)
  ref <- mgcv_reference("cox/clogit", f, d, family = quote(mgcv::cox.ph()), weights = d$case)
  expect_lt(rel_diff(coef(fit), coef(ref)), 1e-6)
  expect_lt(rel_diff(sqrt(diag(vcov(fit))), sqrt(diag(vcov(ref)))), 1e-6)
  expect_lt(abs(unname(fit$criterion) / ref$gcv.ubre - 1), 1e-9)
})

test_that("the store keys a Cox fit by its event indicator and strata too", {
  skip_if_not_installed("mgcv")
  local_store()
  d <- cox_data(n = 200)
  f <- time ~ s(x0) + s(x1)
  first <- gam_fit(f, data = d, family = mgcv::cox.ph(), weights = event)
  again <- gam_fit(f, data = d, family = mgcv::cox.ph(), weights = event)
  expect_identical(again$warm_start$source, "exact")
  expect_equal(again$fitted.values, first$fitted.values, tolerance = 1e-12)
  # Other event indicators (or none: every row an event) or strata are another
  # model of the same times: never served the first one's answer.
  d$other <- rev(d$event)
  for (refit in list(
    gam_fit(f, data = d, family = mgcv::cox.ph(), weights = other),
    gam_fit(f, data = d, family = mgcv::cox.ph()),
    gam_fit(cbind(time, stratum) ~ s(x0) + s(x1), data = d, family = mgcv::cox.ph(), weights = event)
  )) {
    expect_false(identical(refit$warm_start$source, "exact"))
    expect_gt(max(abs(refit$linear.predictors - first$linear.predictors)), 1e-3)
  }
})

test_that("bad survival data is an error that says which rows and what is expected", {
  d <- cox_data(n = 100)
  f <- time ~ s(x0)
  fam <- mgcv::cox.ph()
  d$neg <- d$time
  d$neg[7] <- -1
  expect_error(gam_fit(neg ~ s(x0), data = d, family = fam, weights = event),
               "non-negative survival times; 1 row\\(s\\) are not \\(the first: row 7, value -1\\)",
               class = "warmgam_error_response")
  d$half <- d$event
  d$half[4] <- 0.5
  expect_error(gam_fit(f, data = d, family = fam, weights = half), "event indicator.*row 4 has 0.5",
               class = "warmgam_error_argument")
  expect_error(gam_fit(f, data = d, family = fam, weights = rep(0, 100)), "at least one event",
               class = "warmgam_error_argument")
  expect_error(gam_fit(cbind(time, stratum, event) ~ s(x0), data = d, family = fam), "has 3 columns",
               class = "warmgam_error_response")
  expect_error(gam_fit(list(f, ~ s(x1)), data = d, family = fam), "must be one formula",
               class = "warmgam_error_formula")
  expect_error(gam_fit(time ~ 1, data = d, family = fam, weights = event), "needs a covariate",
               class = "warmgam_error_formula")
  fit <- gam_fit(f, data = d, family = fam, weights = event, cache = FALSE)
  expect_error(predict(fit, d[1:3, "x0", drop = FALSE], type = "response"), "needs the response `time`",
               class = "warmgam_error_missing_variable")
  expect_error(residuals(fit, "pearson"), "type", class = "warmgam_error_argument")
  # A stratified model's score residuals, stratum by stratum.
  strat <- gam_fit(cbind(time, stratum) ~ s(x0), data = d, family = fam, weights = event, cache = FALSE)
  expect_equal(dim(residuals(strat, "score")), c(100L, 9L))
})

test_that("gam_cv() scores a Cox model by the cross-validated partial likelihood", {
  skip_if_not_installed("mgcv")
  local_store()
  d <- cox_data(n = 300, seed = 8)
  f <- time ~ s(x0) + s(x1)
  fit <- gam_fit(f, data = d, family = mgcv::cox.ph(), weights = event)
  # The R partial likelihood the score uses against the engine's, with ties and strata.
  expect_equal(cox_partial_loglik(fit$y, d$event, fit$linear.predictors), fit$loglik, tolerance = 1e-10)
  strat <- gam_fit(cbind(time, stratum) ~ s(x0) + s(x1), data = d, family = mgcv::cox.ph(), weights = event)
  expect_equal(cox_partial_loglik(strat$y, d$event, strat$linear.predictors), strat$loglik, tolerance = 1e-10)
  folds <- rep(1:3, length.out = nrow(d))
  cv <- gam_cv(f, data = d, family = mgcv::cox.ph(), weights = d$event, folds = folds)
  expect_identical(cv$metric, "partial_loglik")
  # Fold 2 by hand: the fold fit's linear predictor at every row, the partial
  # likelihood of all rows less that of the training rows, per held-out row.
  train <- folds != 2
  fold_fit <- gam_fit(f, data = d[train, ], family = mgcv::cox.ph(), weights = event, cache = FALSE)
  eta <- predict(fold_fit, newdata = d)
  by_hand <- -(cox_partial_loglik(d$time, d$event, eta) - fold_fit$loglik) / sum(!train)
  expect_equal(cv$folds$metric[[2]], by_hand, tolerance = 1e-6)
  expect_equal(cv$estimate, sum(cv$folds$metric * cv$folds$n_test) / nrow(d), tolerance = 1e-12)
  # The store changes how the folds start, never their scores.
  cold <- gam_cv(f, data = d, family = mgcv::cox.ph(), weights = d$event, folds = folds, cache = FALSE)
  expect_equal(cv$folds$metric, cold$folds$metric, tolerance = 1e-8)
  expect_error(gam_cv(f, data = d, family = mgcv::cox.ph(), weights = d$event, folds = 3, metric = "deviance"),
               "partial_loglik", class = "warmgam_error_argument")
  own <- gam_cv(f, data = d, family = mgcv::cox.ph(), weights = d$event, folds = folds,
                metric = function(y, eta, w) sum(w))
  expect_equal(own$folds$metric, as.double(tapply(d$event, folds, sum)))
})

test_that("a Cox model with an offset predicts its own fitted values at the rows' times", {
  skip_if_not_installed("mgcv")
  d <- cox_data(n = 200, seed = 9)
  d$w <- stats::runif(nrow(d), 0.5, 2)
  f <- time ~ s(x0) + offset(log(w))
  fit <- gam_fit(f, data = d, family = mgcv::cox.ph(), weights = event, cache = FALSE)
  ref <- mgcv_reference("cox/offset", f, d, family = quote(mgcv::cox.ph()), weights = d$event, method = "REML")
  expect_lt(rel_diff(fit$fitted.values, fitted(ref)), 1e-6)
  nd <- d[1:20, ]
  # The linear predictor (offset included) as mgcv's; the survival function at each
  # row's own time is its fitted value. (mgcv 1.8-41's predict() pairs the offsets
  # with rows sorted by time, so its survival predictions with an offset are not
  # its fitted values.)
  expect_lt(rel_diff(predict(fit, nd), predict(ref, nd)), 1e-6)
  expect_equal(unname(predict(fit, nd, type = "response")), fit$fitted.values[1:20], tolerance = 1e-10)
})
