# gam_cv(): k-fold cross-validation whose folds warm-start each other through the
# store, run on whatever `future` plan is set.

#' Cross-validate a generalized additive model
#'
#' Fits the model to the full data, then to each training fold, and scores each
#' fold's predictions of its held-out rows. The folds run through
#' [future.apply::future_lapply()], so they use whatever [future::plan()] is set: your
#' cores (`plan(multisession)`), an SSH cluster, or a scheduler through
#' `future.batchtools`. With the warm-start store on ([warmgam_cache]), every fold
#' starts from the smoothing parameters of the full-data fit (or of a fold finished
#' before it), which changes how fast the folds converge, not what they converge to;
#' workers on other processes share the store as long as they see the same directory.
#'
#' @param formula,data,family,method As for [gam_fit()]; `data` must be a data frame.
#'   Rows with missing values in the formula's variables are dropped first. A general
#'   family (mgcv's `gaulss()` and the others [gam_fit()] takes) with its list of
#'   formulae is cross-validated too, scored by the log loss, and so is a Cox model
#'   (`cox.ph()`, its event indicator as `weights`), scored by the cross-validated
#'   partial likelihood.
#' @param folds The number of folds (at least 2, at most the number of rows), assigned
#'   at random (within each class for a 0/1 response), a vector of fold ids, one per
#'   row of `data`, or an rsample resampling object (an `rset`, such as
#'   `rsample::vfold_cv(data, v = 10)`, made from `data`): each of its splits is a
#'   fold whose held-out rows are the split's assessment rows, the model being fitted
#'   to all other rows (for an `rset` whose analysis sets repeat rows, such as
#'   `rsample::bootstraps()`, to the rows outside the assessment set, once each).
#' @param metric How a fold's predictions are scored: `NULL` (the default) for the
#'   family's mean deviance over the held-out rows (for `betar()` and `ziP()`
#'   against the saturated model, for `ocat()` `-2 log P(y)`, twice the log loss
#'   of the class probabilities), `"mse"`, `"mae"`, `"logloss"`,
#'   `"auc"` (for 0/1 responses), or a function `function(y, mu, weights)` returning a
#'   number, where `mu` is the predicted mean. For a general family the default is
#'   `"logloss"`, the held-out rows' negative log likelihood per unit weight (the one
#'   score every general family has: several linear predictors have no single mean to
#'   compare with), and a function gets the matrix of linear predictors as `mu`.
#'   For `cox.ph()` the default is `"partial_loglik"`, each fold's contribution to
#'   the cross-validated partial likelihood of Verweij & van Houwelingen (1993),
#'   `l(b) - l_train(b)` at the fold fit's coefficients `b` (the partial likelihood
#'   of all rows less that of the training rows: the held-out rows alone have too
#'   few risk sets), negated and per held-out row, so that the estimate is minus
#'   the cross-validated partial likelihood over the number of rows; a function
#'   gets the held-out rows' times, linear predictor and event indicator.
#' @param seed A seed for the random fold assignment and the folds' random number
#'   streams (the session's own stream is then left as it was); `NULL` draws them from
#'   the session's stream.
#' @param cache Use the warm-start store, as in [gam_fit()]; `FALSE` fits every fold
#'   cold.
#' @param progress Report progress through `progressr`, one tick per fold.
#' @param ... Further arguments to [gam_fit()]. `weights` and `offset`, if given, are
#'   numeric vectors with one value per row of `data`; each fold takes its own.
#'   `subset` and `na.action` are errors: the folds take rows of `data`, after
#'   dropping those with missing values.
#' @returns An object of class `warmgam_cv`: a list with `estimate` (the folds'
#'   metrics averaged with weights proportional to their held-out rows), `se` (the
#'   standard deviation of the fold metrics over the square root of the number of
#'   folds), `metric` (its name), `folds` (a data frame with one row per fold: `fold`,
#'   `n_train`, `n_test`, `metric`, `outer_iterations`, `family_trials` (the values
#'   of an estimated family parameter its search tried, 0 for none), `warm_start`,
#'   `seconds`, `sp`
#'   (the smoothing parameters, a list column) and `error` (the message of a fold whose
#'   fit failed, else `NA`)), `fold_id` (the fold of each row used: the one that
#'   holds it out; for an `rset`, `NA` for a row no split holds out, and `NULL` when
#'   some row is held out by several splits), `fold_label` (the `rset`'s split ids,
#'   else `NULL`), `fit` (the full-data fit) and `call`.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' cv <- gam_cv(mpg ~ s(hp, k = 6) + s(wt, k = 6), data = mtcars, folds = 4, seed = 1)
#' cv
#' summary(cv)
#' \dontshow{options(op)}
#' @export
gam_cv <- function(formula, data, family = gaussian(), method = "REML", folds = 10,
                   metric = NULL, seed = NULL, cache = TRUE, progress = interactive(), ...) {
  call <- match.call()
  general <- general_family(family)
  formula_ok <- !missing(formula) &&
    (inherits(formula, "formula") || (!is.null(general) && is.list(formula)))
  if (!formula_ok) {
    abort("`formula` must be a formula such as `y ~ s(x)` (a list of them for a general family).", "formula")
  }
  if (missing(data) || !is.data.frame(data)) {
    abort("`data` must be a data frame (each fold takes its rows).", "argument")
  }
  check_cache(cache)
  check_flag(progress, "progress")
  if (!is.null(seed)) check_number(seed, "seed")
  family <- general %||% resolve_family(family)
  scorer <- resolve_metric(metric, family)

  rows_args <- intersect(...names(), c("subset", "na.action"))
  if (length(rows_args)) {
    abort(sprintf(
      paste("`%s` is not taken by `gam_cv()`, whose folds take rows of `data` (rows with missing values are",
            "dropped first): give `data` the rows to use."),
      rows_args[[1]]
    ), "argument")
  }
  extra <- list(...)
  keep <- complete_rows(formula, data)
  rset <- if (inherits(folds, "rset")) rset_tests(folds, data, keep)
  data <- data[keep, , drop = FALSE]
  # Row-wise arguments are split with the rows.
  by_row <- intersect(names(extra), c("weights", "offset"))
  for (arg in by_row) {
    if (!is.numeric(extra[[arg]]) || length(extra[[arg]]) != length(keep)) {
      abort(sprintf("`%s` must be a numeric vector with one value per row of `data`.", arg), "argument")
    }
    extra[[arg]] <- extra[[arg]][keep]
  }
  if (is.null(rset)) {
    fold_id <- assign_folds(folds, data, formula, seed)
    ids <- sort(unique(fold_id))
    tests <- lapply(ids, function(id) fold_id == id)
  } else {
    tests <- rset$tests
    ids <- seq_along(tests)
    fold_id <- rset$fold_id
  }
  store_dir <- if (!isFALSE(cache)) cache_dir()

  args <- cv_args(tests, data, extra, by_row, formula, family, method, cache, store_dir)
  full <- cv_fit_rows(seq_len(nrow(data)), args)
  y_all <- full$y
  w_all <- prior_weights(full)

  run_all <- function() {
    progressr::with_progress(enable = progress, {
      tick <- progressr::progressor(steps = length(ids))
      # Random numbers in the folds come from parallel-safe streams, fixed by `seed`
      # when given (and then the session's own stream is left alone). The worker is
      # a package function and its inputs an argument: a worker receives them once
      # (not a closure over this call, with the full fit), on any plan.
      future.apply::future_lapply(seq_along(ids), cv_fold, tick = tick, args = args, future.packages = "warmgam",
                                  future.seed = if (is.null(seed)) TRUE else as.integer(seed))
    })
  }
  results <- if (is.null(seed)) run_all() else preserving_rng(run_all())

  table <- fold_table(ids, tests, results, y_all, w_all, scorer)
  scored <- !is.na(table$metric)
  estimate <- if (any(scored)) stats::weighted.mean(table$metric[scored], table$n_test[scored]) else NA_real_
  se <- if (sum(scored) > 1) stats::sd(table$metric[scored]) / sqrt(sum(scored)) else NA_real_
  structure(
    list(estimate = estimate, se = se, metric = scorer$name, folds = table,
         fold_id = fold_id, fold_label = rset$labels, fit = full, call = call),
    class = "warmgam_cv"
  )
}

