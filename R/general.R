# General smooth models (mgcv's general families): a list of formulae, one linear
# predictor each, and a family whose log likelihood depends on all of them, such as
# mgcv's gaulss() (Wood, Pya & Saefken 2016, JASA 111:1548-1563). Each predictor's
# model is set up as a warmgam model on the same rows; the engine fits them jointly
# by the Laplace-approximate REML (src/rust/src/fit/general.rs).

# The general families the engine fits, each with its number of linear predictors.
general_family_lps <- c(gaulss = 2L, gumbls = 2L, gammals = 2L, multinom = NA, ziplss = 2L, gevlss = 3L,
                        shash = 4L)

# The number of linear predictors (multinom(K) has K) and the most the engine takes.
n_predictors <- function(family) family$nlp %||% general_family_lps[[family$family]]
max_predictors <- 4L

# Responses a general family cannot take: a test per family (TRUE where valid) and
# what is expected.
general_support <- list(
  gammals = list(valid = function(y, family) y > 0, expected = "positive"),
  multinom = list(valid = function(y, family) y >= 0 & y <= family$nlp & y == round(y),
                  expected = "class number (0 to K)", every_class = TRUE),
  ziplss = list(valid = function(y, family) y >= 0 & y == round(y), expected = "non-negative whole number")
)

is_general_family <- function(family) inherits(family, "general.family")

# The family object, when it is a general one (a function or name is called first);
# NULL otherwise.
general_family <- function(family) {
  if (is.character(family) && length(family) == 1L && family %in% names(general_family_lps)) {
    family <- get(family, envir = asNamespace("mgcv"), mode = "function")
  }
  if (is.function(family)) {
    called <- tryCatch(family(), error = function(e) NULL)
    if (is_general_family(called)) family <- called
  }
  if (!is_general_family(family)) return(NULL)
  if (!family$family %in% names(general_family_lps)) {
    abort(sprintf(
      "`family = %s()` is not supported yet; of mgcv's general families warmgam fits %s.",
      family$family, paste0(names(general_family_lps), "()", collapse = ", ")
    ), "family")
  }
  if (n_predictors(family) > max_predictors) {
    abort(sprintf("`%s()` with %d linear predictors is not supported yet; warmgam fits at most %d.",
                  family$family, n_predictors(family), max_predictors), "family")
  }
  family
}

# The log likelihood of each `y` under a general family at the linear predictors
# `eta` (a matrix, one column per predictor): gam_cv()'s score of held-out rows.
general_row_loglik <- function(family, y, eta) {
  eta <- as.matrix(eta)
  storage.mode(eta) <- "double"
  engine_result(general_loglik_impl(list(
    family = family$family, links = general_links(family), constants = as.double(general_constants(family)),
    y = as.double(y), eta = unname(eta)
  )))
}

# The engine's constants of a general family, read off its links: gaulss's `b`, the
# standard deviation's lower bound (its logb link's inverse is 1 / (exp(eta) + b));
# gumbls' and gammals' `b`, the log scale's (their log link's inverse is
# b + log(1 + exp(eta))); shash's `b` (its logeb link's inverse is log(exp(eta) + b))
# and `phiPen`, its ridge on the log kurtosis.
general_constants <- function(family) {
  switch(family$family,
    gaulss = 1 / family$linfo[[2]]$linkinv(0) - 1,
    gumbls = ,
    gammals = family$linfo[[2]]$linkinv(-50) - log1p(exp(-50)),
    multinom = family$nlp,
    shash = c(exp(family$linfo[[2]]$linkinv(-50)) - exp(-50), get("phiPen", environment(family$ll))),
    ziplss = ,
    gevlss = numeric()
  )
}

# Each predictor's link name (multinom's are identities it does not name).
general_links <- function(family) {
  as.character(family$link %||% rep("identity", n_predictors(family)))
}

# A predictor's smooth label as mgcv writes it: `s(x)` of the second predictor is
# `s.1(x)`.
lp_label <- function(label, k) {
  if (k == 1L) label else sub("^([A-Za-z0-9_]+)\\(", paste0("\\1.", k - 1L, "("), label)
}

