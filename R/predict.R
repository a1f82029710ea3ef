# predict() and the model matrix at new data.

# The model matrix (parametric columns, then each smooth's columns) and the formula
# offset at `data`, a data frame of covariates.
model_matrix_at <- function(object, data) {
  needed <- model_variables(object)
  absent <- setdiff(needed, names(data))
  if (length(absent)) {
    abort(sprintf("`newdata` is missing variable `%s` used by the model.", absent[[1]]), "missing_variable")
  }
  for (v in names(object$xlevels)) {
    unseen <- setdiff(unique(as.character(data[[v]])), c(object$xlevels[[v]], NA))
    if (length(unseen)) {
      abort(sprintf(
        "`newdata` has level \"%s\" of factor `%s`, which the model was not fitted with.",
        unseen[[1]], v
      ), "unseen_level")
    }
  }
  pt <- stats::delete.response(object$pterms)
  mf <- tryCatch(
    stats::model.frame(pt, data, xlev = object$xlevels, na.action = stats::na.pass),
    error = function(e) {
      abort(sprintf("`newdata` cannot be used: %s", conditionMessage(e)), "newdata")
    }
  )
  xp <- stats::model.matrix(pt, mf, contrasts.arg = object$contrasts)
  # (A Cox model's terms are set up with the intercept, which its fit drops.)
  if (isTRUE(object$drop_intercept)) xp <- xp[, colnames(xp) != "(Intercept)", drop = FALSE]
  offset <- stats::model.offset(mf) %||% rep(0, nrow(xp))
  blocks <- lapply(object$smooth, function(sm) {
    # A term mgcv built is predicted by mgcv (its `by` included).
    if (identical(sm$class, "mgcv")) return(mgcv_columns(sm, data))
    vars <- switch(sm$class,
      re = random_effect_codes(sm, data),
      mrf = list(mrf_codes(sm, data[[sm$term[[1]]]], sm$re_levels)),
      fs = , sz = factor_smooth_vars(sm, data),
      # (A tensor product's Markov random field margins take region codes.)
      lapply(sm$term, function(v) {
        if (is.null(sm$mrf_levels[[v]])) as.double(data[[v]]) else mrf_codes(sm, data[[v]], sm$mrf_levels[[v]])
      })
    )
    by <- NULL
    by_name <- smooth_by_name(sm)
    if (!is.null(by_name)) {
      byv <- data[[by_name]]
      by <- if (is.null(sm$by_level)) as.double(byv) else as.double(as.character(byv) == sm$by_level)
    }
    block <- engine_result(smooth_matrix_impl(sm$label, sm$class, sm$state, vars, by), "newdata")
    # A soap film (or a tensor product with a soap film margin) is NA outside its
    # boundary, and its known part (given boundary values) is added as mgcv adds it.
    block[is.nan(block)] <- NA_real_
    if (!is.null(sm$soap_parameters)) {
      known <- soap_known_part(sm$label, sm$soap_parameters, vars[[1]], vars[[2]])
      attr(block, "offset") <- ifelse(is.nan(known), NA_real_, known)
    }
    block
  })
  term_offsets <- Filter(Negate(is.null), lapply(blocks, attr, "offset"))
  if (length(term_offsets)) offset <- offset + Reduce(`+`, term_offsets)
  x <- do.call(cbind, c(list(xp), blocks))
  colnames(x) <- names(object$coefficients)
  list(x = x, offset = as.double(offset))
}

# A random effect's level codes at `data` (0 for a level the fit did not see, which
# predicts no effect, as mgcv does), and its random-slope covariate.
random_effect_codes <- function(sm, data) {
  cols <- lapply(sm$term, function(v) data[[v]])
  parts <- random_effect_parts(cols)
  key <- do.call(paste, c(lapply(cols[parts$is_factor], as.character), sep = "."))
  codes <- match(key, sm$re_levels)
  codes[is.na(codes)] <- 0
  c(list(as.double(codes)), parts$slope)
}