# What each fold's worker receives: the folds' test rows, the data and the fit's
# settings, nothing else of gam_cv()'s call (the full fit stays behind).
cv_args <- function(tests, data, extra, by_row, formula, family, method, cache, store_dir) {
  list(tests = tests, data = data, extra = extra, by_row = by_row, formula = formula, family = family,
       method = method, cache = cache, store_dir = store_dir)
}

# The fit of `rows` of the data, with the row-wise arguments split with them.
cv_fit_rows <- function(rows, args) {
  extra <- args$extra
  extra[args$by_row] <- lapply(extra[args$by_row], function(v) v[rows])
  do.call(gam_fit, c(list(args$formula, data = args$data[rows, , drop = FALSE], family = args$family,
                          method = args$method, cache = args$cache), extra))
}

# Fold `i`: fitted without its test rows, predicted on them (`args` from cv_args()).
cv_fold <- function(i, tick, args) {
  if (!is.null(args$store_dir)) {
    # Each worker points at the same store, whatever its own options say.
    old <- options(warmgam.cache_dir = args$store_dir)
    on.exit(options(old), add = TRUE)
  }
  test <- args$tests[[i]]
  started <- Sys.time()
  out <- tryCatch({
    fit <- cv_fit_rows(which(!test), args)
    held_out <- args$data[test, , drop = FALSE]
    # A general family's held-out rows are scored at their linear predictors; a Cox
    # model's score takes the linear predictor at every row (its risk sets).
    mu <- if (inherits(fit, "warmgam_cox")) {
      stats::predict(fit, newdata = args$data, type = "link")
    } else if (inherits(fit, "warmgam_general")) {
      stats::predict(fit, newdata = held_out, type = "link")
    } else {
      as.double(stats::predict(fit, newdata = held_out, type = "response"))
    }
    # The fold's family: an estimated theta or power is the fold fit's.
    list(mu = mu, all_rows = inherits(fit, "warmgam_cox"), family = stats::family(fit), outer_iterations = fit$outer_iterations,
         family_trials = fit$warm_start$family_trials, warm_start = fit$warm_start$source, sp = fit$sp,
         error = NA_character_)
  }, error = function(e) {
    list(mu = NULL, family = NULL, outer_iterations = NA_real_, family_trials = NA_real_, warm_start = NA_character_,
         sp = NULL, error = conditionMessage(e))
  })
  out$seconds <- as.double(difftime(Sys.time(), started, units = "secs"))
  tick()
  out
}