lp_names <- function(names, k) if (k == 1L || !length(names)) names else paste0(names, ".", k - 1L)

# The blocks of terms of a list of formulae, each as a formula with the response
# (mgcv's later formulae are one-sided), and the linear predictors each block
# enters: the formulae without a left side are the predictors in order (the first,
# with the response, is predictor 1); a formula whose left side is predictor
# numbers (mgcv's `1 + 2 ~ s(x) - 1`) is a block shared by those predictors.
lp_formulae <- function(formula, family) {
  n_lp <- n_predictors(family)
  shape <- sprintf(paste("a list of %d formulae, the first with the response, such as `list(y ~ s(x), ~ s(z))`",
                         "(and any formulae shared by several predictors, `1 + 2 ~ s(x) - 1`)"), n_lp)
  if (!is.list(formula) || !all(vapply(formula, inherits, logical(1), what = "formula"))) {
    abort(sprintf("`formula` for `%s()` must be %s.", family$family, shape), "formula")
  }
  shared <- vapply(seq_along(formula), function(j) {
    j > 1L && length(formula[[j]]) == 3L && !is.null(predictor_numbers(formula[[j]][[2]]))
  }, logical(1))
  if (sum(!shared) != n_lp) {
    abort(sprintf("`formula` for `%s()` must be %s: it has %d predictor formulae.", family$family, shape,
                  sum(!shared)), "formula")
  }
  if (length(formula[[1]]) != 3L) {
    abort(sprintf("The first formula of `formula` must have the response: %s.", shape), "formula")
  }
  response <- formula[[1]][[2]]
  predictor <- cumsum(!shared)
  blocks <- lapply(seq_along(formula), function(j) {
    f <- formula[[j]]
    if (j == 1L) return(list(formula = f, lp = 1L))
    if (shared[[j]]) {
      lp <- sort(unique(predictor_numbers(f[[2]])))
      if (any(lp < 1L | lp > n_lp)) {
        abort(sprintf("Formula %d of `formula` is shared by predictors %s, but `%s()` has predictors 1 to %d.",
                      j, paste(lp, collapse = " + "), family$family, n_lp), "formula")
      }
      if (attr(stats::terms(f), "intercept") == 1L) {
        abort(sprintf(paste("Formula %d of `formula` is shared by predictors %s and has an intercept, which",
                            "each predictor has already: write it with `- 1`, as mgcv's examples do."),
                      j, paste(lp, collapse = " + ")), "formula")
      }
      rhs <- f[[3]]
    } else {
      if (length(f) == 3L) {
        abort(sprintf(paste("Formula %d of `formula` must be one-sided (`~ s(z)`): only the first has the",
                            "response (a formula shared by predictors names them, `1 + 2 ~ s(x) - 1`)."), j),
              "formula")
      }
      lp <- predictor[[j]]
      rhs <- f[[2]]
    }
    g <- eval(call("~", response, rhs))
    environment(g) <- environment(f)
    list(formula = g, lp = lp)
  })
  list(formulae = lapply(blocks, `[[`, "formula"), lp = lapply(blocks, `[[`, "lp"))
}

# The predictor numbers of a shared formula's left side (`1 + 2`), or NULL when it is
# not a sum of whole numbers (a response).
predictor_numbers <- function(lhs) {
  if (is.numeric(lhs) && length(lhs) == 1L && lhs == round(lhs)) return(as.integer(lhs))
  if (is.call(lhs) && identical(lhs[[1]], as.name("+")) && length(lhs) == 3L) {
    parts <- lapply(as.list(lhs)[-1], predictor_numbers)
    if (!any(vapply(parts, is.null, logical(1)))) return(unlist(parts))
  }
  NULL
}

