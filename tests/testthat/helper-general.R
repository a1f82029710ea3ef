# What the tests of general smooth models (test-general.R, test-cox.R, ...) check
# against mgcv's fits.

# The columns of mgcv 1.8-41's response-scale standard errors that are right:
# gumbls' and gammals' second uses one variance (`ve[2]`) for every row, ziplss'
# uses the first predictor's columns for the second's variance, and multinom's
# with more than two predictors are not the delta method's (test-general.R checks
# warmgam's against it).
response_se_columns <- list(gumbls = 1L, gammals = 1L, ziplss = integer(), `multinom five` = integer())

# Fitted values, criterion, smoothing parameters, edf (total, per term, corrected),
# the summary tables, log likelihood and predictions with standard errors, against
# mgcv's fit of the same model.
# `shift` is what mgcv's log likelihood adds to the true one (multinom's: the number
# of class-0 observations).
expect_general_agrees <- function(fit, ref, nd, label, fitted_tol = 1e-6, sp_tol = 1e-4, shift = 0, edf_tol = 1e-5,
                                  table_tol = 1e-4, se_tol = 1e-4, p_table_tol = 1e-6, edf2_tol = 10 * edf_tol,
                                  unconditional_se_tol = se_tol, dev_expl_tol = 1e-7) {
  expect_lt(rel_diff(fit$fitted.values, fitted(ref)), fitted_tol, label = paste(label, "fitted"))
  expect_lt(abs((unname(fit$criterion) - shift) / ref$gcv.ubre - 1), 1e-9, label = paste(label, "REML"))
  # mgcv's `sp` holds the estimated ones, `full.sp` all when some were given. A
  # smoothing parameter past 1e6 is at its bound (a term penalized to its null
  # space), where each fit stops somewhere on a plateau.
  sp <- ref$full.sp %||% ref$sp
  inside <- sp < 1e6
  expect_lt(max(abs(log(fit$sp[inside]) - log(sp[inside]))), sp_tol, label = paste(label, "log sp"))
  expect_true(all(fit$sp[!inside] > 1e5), label = paste(label, "sp at bounds"))
  expect_identical(names(fit$sp), names(sp))
  expect_identical(names(fit$coefficients), names(mgcv_call("coef", ref)))
  expect_lt(abs(sum(fit$edf) - sum(ref$edf)), edf_tol, label = paste(label, "edf"))
  expect_lt(abs(sum(fit$edf2) - sum(ref$edf2)), edf2_tol, label = paste(label, "edf2"))
  expect_lt(abs(as.numeric(logLik(fit)) + shift - as.numeric(logLik(ref))) / abs(as.numeric(logLik(ref))), 1e-8,
            label = paste(label, "logLik"))
  expect_lt(abs(attr(logLik(fit), "df") - attr(logLik(ref), "df")), edf2_tol, label = paste(label, "logLik df"))
  expect_lt(abs(fit$aic - 2 * shift - ref$aic), edf_tol, label = paste(label, "aic"))
  expect_lt(abs(fit$deviance / ref$deviance - 1), 1e-6, label = paste(label, "deviance"))
  if (isTRUE(is.finite(ref$null.deviance))) {
    expect_lt(abs(fit$null.deviance / ref$null.deviance - 1), 1e-6, label = paste(label, "null deviance"))
  }
  expect_lt(rel_diff(residuals(fit), mgcv_call("residuals", ref)), 1e-5, label = paste(label, "residuals"))
  ours <- summary(fit)
  theirs <- mgcv_call("summary", ref)
  expect_identical(rownames(ours$s.table), rownames(theirs$s.table))
  # edf, Ref.df and the statistic to the fit's tolerance; p-values through Davies'
  # algorithm (relative, or absolute where they are tiny).
  expect_lt(max(abs(ours$s.table[, 1:3] - theirs$s.table[, 1:3]) / (1 + abs(theirs$s.table[, 1:3]))), table_tol,
            label = paste(label, "s.table"))
  # Davies' algorithm is accurate to 2e-5 absolute (mgcv's setting): tiny p-values
  # of a term with edf just above 1 differ by its error (1.9e-7 against 4.3e-9 for
  # ranks 1 + 1e-9 and 1 + 2.5e-7).
  expect_lt(max(abs(ours$s.table[, 4] - theirs$s.table[, 4]) - 1e-3 * theirs$s.table[, 4]), 2e-5,
            label = paste(label, "smooth p-values"))
  expect_lt(max(abs(ours$p.table[, 1:3] - theirs$p.table[, 1:3]) / (1 + abs(theirs$p.table[, 1:3]))),
            p_table_tol, label = paste(label, "p.table"))
  if (!isTRUE(is.finite(theirs$dev.expl))) {
    expect_true(is.na(ours$dev.expl), label = paste(label, "deviance explained is NA, as mgcv's"))
  } else {
    expect_lt(abs(ours$dev.expl - theirs$dev.expl), dev_expl_tol, label = paste(label, "deviance explained"))
  }
  for (type in c("link", "response")) {
    p <- predict(fit, nd, type = type, se.fit = TRUE)
    q <- mgcv_call("predict", ref, newdata = nd, type = type, se.fit = TRUE)
    expect_lt(rel_diff(p$fit, q$fit), 1e-6, label = paste(label, type, "predictions"))
    # mgcv's response-scale standard errors are wrong in some columns (see
    # response_se()): compared where they are right.
    cols <- if (type == "link") seq_len(NCOL(p$se.fit)) else response_se_columns[[label]] %||% seq_len(NCOL(p$se.fit))
    if (length(cols)) {
      expect_lt(rel_diff(as.matrix(p$se.fit)[, cols], as.matrix(q$se.fit)[, cols]), se_tol,
                label = paste(label, type, "se"))
    }
  }
  p <- predict(fit, nd, se.fit = TRUE, unconditional = TRUE)
  q <- mgcv_call("predict", ref, newdata = nd, se.fit = TRUE, unconditional = TRUE)
  expect_lt(rel_diff(p$se.fit, q$se.fit), unconditional_se_tol, label = paste(label, "unconditional se"))
  # The bases are mgcv's up to a rotation within each term, so the model matrices
  # differ; each predictor's columns give its linear predictor.
  x <- predict(fit, nd, type = "lpmatrix")
  eta <- vapply(attr(x, "lpi"), function(i) drop(x[, i, drop = FALSE] %*% fit$coefficients[i]), numeric(nrow(nd)))
  expect_equal(drop(unname(eta)), drop(unname(predict(fit, nd))), tolerance = 1e-12)
}