# Which rows of `data` have no missing value in the formula's variables.
complete_rows <- function(formula, data) {
  used <- intersect(formula_vars(formula), names(data))
  stats::complete.cases(data[used])
}

# One fold id per row: given, or drawn at random (within each class of a 0/1
# response, so that every fold sees both).
assign_folds <- function(folds, data, formula, seed) {
  n <- nrow(data)
  if (length(folds) == 1L && is.numeric(folds)) {
    if (!is.finite(folds) || folds != round(folds) || folds < 2 || folds > n) {
      abort(sprintf("`folds` must be a whole number from 2 to the number of rows (%d).", n), "argument")
    }
    # A general family's response is on its first formula.
    if (!inherits(formula, "formula")) formula <- formula[[1]]
    y <- tryCatch(eval(formula[[2]], data, environment(formula)), error = function(e) NULL)
    strata <- if (is.numeric(y) && length(y) == n && all(y %in% c(0, 1))) y else rep(0, n)
    draw <- function() {
      id <- integer(n)
      for (s in unique(strata)) {
        rows <- which(strata == s)
        id[rows] <- sample(rep_len(seq_len(folds), length(rows)))
      }
      id
    }
    return(if (is.null(seed)) draw() else with_seed(seed, draw()))
  }
  if (length(folds) != n) {
    abort(sprintf(
      "`folds` must be a number of folds or one fold id per row of `data` (%d, after dropping incomplete rows), not %d values.",
      n, length(folds)
    ), "argument")
  }
  if (anyNA(folds)) abort("`folds` must not contain missing fold ids.", "argument")
  levels <- if (is.factor(folds)) levels(folds) else sort(unique(folds))
  counts <- table(factor(folds, levels = levels))
  if (any(counts == 0)) {
    abort(sprintf("Fold `%s` of `folds` has no rows.", names(counts)[counts == 0][[1]]), "argument")
  }
  if (length(levels) < 2) abort("`folds` must have at least 2 folds.", "argument")
  if (any(counts == n)) abort("Every fold must leave rows to fit on.", "argument")
  as.integer(factor(folds, levels = levels))
}