# The data's rows that every predictor's variables have (the others dropped, or an
# error for `na.fail`), so that each predictor's model is set up on the same rows.
general_rows <- function(formulae, data, subset, na_action) {
  if (is.null(data)) return(NULL)
  if (!is.null(subset)) data <- data[subset, , drop = FALSE]
  vars <- intersect(unique(unlist(lapply(formulae, all.vars))), names(data))
  keep <- if (length(vars)) stats::complete.cases(as.data.frame(data)[vars]) else rep(TRUE, NROW(data))
  if (!all(keep) && na_action == "na.fail") {
    abort("The model's variables have missing values and `na.action` is na.fail.", "missing_values")
  }
  out <- data[keep, , drop = FALSE]
  attr(out, "dropped") <- which(!keep)
  out
}

# Fits a general smooth model: gam_fit() with a list of formulae and a general family.
gam_fit_general <- function(formula, data, family, method, sp, knots, select, control, threads, subset,
                            na_action, drop_unused_levels, fit, call, refused, optimizer, cache) {
  if (length(refused)) {
    abort(sprintf(
      "`%s` is not supported with the general family `%s()` yet.", refused[[1]], family$family
    ), "argument")
  }
  if (method != "REML") {
    warn(sprintf("`method = \"%s\"` is not used: `%s()` is fitted by REML, as mgcv fits its general families.",
                 method, family$family))
  }
  blocks <- lp_formulae(formula, family)
  formulae <- blocks$formulae
  rows <- general_rows(formulae, data, subset, na_action)
  setups <- lapply(formulae, function(f) {
    gam_fit(f, data = rows, knots = knots, select = select, fit = FALSE, drop.unused.levels = drop_unused_levels)
  })
  # As mgcv's gam(fit = FALSE) returns its set-up model: one per predictor here.
  if (!fit) return(setups)
  n <- vapply(setups, function(s) nrow(s$X), 1)
  if (length(unique(n)) != 1L) {
    abort("The formulae's variables have missing values in different rows; give them in `data`.", "missing_values")
  }
  y <- as.double(setups[[1]]$y)
  bad <- which(!is.finite(y))
  if (length(bad)) abort(sprintf("The response must be finite; row %d is not.", bad[[1]]), "response")
  support <- general_support[[family$family]]
  bad <- if (!is.null(support)) which(!support$valid(y, family))
  if (length(bad)) {
    abort(sprintf("`%s()` needs a %s response; %d row(s) are not (the first: row %d, value %s).",
                  family$family, support$expected, length(bad), bad[[1]], format(y[[bad[[1]]]])), "response")
  }
  # A class without rows has no finite coefficients (and mgcv's postproc fails).
  absent <- if (isTRUE(support$every_class)) setdiff(0:family$nlp, y)
  if (length(absent)) {
    abort(sprintf("`%s(K = %d)` needs every class 0 to %d in the response; class %d has no rows.",
                  family$family, family$nlp, family$nlp, absent[[1]]), "response")
  }
  # Each block's columns, and each predictor's blocks (its own, and shared ones).
  p <- vapply(setups, function(s) ncol(s$X), 1)
  first <- cumsum(c(0, p))[seq_along(p)]
  block_cols <- lapply(seq_along(p), function(j) first[[j]] + seq_len(p[[j]]))
  feeds <- lapply(seq_len(n_predictors(family)), function(k) which(vapply(blocks$lp, `%in%`, x = k, NA)))
  n_sp <- vapply(setups, function(s) as.double(s$n_sp), 1)
  sp_first <- cumsum(c(0, n_sp))[seq_along(n_sp)]
  penalties <- unlist(lapply(seq_along(setups), function(k) {
    s <- setups[[k]]
    Map(function(S, off, spi) list(S = S, start = off - 1 + first[[k]], sp_index = spi - 1 + sp_first[[k]]),
        s$S, s$off, s$sp_index)
  }), recursive = FALSE)
  total_sp <- sum(n_sp)
  if (!is.null(sp) && (!is.numeric(sp) || length(sp) != total_sp)) {
    abort(sprintf("`sp` must have %d values, one per smoothing parameter (negative to estimate).", total_sp),
          "argument")
  }
  smooth <- unlist(lapply(seq_along(setups), function(k) {
    lapply(setups[[k]]$smooth, function(sm) {
      sm$label <- lp_label(sm$label, k)
      sm$first <- sm$first + first[[k]]
      sm$last <- sm$last + first[[k]]
      sm$sp_index <- sm$sp_index + sp_first[[k]]
      sm$lp <- k
      sm
    })
  }), recursive = FALSE)
  names(smooth) <- vapply(smooth, `[[`, "", "label")
  coef_names <- unlist(lapply(seq_along(setups), function(k) {
    s <- setups[[k]]
    smooth_names <- s$term.names[seq_along(s$term.names) > s$nsdf]
    c(lp_names(s$term.names[seq_len(s$nsdf)], k), if (k > 1L) sub("^([A-Za-z0-9_]+)\\(", paste0("\\1.", k - 1L, "("),
                                                                   smooth_names) else smooth_names)
  }))
  raw <- fit_general_impl(list(
    X = do.call(cbind, lapply(setups, `[[`, "X")),
    y = y,
    family = family$family,
    links = general_links(family),
    constants = as.double(general_constants(family)),
    lp_start = lapply(feeds, function(js) as.double(first[js])),
    lp_end = lapply(feeds, function(js) as.double(first[js] + p[js])),
    offset = predictor_offsets(setups, feeds),
    penalties = penalties,
    sp = as.double(sp %||% rep(-1, total_sp)),
    terms = lapply(smooth, function(sm) {
      list(start = sm$first - 1, end = sm$last, null_space_dim = as.double(sm$null_space_dim))
    }),
    tol = control$outer_tol,
    max_iter = as.double(control$outer_max_iter),
    max_step = control$max_step,
    threads = as.double(threads),
    cache = general_cache_spec(cache, control, formula, family, coef_names)
  ))
  res <- engine_result(raw)
  warn_store_outcome(res$warm_start)
  lpi <- lapply(feeds, function(js) unlist(block_cols[js]))
  parts <- lapply(seq_along(setups), function(k) {
    s <- setups[[k]]
    list(pterms = s$pterms, xlevels = s$xlevels, contrasts = s$contrasts, smooth = s$smooth,
         assign = s$assign, coefficients = stats::setNames(numeric(p[[k]]), colnames(s$X)))
  })
  coefficients <- stats::setNames(res$coefficients, coef_names)
  dimnames(res$Vp) <- dimnames(res$Ve) <- dimnames(res$Vc) <- list(coef_names, coef_names)
  sp_labels <- unlist(lapply(seq_along(setups), function(k) {
    lp_label(sp_names(setups[[k]]$smooth, n_sp[[k]]), k)
  }))
  fit <- structure(
    list(
      coefficients = coefficients,
      fitted.values = res$parameters,
      linear.predictors = res$linear_predictors,
      y = y,
      Vp = res$Vp,
      Ve = res$Ve,
      Vc = res$Vc,
      edf = stats::setNames(res$edf, coef_names),
      edf1 = stats::setNames(res$edf1, coef_names),
      edf2 = stats::setNames(res$edf2, coef_names),
      sp = stats::setNames(res$sp, sp_labels),
      criterion = c(REML = res$criterion),
      loglik = res$loglik,
      aic = -2 * res$loglik + 2 * sum(res$edf),
      smooth = smooth,
      term_tests = res$term_tests,
      lpi = lpi,
      # Per block of terms (a predictor's own formula, or one shared by several):
      # its columns, the predictors it enters, its parametric columns and set-up.
      block_cols = block_cols,
      block_lp = blocks$lp,
      nsdf = vapply(setups, `[[`, 1, "nsdf"),
      parts = parts,
      offset = predictor_offsets(setups, feeds),
      converged = res$converged && res$inner_converged,
      termination = res$termination,
      outer_iterations = res$iterations,
      gradient = res$gradient,
      method = "REML",
      optimizer = optimizer,
      family = family,
      formula = formula,
      call = call,
      data = rows,
      na.action = attr(rows, "dropped"),
      warm_start = list(
        source = res$warm_start$source,
        outer_iterations = res$iterations,
        key = if (nzchar(res$warm_start$key)) res$warm_start$key else NA_character_,
        seed_outer_iterations = res$warm_start$seed_outer_iterations,
        family_trials = NA_real_
      )
    ),
    class = "warmgam_general"
  )
  general_postproc(fit)
}