# A factor smooth's covariates at `data`: the numeric ones, then each factor's level
# codes (0 for a level the fit did not see: its curve is zero, as mgcv's).
factor_smooth_vars <- function(sm, data) {
  numeric_terms <- setdiff(sm$term, sm$fs_factor)
  levels <- sm$fs_levels %||% list(sm$re_levels)
  codes <- lapply(seq_along(sm$fs_factor), function(j) {
    code <- match(as.character(data[[sm$fs_factor[[j]]]]), levels[[j]])
    code[is.na(code)] <- 0
    as.double(code)
  })
  c(lapply(numeric_terms, function(v) as.double(data[[v]])), codes)
}

# Column groups for type = "terms": parametric terms by `assign`, then each smooth.
term_columns <- function(object) {
  labels <- attr(object$pterms, "term.labels")
  assign <- object$assign
  groups <- lapply(seq_along(labels), function(i) which(assign == i))
  names(groups) <- labels
  smooth <- lapply(object$smooth, function(sm) seq(sm$first, sm$last))
  c(groups, smooth)
}

#' Predictions from a warmgam fit
#'
#' The arguments are those of `mgcv::predict.gam()`, with the same meaning.
#'
#' @param object A `warmgam` fit.
#' @param newdata A data frame of covariate values; the fitting data when missing
#'   (then, for a fit with `na.action = na.exclude`, the rows dropped for missing
#'   values are predicted as `NA`, as mgcv's `napredict()`; `model.matrix()` has
#'   `NA` rows for them likewise).
#'   A level of a random effect's factor (`s(g, bs = "re")`) that the fit did not
#'   see predicts no random effect (zero), as in mgcv; an unseen level of a
#'   parametric factor is an error.
#' @param type `"link"` (linear predictor), `"response"` (fitted mean),
#'   `"terms"` (each term's contribution, one column per term, uncentred as mgcv),
#'   `"iterms"` (as `"terms"`, but the standard errors of a centred smooth include
#'   the uncertainty of the intercept, as mgcv's) or `"lpmatrix"` (the model matrix,
#'   so that `X %*% coef(object)` gives the linear predictor without offset).
#' @param se.fit Also return standard errors, from the Bayesian covariance `Vp`.
#' @param terms,exclude Labels of terms (as in `type = "terms"` columns, plus
#'   `"(Intercept)"`). For `"terms"` and `"iterms"`, `terms` chooses the columns
#'   returned and `exclude` drops some; otherwise every term not in `terms` (when
#'   given) and every term in `exclude` is set to zero, in the prediction and in the
#'   `"lpmatrix"` columns, as mgcv does. A label that is not a term of the model is
#'   an error.
#' @param block.size Predict `block.size` rows of `newdata` at a time (mgcv's
#'   default: 1000; `NULL` for all at once, a value below 1 likewise), to bound the
#'   memory used for large `newdata`; the result does not depend on it. Not used for
#'   `"lpmatrix"`, as in mgcv.
#' @param newdata.guaranteed As mgcv's: `TRUE` promises that `newdata` has every
#'   variable in the right form. warmgam checks `newdata` either way, which gives
#'   the same predictions for data that keep the promise.
#' @param na.action What to do with rows of `newdata` with a missing value in a
#'   variable the model uses, as mgcv's (not R's usual) meanings: `na.pass` (the
#'   default) predicts `NA` for them, `na.omit` and `na.exclude` drop them, `na.fail`
#'   is an error. A function or its name.
#' @param unconditional With `se.fit`, take the standard errors from `Vc`, the
#'   covariance corrected for smoothing parameter uncertainty (see [vcov.warmgam()]).
#' @param iterms.type For `type = "iterms"`, mgcv's choice: `NULL` or 1 (the
#'   standard errors include the uncertainty of every column's mean), 2 (of the
#'   parametric columns' means only).
#' @param ... Nothing else: an argument not listed here is an error naming it.
#' @returns For `"link"` and `"response"`, a vector (or with `se.fit = TRUE`, a
#'   list with `fit` and `se.fit`); for `"terms"` and `"iterms"`, a matrix (or a
#'   list of matrices) with attribute `constant` (the intercept); for `"lpmatrix"`,
#'   a matrix. As in mgcv, an offset passed to `gam_fit(offset =)` is not included;
#'   a formula `offset()` term is.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + am, data = mtcars)
#' predict(fit, data.frame(hp = c(100, 200), am = 0), se.fit = TRUE)
#' head(predict(fit, type = "terms"))
#' predict(fit, data.frame(hp = c(100, 200), am = 0), exclude = "s(hp)")
#' \dontshow{options(op)}
#' @export
predict.warmgam <- function(object, newdata, type = "link", se.fit = FALSE, terms = NULL, exclude = NULL,
                            block.size = NULL, newdata.guaranteed = FALSE, na.action = stats::na.pass,
                            unconditional = FALSE, iterms.type = NULL, ...) {
  check_dots_empty("predict", ...)
  check_choice(type, "type", c("link", "response", "terms", "iterms", "lpmatrix"))
  check_flag(se.fit, "se.fit")
  check_flag(unconditional, "unconditional")
  check_flag(newdata.guaranteed, "newdata.guaranteed")
  labels <- c(if (any(object$assign == 0)) "(Intercept)", names(term_columns(object)))
  check_term_labels(terms, "terms", labels)
  check_term_labels(exclude, "exclude", labels)
  if (!is.null(block.size)) check_number(block.size, "block.size")
  if (!is.null(iterms.type) && !(is.numeric(iterms.type) && length(iterms.type) == 1L && iterms.type %in% 1:2)) {
    abort("`iterms.type` must be NULL, 1 or 2.", "argument")
  }
  at_fit <- missing(newdata) || is.null(newdata)
  if (at_fit) {
    newdata <- object$model
    keep <- NULL
  } else {
    if (!is.data.frame(newdata)) {
      if (!is.list(newdata)) abort("`newdata` must be a data frame.", "newdata")
      newdata <- list_frame(newdata)
    }
    keep <- complete_newdata_rows(object, newdata, na_action_name(na.action))
  }
  rows <- if (is.null(keep)) seq_len(nrow(newdata)) else which(keep)
  data <- if (length(rows) < nrow(newdata)) newdata[rows, , drop = FALSE] else newdata
  blocks <- if (type == "lpmatrix" || is.null(block.size) || block.size < 1 || nrow(data) <= block.size) {
    list(seq_len(nrow(data)))
  } else {
    split(seq_len(nrow(data)), ceiling(seq_len(nrow(data)) / block.size))
  }
  parts <- lapply(blocks, function(i) {
    predict_block(object, if (length(blocks) > 1L) data[i, , drop = FALSE] else data, type, se.fit, terms,
                  exclude, unconditional, iterms.type)
  })
  out <- combine_blocks(parts)
  # na.pass (mgcv's "na.exclude"): rows with a missing value predict NA.
  if (!is.null(keep) && identical(attr(keep, "pad"), TRUE) && !all(keep)) out <- pad_rows(out, keep, row.names(newdata))
  # At the fitting data of a na.exclude fit, the rows dropped for missing values
  # come back as NA (mgcv's napredict()).
  if (at_fit && inherits(object$na.action, "exclude")) {
    omit <- as.integer(object$na.action)
    keep <- rep(TRUE, nrow(newdata) + length(omit))
    keep[omit] <- FALSE
    rn <- character(length(keep))
    rn[keep] <- row.names(newdata)
    rn[omit] <- names(object$na.action) %||% as.character(omit)
    out <- pad_rows(out, keep, rn)
  }
  out
}