# The folds of an rsample `rset` made from `data`: for each split, its assessment
# rows among the complete rows `keep` (a logical vector); the fold of each row (NA
# for a row no split holds out; NULL when some row is held out by several) and the
# splits' labels.
rset_tests <- function(folds, data, keep) {
  if (!requireNamespace("rsample", quietly = TRUE)) {
    abort("`folds` is an rsample `rset`; install the rsample package to use it.", "argument")
  }
  splits <- folds$splits
  if (!is.list(splits) || !length(splits)) abort("`folds` is an `rset` without splits.", "argument")
  for (sp in splits) {
    if (NROW(sp$data) != nrow(data)) {
      abort(sprintf(
        "`folds` was made from data with %d rows, but `data` has %d; make it from `data`, e.g. `rsample::vfold_cv(data)`.",
        NROW(sp$data), nrow(data)
      ), "argument")
    }
  }
  n_kept <- sum(keep)
  tests <- lapply(seq_along(splits), function(i) {
    held <- logical(nrow(data))
    held[rsample::complement(splits[[i]])] <- TRUE
    held <- held[keep]
    if (!any(held)) abort(sprintf("Split %d of `folds` holds out no row with complete data.", i), "argument")
    if (all(held)) abort(sprintf("Split %d of `folds` leaves no row to fit on.", i), "argument")
    held
  })
  times <- Reduce(`+`, lapply(tests, as.integer))
  fold_id <- if (all(times <= 1L)) {
    id <- rep(NA_integer_, n_kept)
    for (i in seq_along(tests)) id[tests[[i]]] <- i
    id
  }
  labels <- if (!is.null(folds$id)) {
    do.call(paste, c(unname(as.list(folds[grep("^id", names(folds))])), sep = "/"))
  } else {
    as.character(seq_along(splits))
  }
  list(tests = tests, fold_id = fold_id, labels = labels)
}