# The store's settings and the model's identity for a general fit (NULL: the store is
# not used), as cache_spec() gives them for the other fits: the formulae, the family
# with its links and constants, and the coefficients' names (the model's terms).
general_cache_spec <- function(cache, control, formula, family, coef_names) {
  store <- store_settings(cache)
  if (is.null(store)) return(NULL)
  c(store, list(
    # A store that is to be verified is not used by a general fit: it runs cold.
    verify = isTRUE(control$verify_warm),
    formula = paste(vapply(formula, function(f) paste(deparse(f, width.cutoff = 500L), collapse = " "), ""),
                    collapse = "; "),
    family = sprintf("%s(%s)", family$family, paste(format(general_constants(family), digits = 17), collapse = ",")),
    link = paste(general_links(family), collapse = ","),
    names = coef_names
  ))
}

# Each predictor's offset: the sum of those of the blocks it takes (`feeds`).
predictor_offsets <- function(setups, feeds) {
  lapply(feeds, function(js) Reduce(`+`, lapply(setups[js], function(s) as.double(s$offset))))
}

# What mgcv's gam() does after fitting a general family, through the family's own
# functions: its `postproc` (gumbls' fitted mean, gammals' mean on the response
# scale, null deviances), then the deviance as the sum of squared deviance
# residuals.
general_postproc <- function(object) {
  post <- object$family$postproc
  if (is.expression(post)) {
    # Evaluated where mgcv evaluates it (it calls mgcv's internal functions).
    env <- new.env(parent = asNamespace("mgcv"))
    env$object <- object
    eval(post, env)
    object <- env$object
  } else if (is.function(post)) {
    out <- post(family = object$family, y = object$y, prior.weights = rep(1, length(object$y)),
                fitted = object$fitted.values, linear.predictors = object$linear.predictors,
                offset = object$offset, intercept = TRUE)
    object$deviance <- out$deviance
    object$null.deviance <- out$null.deviance
  }
  object$deviance <- object$deviance %||% sum(object$family$residuals(object, "deviance")^2)
  object
}