# The model matrix at the fitting data, one row per row of the fit (without the NA
# rows of a na.exclude fit that `model.matrix()` has).
fit_model_matrix <- function(object) model_matrix_at(object, object$model)$x

# The predictions (of `type`) at `data`, a block of complete rows.
predict_block <- function(object, data, type, se.fit, terms, exclude, unconditional, iterms.type) {
  mm <- model_matrix_at(object, data)
  x <- mm$x
  groups <- term_columns(object)
  intercept <- which(object$assign == 0)
  dropped <- dropped_columns(groups, intercept, ncol(x), terms, exclude)
  if (any(dropped)) x[, dropped] <- 0
  beta <- object$coefficients
  if (type == "lpmatrix") {
    attr(x, "model.offset") <- mm$offset
    return(x)
  }
  rn <- row.names(data)
  if (type %in% c("terms", "iterms")) {
    groups <- groups[lengths(groups) > 0]
    cols <- names(groups)
    if (!is.null(terms)) cols <- intersect(terms, cols)
    if (!is.null(exclude)) cols <- setdiff(cols, exclude)
    groups <- groups[cols]
    fit <- vapply(groups, function(j) drop(x[, j, drop = FALSE] %*% beta[j]), numeric(nrow(x)))
    fit <- matrix(fit, nrow(x), dimnames = list(rn, names(groups)))
    attr(fit, "constant") <- if (length(intercept)) unname(beta[intercept[[1]]]) else 0
    if (!se.fit) return(fit)
    v <- coefficient_covariance(object, unconditional)
    centred <- if (type == "iterms") iterms_columns(object, iterms.type) else NULL
    se <- vapply(names(groups), function(label) {
      j <- groups[[label]]
      sm <- object$smooth[[label]]
      if (!is.null(centred) && !is.null(sm) && isTRUE(sm$centred)) {
        # mgcv's "iterms": the smooth's columns with every other column at its mean,
        # so that the uncertainty of the intercept (the overall level) is included.
        x1 <- matrix(centred, nrow(x), ncol(x), byrow = TRUE)
        x1[, j] <- x[, j]
        return(sqrt(pmax(0, rowSums((x1 %*% v) * x1))))
      }
      xj <- x[, j, drop = FALSE]
      sqrt(pmax(0, rowSums((xj %*% v[j, j, drop = FALSE]) * xj)))
    }, numeric(nrow(x)))
    se <- matrix(se, nrow(x), dimnames = list(rn, names(groups)))
    return(list(fit = fit, se.fit = se))
  }
  eta <- drop(x %*% beta) + mm$offset
  names(eta) <- rn
  if (type == "response" && is.function(object$family$predict_response)) {
    # The families whose response-scale prediction is not the inverse link (ocat()'s
    # class probabilities, ziP()'s expected counts), as mgcv's predict().
    if (!se.fit) return(object$family$predict_response(eta))
    se <- sqrt(rowSums((x %*% coefficient_covariance(object, unconditional)) * x))
    return(object$family$predict_response(eta, se))
  }
  response <- type == "response" && object$family$link != "identity"
  fit <- if (response) object$family$linkinv(eta) else eta
  names(fit) <- rn
  if (!se.fit) return(fit)
  se <- sqrt(rowSums((x %*% coefficient_covariance(object, unconditional)) * x))
  # On the response scale by the delta method, as mgcv's predict.gam.
  if (response) se <- se * abs(object$family$mu.eta(eta))
  names(se) <- rn
  list(fit = fit, se.fit = se)
}