# A metric: its name and a function(y, mu, weights) of a fold's held-out rows (the
# built-in ones also take the fold fit's family: the deviance of nb() and tw() needs
# the theta or power that fit estimated, which `family` itself leaves NA).
resolve_metric <- function(metric, family) {
  if (is.function(metric)) {
    return(list(name = "custom", score = metric, custom = TRUE))
  }
  if (is_cox_family(family)) {
    if (!is.null(metric) && !identical(metric, "partial_loglik")) {
      abort(paste("`metric` for `cox.ph()` must be \"partial_loglik\" (the default: the cross-validated",
                  "partial likelihood) or a function(y, eta, weights) of the held-out rows' response, linear",
                  "predictor and event indicator."), "argument")
    }
    return(list(name = "partial_loglik", custom = FALSE, all_rows = TRUE, score = cox_cv_score))
  }
  if (is_general_family(family)) {
    # Several linear predictors have no one mean to compare with: the log loss, the
    # negative log likelihood per row of the held-out data, is the score.
    if (!is.null(metric) && !identical(metric, "logloss")) {
      abort(sprintf(paste("`metric` for the general family `%s()` must be \"logloss\" (the default: the",
                          "held-out rows' negative log likelihood) or a function(y, eta, weights) of the",
                          "response and the matrix of linear predictors."), family$family), "argument")
    }
    return(list(name = "logloss", custom = FALSE, score = function(y, eta, weights, fitted_family = family) {
      ll <- if (is_mvn_family(fitted_family)) mvn_row_loglik(fitted_family, y, eta) else
        general_row_loglik(fitted_family, y, eta)
      -sum(weights * ll) / sum(weights)
    }))
  }
  metric <- metric %||% "deviance"
  known <- c("deviance", "mse", "mae", "logloss", "auc")
  if (!is.character(metric) || length(metric) != 1L || !metric %in% known) {
    abort(sprintf(
      "`metric` must be NULL, one of %s, or a function(y, mu, weights).",
      paste0('"', known, '"', collapse = ", ")
    ), "argument")
  }
  score <- switch(metric,
    deviance = function(y, mu, weights, fitted_family = family) {
      sum(fitted_family$dev.resids(y, mu, weights)) / sum(weights)
    },
    mse = function(y, mu, weights, ...) sum(weights * (y - mu)^2) / sum(weights),
    mae = function(y, mu, weights, ...) sum(weights * abs(y - mu)) / sum(weights),
    logloss = function(y, mu, weights, ...) {
      if (any(y < 0 | y > 1)) abort("`metric = \"logloss\"` needs a response in [0, 1].", "argument")
      p <- pmin(pmax(mu, 1e-15), 1 - 1e-15)
      -sum(weights * (y * log(p) + (1 - y) * log(1 - p))) / sum(weights)
    },
    auc = function(y, mu, weights, ...) {
      if (!all(y %in% c(0, 1))) abort("`metric = \"auc\"` needs a 0/1 response.", "argument")
      n1 <- sum(y == 1)
      n0 <- sum(y == 0)
      if (n1 == 0 || n0 == 0) return(NA_real_)
      # The Mann-Whitney statistic: ties count one half.
      (sum(rank(mu)[y == 1]) - n1 * (n1 + 1) / 2) / (n1 * n0)
    }
  )
  list(name = metric, score = score, custom = FALSE)
}

# The per-fold table (`tests`: each fold's held-out rows, a logical vector); a
# metric function that fails is an error naming the fold.
fold_table <- function(ids, tests, results, y, w, scorer) {
  rows <- lapply(seq_along(ids), function(i) {
    r <- results[[i]]
    test <- tests[[i]]
    value <- NA_real_
    if (is.na(r$error)) {
      # (A Cox fold's linear predictor is at every row.)
      mu <- if (isTRUE(r$all_rows)) rows_of(r$mu, test) else r$mu
      value <- tryCatch(
        if (isTRUE(scorer$all_rows)) {
          scorer$score(y, r$mu, w, test)
        } else if (scorer$custom) {
          scorer$score(rows_of(y, test), mu, w[test])
        } else {
          scorer$score(rows_of(y, test), r$mu, w[test], r$family)
        },
        warmgam_error = function(e) stop(e),
        error = function(e) {
          abort(sprintf("The metric failed on fold %d: %s", ids[[i]], conditionMessage(e)), "metric")
        }
      )
      if (!is.numeric(value) || length(value) != 1L) {
        abort(sprintf("The metric must return a single number; on fold %d it returned %s.",
                      ids[[i]], deparse_one(value)), "metric")
      }
      # A built-in metric is a number whenever the fold was fitted (the AUC of a
      # fold with one class only is NA by definition).
      if (!scorer$custom && scorer$name != "auc" && !is.finite(value)) {
        abort(sprintf("The %s of fold %d is %s: the fold's predictions are outside what the family allows.",
                      scorer$name, ids[[i]], format(value)), "metric")
      }
    }
    data.frame(
      fold = ids[[i]], n_train = sum(!test), n_test = sum(test), metric = as.double(value),
      outer_iterations = r$outer_iterations, family_trials = r$family_trials, warm_start = r$warm_start,
      seconds = r$seconds, sp = I(list(r$sp)), error = r$error,
      stringsAsFactors = FALSE
    )
  })
  do.call(rbind, rows)
}