#' Methods for general smooth models
#'
#' A fit of several linear predictors with a general family (`gam_fit(list(y ~ s(x),
#' ~ s(z)), family = mgcv::gaulss())`): `print()`, `summary()` (mgcv's tables, each
#' term labelled by its predictor as mgcv does: `s.1(z)` is a smooth of the second),
#' `predict()` (one column per linear predictor), `residuals()`, `vcov()`,
#' `logLik()`, `plot()`. Families: mgcv's `gaulss()`, `gumbls()`, `gammals()`, `ziplss()`,
#' `gevlss()`, `shash()` and `multinom(K)` (K up to 4).
#'
#' @param object,x A `warmgam_general` fit.
#' @param newdata A data frame of covariates; the fitted data when missing.
#' @param type For `predict()`: `"link"` (the linear predictors), `"response"` (the
#'   family's parameters on its response scale, as mgcv's: for `gaulss()` the mean
#'   and `1 / sigma`) or `"lpmatrix"` (the model matrix, with the columns of each
#'   predictor in `attr(, "lpi")`). For `residuals()`: `"deviance"`, `"pearson"` or
#'   `"response"`, as the family's residuals function gives them.
#' @param se.fit Whether to return standard errors too.
#' @param unconditional Whether standard errors use the covariance corrected for
#'   smoothing parameter uncertainty (`Vc`) rather than `Vp`.
#' @param digits Significant digits to print.
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns `predict()`: a matrix with one column per linear predictor (a list with
#'   `fit` and `se.fit` when `se.fit = TRUE`); `summary()`: a `summary.warmgam_general`
#'   object; `print()`: its argument, invisibly; `vcov()`: the Bayesian covariance
#'   matrix; `logLik()`: the log likelihood with its effective degrees of freedom;
#'   `family()`: the family object.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(list(accel ~ s(times, k = 20), ~ s(times)), data = MASS::mcycle,
#'                family = mgcv::gaulss())
#' summary(fit)
#' head(predict(fit, type = "response"))
#' \dontshow{options(op)}
#' @name warmgam_general
NULL

#' @rdname warmgam_general
#' @export
print.warmgam_general <- function(x, ...) {
  check_dots_empty("print", ...)
  cat("\nFamily:", x$family$family, "\nLink functions:", paste(general_links(x$family), collapse = " "), "\n\nFormula:\n")
  for (f in x$formula) print(f)
  cat(sprintf("\nTotal edf: %s   -REML = %s   n = %d\n", format(sum(x$edf), digits = 5),
              format(unname(x$criterion), digits = 8), length(x$y)))
  if (!x$converged) cat("The fit did not converge:", x$termination, "\n")
  cat(warm_start_line(x$warm_start), "\n", sep = "")
  invisible(x)
}

#' @rdname warmgam_general
#' @export
summary.warmgam_general <- function(object, ...) {
  check_dots_empty("summary", ...)
  beta <- object$coefficients
  se <- sqrt(diag(object$Vp))
  parametric <- unlist(Map(function(idx, np) idx[seq_len(np)], object$block_cols, object$nsdf))
  z <- beta[parametric] / se[parametric]
  p_table <- cbind(Estimate = beta[parametric], `Std. Error` = se[parametric], `z value` = z,
                   `Pr(>|z|)` = 2 * stats::pnorm(abs(z), lower.tail = FALSE))
  s_table <- NULL
  if (length(object$smooth)) {
    s_table <- t(vapply(seq_along(object$smooth), function(i) {
      sm <- object$smooth[[i]]
      test <- object$term_tests[[i]]
      c(edf = sum(object$edf[sm$first:sm$last]), Ref.df = test$rank, Chi.sq = test$stat,
        `p-value` = smooth_p_value(test, length(object$y) - sum(object$edf), scale_known = TRUE))
    }, numeric(4)))
    rownames(s_table) <- names(object$smooth)
  }
  structure(
    list(p.table = p_table, s.table = s_table,
         dev.expl = if (is.null(object$null.deviance)) NA_real_ else
           (object$null.deviance - object$deviance) / object$null.deviance,
         criterion = object$criterion, n = length(object$y), family = object$family, formula = object$formula),
    class = "summary.warmgam_general"
  )
}

#' @rdname warmgam_general
#' @export
print.summary.warmgam_general <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots_empty("print", ...)
  cat("\nFamily:", x$family$family, "\nLink function:", paste(x$family$link, collapse = " "), "\n\nFormula:\n")
  for (f in x$formula) print(f)
  print_coefficient_tables(x, digits)
  cat(sprintf("\nDeviance explained = %s%%\n-REML = %s  Scale est. = 1         n = %d\n",
              formatC(100 * x$dev.expl, digits = 1, format = "f"), format(unname(x$criterion), digits = 5), x$n))
  invisible(x)
}