# The model matrix columns set to zero by `terms` and `exclude`, as mgcv's
# predict.gam: a term's columns when it is excluded or `terms` is given without it
# (the intercept likewise, by its label "(Intercept)").
dropped_columns <- function(groups, intercept, p, terms, exclude) {
  dropped <- logical(p)
  if (is.null(terms) && is.null(exclude)) return(dropped)
  out <- function(label) label %in% exclude || (!is.null(terms) && !label %in% terms)
  if (length(intercept) && out("(Intercept)")) dropped[intercept] <- TRUE
  for (label in names(groups)) if (out(label)) dropped[groups[[label]]] <- TRUE
  dropped
}

# The row of column means mgcv's "iterms" standard errors put beside a smooth's own
# columns: the means of the fitting model matrix (for `iterms.type = 2` those of the
# parametric columns only).
iterms_columns <- function(object, iterms.type) {
  means <- colMeans(model_matrix_at(object, object$model)$x)
  if (identical(as.numeric(iterms.type), 2)) means[-seq_len(object$n_parametric)] <- 0
  means
}

check_term_labels <- function(x, arg, labels) {
  if (is.null(x)) return(invisible())
  if (!is.character(x) || anyNA(x)) abort(sprintf("`%s` must be a character vector of term labels.", arg), "argument")
  unknown <- setdiff(x, labels)
  if (length(unknown)) {
    abort(sprintf(
      "`%s` names \"%s\", which is not a term of the model; its terms are %s.",
      arg, unknown[[1]], paste0("\"", labels, "\"", collapse = ", ")
    ), "argument")
  }
  invisible()
}

