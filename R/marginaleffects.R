# marginaleffects support for warmgam fits, as its "Extensions" vignette asks of a
# new model class: methods for get_coef(), set_coef(), get_vcov() and
# get_predict(), and the class named in option `marginaleffects_model_classes`.
# marginaleffects cannot be installed where warmgam is developed, so these are
# tested by calling them directly (tests/testthat/test-marginaleffects.R), not
# through marginaleffects. Registered when marginaleffects loads (R/register.R).

#' warmgam fits in marginaleffects
#'
#' When marginaleffects is loaded, warmgam registers the four methods its
#' "Extensions" vignette asks of a new model class, and adds `"warmgam"` to option
#' `marginaleffects_model_classes`: `get_coef()` (the coefficients), `set_coef()`
#' (a copy of the fit with other coefficients, for marginaleffects' delta method),
#' `get_vcov()` (the Bayesian covariance `Vp`, as for an mgcv fit) and
#' `get_predict()` (predictions at `newdata` on the scale `type`, `"response"` or
#' `"link"`, from [predict.warmgam()]).
#'
#' @param model A `warmgam` fit.
#' @param coefs For `set_coef()`: new coefficients, named as `coef(model)` (those
#'   named replace theirs) or unnamed and complete.
#' @param vcov For `get_vcov()`: `NULL` or `TRUE` for `Vp`, or a covariance matrix
#'   to use instead.
#' @param newdata,type For `get_predict()`: the data to predict at and the scale.
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns `get_coef()`: a named vector; `set_coef()`: a `warmgam` fit;
#'   `get_vcov()`: a matrix; `get_predict()`: a data frame with `rowid` and
#'   `estimate`.
#' @name warmgam-marginaleffects
#' @keywords internal
NULL

#' @rdname warmgam-marginaleffects
get_coef.warmgam <- function(model, ...) {
  check_dots_empty("get_coef", ...)
  model$coefficients
}

#' @rdname warmgam-marginaleffects
set_coef.warmgam <- function(model, coefs, ...) {
  check_dots_empty("set_coef", ...)
  b <- model$coefficients
  if (!is.numeric(coefs) || anyNA(coefs)) abort("`coefs` must be numeric, without missing values.", "argument")
  if (is.null(names(coefs))) {
    if (length(coefs) != length(b)) {
      abort(sprintf("Unnamed `coefs` must have one value per coefficient (%d).", length(b)), "argument")
    }
    b[] <- coefs
  } else {
    unknown <- setdiff(names(coefs), names(b))
    if (length(unknown)) abort(sprintf("`coefs` names `%s`, which is not a coefficient.", unknown[[1]]), "argument")
    b[names(coefs)] <- coefs
  }
  model$coefficients <- b
  model
}

#' @rdname warmgam-marginaleffects
get_vcov.warmgam <- function(model, vcov = NULL, ...) {
  check_dots_empty("get_vcov", ...)
  if (is.null(vcov) || isTRUE(vcov)) return(model$Vp)
  p <- length(model$coefficients)
  if (!is.matrix(vcov) || !identical(dim(vcov), c(p, p))) {
    abort(sprintf("`vcov` must be NULL, TRUE or a %d x %d covariance matrix.", p, p), "argument")
  }
  vcov
}

#' @rdname warmgam-marginaleffects
get_predict.warmgam <- function(model, newdata = model$model, type = "response", ...) {
  check_dots_empty("get_predict", ...)
  check_choice(type, "type", c("response", "link"))
  p <- predict.warmgam(model, newdata = newdata, type = type)
  rowid <- if (!is.null(newdata[["rowid"]])) newdata[["rowid"]] else seq_len(NROW(newdata))
  data.frame(rowid = rowid, estimate = as.numeric(p))
}

# Adds "warmgam" to marginaleffects' list of classes it accepts.
add_marginaleffects_class <- function(...) {
  classes <- getOption("marginaleffects_model_classes")
  if (!"warmgam" %in% classes) options(marginaleffects_model_classes = c(classes, "warmgam"))
}