#' @rdname warmgam_general
#' @export
predict.warmgam_general <- function(object, newdata, type = "link", se.fit = FALSE, unconditional = FALSE, ...) {
  check_dots_empty("predict", ...)
  check_flag(unconditional, "unconditional")
  V <- if (unconditional) object$Vc else object$Vp
  check_choice(type, "type", c("link", "response", "lpmatrix"))
  check_flag(se.fit, "se.fit")
  if (missing(newdata) || is.null(newdata)) {
    if (type == "lpmatrix") abort("`type = \"lpmatrix\"` needs `newdata`.", "argument")
    newdata <- NULL
  } else if (!is.data.frame(newdata) && !is.list(newdata)) {
    abort("`newdata` must be a data frame.", "newdata")
  }
  if (is.null(newdata)) {
    eta <- object$linear.predictors
    x <- NULL
  } else {
    blocks <- lapply(object$parts, function(part) model_matrix_at(part, newdata))
    if (type == "lpmatrix") {
      out <- do.call(cbind, lapply(blocks, `[[`, "x"))
      colnames(out) <- names(object$coefficients)
      attr(out, "lpi") <- object$lpi
      return(out)
    }
    eta <- vapply(seq_along(object$lpi), function(k) {
      js <- predictor_blocks(object, k)
      Reduce(`+`, lapply(js, function(j) {
        drop(blocks[[j]]$x %*% object$coefficients[object$block_cols[[j]]]) + blocks[[j]]$offset
      }))
    }, numeric(nrow(blocks[[1]]$x)))
    eta <- matrix(eta, ncol = length(object$lpi))
    x <- predictor_matrices(object, lapply(blocks, `[[`, "x"))
  }
  if (se.fit && is.null(x)) {
    if (is.null(object$data)) abort("`se.fit = TRUE` needs `newdata`: the fit was made without `data`.", "argument")
    x <- predictor_matrices(object, lapply(object$parts, function(part) model_matrix_at(part, object$data)$x))
  }
  links <- object$family$linfo
  if (type == "response" && is.function(object$family$predict)) {
    # The family's own response scale (gumbls' location, gammals' mean, multinom's
    # class probabilities), as mgcv's predict.gam asks it.
    scale_of <- function(e) as.matrix(object$family$predict(object$family, eta = e)[[1]])
    fit <- scale_of(eta)
    if (!se.fit) return(fit)
    return(list(fit = fit, se.fit = response_se(scale_of, eta, x, object$lpi, V)))
  }
  fit <- if (type == "link") eta else vapply(seq_along(links), function(k) links[[k]]$linkinv(eta[, k]),
                                             numeric(nrow(eta)))
  fit <- matrix(fit, ncol = length(links))
  if (!se.fit) return(fit)
  se <- vapply(seq_along(x), function(k) {
    idx <- object$lpi[[k]]
    s <- sqrt(pmax(0, rowSums((x[[k]] %*% V[idx, idx, drop = FALSE]) * x[[k]])))
    if (type == "response") s * abs(links[[k]]$mu.eta(eta[, k])) else s
  }, numeric(nrow(eta)))
  list(fit = fit, se.fit = matrix(se, ncol = length(links)))
}