# The name of a na.action (a function or its name), one of those predict() takes.
na_action_name <- function(na.action) {
  known <- list(na.pass = stats::na.pass, na.omit = stats::na.omit, na.exclude = stats::na.exclude,
                na.fail = stats::na.fail)
  name <- if (is.character(na.action) && length(na.action) == 1L) {
    na.action
  } else if (is.function(na.action)) {
    names(Filter(function(f) identical(f, na.action), known))[1]
  }
  if (is.null(name) || is.na(name) || !name %in% names(known)) {
    abort("`na.action` must be one of na.pass, na.omit, na.exclude and na.fail (a function or its name).",
          "argument")
  }
  name
}

# Which rows of `newdata` have every variable the model uses, after applying the
# na.action: attribute `pad` says whether dropped rows come back as NA (na.pass, as
# mgcv's predict.gam, whose "na.exclude" and "na.omit" both drop them).
# A list of variables as a data frame, matrices kept whole as matrix columns (the
# covariates of linear functional terms), not split into one column each.
list_frame <- function(x) {
  out <- data.frame(row.names = seq_len(max(vapply(x, NROW, 1L))))
  for (name in names(x)) out[[name]] <- x[[name]]
  out
}

complete_newdata_rows <- function(object, newdata, na_action) {
  needed <- intersect(model_variables(object), names(newdata))
  keep <- if (length(needed)) stats::complete.cases(newdata[needed]) else rep(TRUE, nrow(newdata))
  if (!all(keep) && na_action == "na.fail") {
    has_na <- needed[vapply(needed, function(v) anyNA(newdata[[v]]), logical(1))]
    abort(sprintf("`newdata` has missing values in `%s` and `na.action` is na.fail.", has_na[[1]]), "newdata")
  }
  structure(keep, pad = na_action == "na.pass")
}

# The variables a fit's predictions need (parametric, smooth covariates, `by`).
model_variables <- function(object) {
  unique(c(
    all.vars(stats::delete.response(object$pterms)),
    unlist(lapply(object$smooth, function(sm) c(sm$term, smooth_by_name(sm))))
  ))
}

# The blocks' predictions in one object of the same shape.
combine_blocks <- function(parts) {
  if (length(parts) == 1L) return(parts[[1]])
  bind <- function(items) {
    if (is.matrix(items[[1]])) {
      out <- do.call(rbind, items)
      attr(out, "constant") <- attr(items[[1]], "constant")
      out
    } else {
      unlist(unname(items))
    }
  }
  if (is.list(parts[[1]]) && !is.matrix(parts[[1]])) {
    return(list(fit = bind(lapply(parts, `[[`, "fit")), se.fit = bind(lapply(parts, `[[`, "se.fit"))))
  }
  bind(parts)
}

# Predictions for the kept rows, with NA rows where `keep` is FALSE (mgcv's
# napredict() for na.exclude).
pad_rows <- function(out, keep, rn) {
  pad <- function(v) {
    if (is.matrix(v)) {
      full <- matrix(NA_real_, length(keep), ncol(v), dimnames = list(rn, colnames(v)))
      full[keep, ] <- v
      for (a in setdiff(names(attributes(v)), c("dim", "dimnames"))) attr(full, a) <- attr(v, a)
      if (!is.null(attr(v, "model.offset"))) {
        offset <- rep(NA_real_, length(keep))
        offset[keep] <- attr(v, "model.offset")
        attr(full, "model.offset") <- offset
      }
      full
    } else {
      full <- rep(NA_real_, length(keep))
      full[keep] <- v
      names(full) <- rn
      full
    }
  }
  if (is.list(out) && !is.matrix(out)) return(list(fit = pad(out$fit), se.fit = pad(out$se.fit)))
  pad(out)
}

#' @rdname predict.warmgam
#' @export
model.matrix.warmgam <- function(object, ...) {
  # As mgcv's model.matrix.gam: other arguments (`newdata`, `exclude`, ...) go to
  # predict(), which refuses those it does not take.
  predict.warmgam(object, type = "lpmatrix", ...)
}
