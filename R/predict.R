# predict() and the model matrix at new data.

# The model matrix (parametric columns, then each smooth's columns) and the formula
# offset at `data`, a data frame of covariates.
model_matrix_at <- function(object, data) {
  needed <- unique(c(
    all.vars(stats::delete.response(object$pterms)),
    unlist(lapply(object$smooth, function(sm) c(sm$term, if (sm$by_name != "NA") sm$by_name)))
  ))
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
  offset <- stats::model.offset(mf) %||% rep(0, nrow(xp))
  blocks <- lapply(object$smooth, function(sm) {
    vars <- switch(sm$class,
      re = random_effect_codes(sm, data),
      fs = factor_smooth_vars(sm, data),
      lapply(sm$term, function(v) as.double(data[[v]]))
    )
    by <- NULL
    if (sm$by_name != "NA") {
      byv <- data[[sm$by_name]]
      by <- if (is.null(sm$by_level)) as.double(byv) else as.double(as.character(byv) == sm$by_level)
    }
    engine_result(smooth_matrix_impl(sm$label, sm$class, sm$state, vars, by), "newdata")
  })
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

# A factor smooth's covariates at `data`: the numeric ones, then the factor's level
# codes (0 for a level the fit did not see: its curve is zero, as mgcv's).
factor_smooth_vars <- function(sm, data) {
  numeric_terms <- setdiff(sm$term, sm$fs_factor)
  codes <- match(as.character(data[[sm$fs_factor]]), sm$re_levels)
  codes[is.na(codes)] <- 0
  c(lapply(numeric_terms, function(v) as.double(data[[v]])), list(as.double(codes)))
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
#' @param object A `warmgam` fit.
#' @param newdata A data frame of covariate values; the fitting data when missing.
#'   A level of a random effect's factor (`s(g, bs = "re")`) that the fit did not
#'   see predicts no random effect (zero), as in mgcv; an unseen level of a
#'   parametric factor is an error.
#' @param type `"link"` (linear predictor), `"response"` (fitted mean),
#'   `"terms"` (each term's contribution, one column per term, uncentred as mgcv) or
#'   `"lpmatrix"` (the model matrix, so that `X %*% coef(object)` gives the linear
#'   predictor without offset).
#' @param se.fit Also return standard errors, from the Bayesian covariance `Vp`.
#' @param unconditional With `se.fit`, take the standard errors from `Vc`, the
#'   covariance corrected for smoothing parameter uncertainty (see [vcov.warmgam()]).
#' @param ... Unused.
#' @returns For `"link"` and `"response"`, a vector (or with `se.fit = TRUE`, a
#'   list with `fit` and `se.fit`); for `"terms"`, a matrix (or a list of matrices)
#'   with attribute `constant` (the intercept); for `"lpmatrix"`, a matrix. As in
#'   mgcv, an offset passed to `gam_fit(offset =)` is not included; a formula
#'   `offset()` term is.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + am, data = mtcars)
#' predict(fit, data.frame(hp = c(100, 200), am = 0), se.fit = TRUE)
#' head(predict(fit, type = "terms"))
#' \dontshow{options(op)}
#' @export
predict.warmgam <- function(object, newdata, type = "link", se.fit = FALSE, unconditional = FALSE, ...) {
  check_choice(type, "type", c("link", "response", "terms", "lpmatrix"))
  check_flag(se.fit, "se.fit")
  check_flag(unconditional, "unconditional")
  if (missing(newdata) || is.null(newdata)) {
    newdata <- object$model
  } else if (!is.data.frame(newdata)) {
    if (!is.list(newdata)) abort("`newdata` must be a data frame.", "newdata")
    newdata <- as.data.frame(newdata)
  }
  mm <- model_matrix_at(object, newdata)
  x <- mm$x
  beta <- object$coefficients
  if (type == "lpmatrix") {
    attr(x, "model.offset") <- mm$offset
    return(x)
  }
  rn <- row.names(newdata)
  if (type == "terms") {
    groups <- term_columns(object)
    intercept <- match("(Intercept)", names(beta))
    groups <- groups[lengths(groups) > 0]
    fit <- vapply(groups, function(j) drop(x[, j, drop = FALSE] %*% beta[j]), numeric(nrow(x)))
    fit <- matrix(fit, nrow(x), dimnames = list(rn, names(groups)))
    attr(fit, "constant") <- if (is.na(intercept)) 0 else unname(beta[intercept])
    if (!se.fit) return(fit)
    v <- coefficient_covariance(object, unconditional)
    se <- vapply(groups, function(j) {
      xj <- x[, j, drop = FALSE]
      sqrt(rowSums((xj %*% v[j, j, drop = FALSE]) * xj))
    }, numeric(nrow(x)))
    se <- matrix(se, nrow(x), dimnames = list(rn, names(groups)))
    return(list(fit = fit, se.fit = se))
  }
  eta <- drop(x %*% beta) + mm$offset
  names(eta) <- rn
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

#' @rdname predict.warmgam
#' @export
model.matrix.warmgam <- function(object, ...) {
  predict.warmgam(object, type = "lpmatrix")
}