#' @param pages,select,shade,seWithMean,trans,all.terms,rug,se_mult,n,n2,too.far As
#'   for [plot.warmgam()]: every predictor's smooth terms are drawn in turn, as mgcv
#'   draws them (`select` counts over all of them).
#' @rdname warmgam_general
#' @export
plot.warmgam_general <- function(x, select = NULL, pages = 0, shade = FALSE, seWithMean = FALSE,
                                 unconditional = FALSE, trans = identity, all.terms = FALSE, rug = TRUE,
                                 se_mult = 2, n = 100, n2 = 40, too.far = 0.1, ...) {
  check_flag(shade, "shade")
  check_number(pages, "pages", lower = 0)
  check_drawing(rug, se_mult, trans)
  if (is.null(x$data)) abort("`plot()` needs the fit's data: fit with `data`.", "argument")
  views <- lapply(seq_along(x$parts), function(k) lp_view(x, k))
  counts <- vapply(views, function(v) length(v$smooth), 1L)
  if (!is.null(select) && (!is.numeric(select) || any(!select %in% seq_len(sum(counts))))) {
    abort(sprintf("`select` must pick smooth terms among 1 to %d.", sum(counts)), "argument")
  }
  panels <- list()
  owner <- list()
  for (k in seq_along(views)) {
    mine <- seq_len(counts[[k]]) + sum(counts[seq_len(k - 1)])
    chosen <- if (is.null(select)) seq_len(counts[[k]]) else which(mine %in% select)
    if (!length(chosen) && !(all.terms && is.null(select))) next
    got <- if (length(chosen)) {
      term_panels(views[[k]], chosen, FALSE, seWithMean, unconditional, FALSE, n, n2, too.far)
    }
    if (all.terms && is.null(select)) got <- c(got, Filter(Negate(is.null), parametric_panels(views[[k]], n, unconditional)))
    panels <- c(panels, got)
    owner <- c(owner, rep(list(views[[k]]), length(got)))
  }
  draw_pages(panels, owner, pages, shade, trans, rug, se_mult, ...)
}