#' @rdname gam_cv
#' @param x,object A `warmgam_cv` object.
#' @param digits Significant digits of the printed estimate (`print()`) or fold
#'   table (`print(summary())`).
#' @export
print.warmgam_cv <- function(x, digits = 6, ...) {
  check_dots_empty("print", ...)
  cat(sprintf("\n%d-fold cross-validation of\n", nrow(x$folds)))
  print(x$fit$formula)
  cat(sprintf("\n%s: %s (se %s)\n", x$metric, format(x$estimate, digits = digits), format(x$se, digits = 3)))
  sources <- table(factor(x$folds$warm_start, levels = c("cold", "seeded", "resumed", "exact")))
  cat(sprintf("Folds: %s; %d outer iterations in all\n",
              paste(sprintf("%d %s", sources[sources > 0], names(sources)[sources > 0]), collapse = ", "),
              as.integer(sum(x$folds$outer_iterations, na.rm = TRUE))))
  failed <- !is.na(x$folds$error)
  if (any(failed)) {
    cat(sprintf("%d fold(s) failed: %s\n", sum(failed),
                paste(sprintf("fold %s: %s", x$folds$fold[failed], x$folds$error[failed]), collapse = "; ")))
  }
  invisible(x)
}

#' @rdname gam_cv
#' @export
summary.warmgam_cv <- function(object, ...) {
  check_dots_empty("summary", ...)
  structure(
    list(estimate = object$estimate, se = object$se, metric = object$metric,
         folds = object$folds[c("fold", "n_train", "n_test", "metric", "outer_iterations",
                                "warm_start", "seconds", "error")]),
    class = "summary.warmgam_cv"
  )
}

#' @rdname gam_cv
#' @export
print.summary.warmgam_cv <- function(x, digits = 4, ...) {
  check_dots_empty("print", ...)
  cat(sprintf("%s: %s (se %s)\n\n", x$metric, format(x$estimate, digits = 6), format(x$se, digits = 3)))
  print(x$folds, row.names = FALSE, digits = digits)
  invisible(x)
}

#' @rdname gam_cv
#' @param y Unused (for the generic).
#' @export
plot.warmgam_cv <- function(x, y, ...) {
  m <- x$folds$metric
  graphics::plot(x$folds$fold, m, pch = 19, xlab = "fold", ylab = x$metric,
                 main = "Cross-validation by fold", ...)
  graphics::abline(h = x$estimate, lty = 1)
  graphics::abline(h = x$estimate + c(-2, 2) * x$se, lty = 2)
  invisible(x)
}

# The held-out rows of the response (of each column of a matrix, such as a Cox
# model's `cbind(time, stratum)`), with a censored response's bounds (cnorm()'s
# `attr(y, "censor")`, which `[` would drop).
rows_of <- function(y, rows) {
  if (is.matrix(y)) return(y[rows, , drop = FALSE])
  out <- y[rows]
  censor <- attr(y, "censor")
  if (!is.null(censor)) attr(out, "censor") <- censor[rows]
  out
}

# The variables of a formula, or of a list of formulae (all.vars() of a list finds none).
formula_vars <- function(formula) {
  if (inherits(formula, "formula")) all.vars(formula) else unique(unlist(lapply(formula, all.vars)))
}