# The blocks of terms predictor `k` takes, in order.
predictor_blocks <- function(object, k) which(vapply(object$block_lp, `%in%`, x = k, NA))

# Each predictor's model matrix (its columns `lpi[[k]]`) from the blocks' `x`.
predictor_matrices <- function(object, x) {
  lapply(seq_along(object$lpi), function(k) do.call(cbind, x[predictor_blocks(object, k)]))
}

# Block `k` of a general fit's terms (a predictor's own formula, or one shared by
# several) as a single-predictor warmgam fit, for the term-level machinery
# (predict(type = "terms"), plot panels): its coefficients, covariances and edf,
# its terms labelled as in the whole fit.
lp_view <- function(object, k) {
  idx <- object$block_cols[[k]]
  part <- object$parts[[k]]
  first <- idx[[1]] - 1L
  smooth <- Filter(function(sm) sm$lp == k, object$smooth)
  smooth <- lapply(smooth, function(sm) {
    sm$first <- sm$first - first
    sm$last <- sm$last - first
    sm
  })
  structure(
    list(
      coefficients = stats::setNames(object$coefficients[idx], names(part$coefficients)),
      Vp = object$Vp[idx, idx, drop = FALSE], Vc = object$Vc[idx, idx, drop = FALSE],
      edf = object$edf[idx], smooth = smooth, pterms = part$pterms, xlevels = part$xlevels,
      contrasts = part$contrasts, assign = part$assign, n_parametric = object$nsdf[[k]], model = object$data,
      family = stats::gaussian()
    ),
    class = "warmgam"
  )
}

#' @rdname warmgam_general
#' @export
residuals.warmgam_general <- function(object, type = "deviance", ...) {
  check_dots_empty("residuals", ...)
  check_choice(type, "type", c("deviance", "pearson", "response"))
  object$family$residuals(object, type)
}

# Standard errors on a family's response scale `scale_of(eta)` by the delta method:
# its derivatives in each linear predictor (central differences) with the
# predictors' covariances at each row, `x_a' V_ab x_b`. (mgcv 1.8-41's own
# `predict` functions get some of these wrong: gumbls' and gammals' second column
# uses one variance for every row, ziplss' mixes up its two predictors' columns.)
response_se <- function(scale_of, eta, x, lpi, V) {
  K <- ncol(eta)
  h <- 1e-6 * pmax(1, abs(eta))
  dim(h) <- dim(eta)
  jac <- lapply(seq_len(K), function(k) {
    up <- down <- eta
    up[, k] <- eta[, k] + h[, k]
    down[, k] <- eta[, k] - h[, k]
    (scale_of(up) - scale_of(down)) / (2 * h[, k])
  })
  out <- 0 * jac[[1]]
  for (a in seq_len(K)) {
    for (b in seq_len(K)) {
      cov_ab <- rowSums((x[[a]] %*% V[lpi[[a]], lpi[[b]], drop = FALSE]) * x[[b]])
      out <- out + jac[[a]] * jac[[b]] * cov_ab
    }
  }
  out[out < 0] <- 0
  sqrt(out)
}

#' @rdname warmgam_general
#' @export
vcov.warmgam_general <- function(object, unconditional = FALSE, ...) {
  check_dots_empty("vcov", ...)
  check_flag(unconditional, "unconditional")
  if (unconditional) object$Vc else object$Vp
}

#' @rdname warmgam_general
#' @export
logLik.warmgam_general <- function(object, ...) {
  check_dots_empty("logLik", ...)
  # As mgcv's logLik.gam: the effective degrees of freedom corrected for smoothing
  # parameter uncertainty, at most the number of coefficients.
  df <- min(sum(object$edf2), length(object$coefficients))
  structure(object$loglik, df = df, nobs = length(object$y), class = "logLik")
}

#' @rdname warmgam_general
#' @export
nobs.warmgam_general <- function(object, ...) length(object$y)

#' @rdname warmgam_general
#' @export
family.warmgam_general <- function(object, ...) {
  check_dots_empty("family", ...)
  object$family
}
