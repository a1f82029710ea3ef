# broom's tidiers for warmgam fits: tidy(), glance() and augment(), with the columns
# and numbers broom's tidy.gam(), glance.gam() and augment.gam() give for the same
# mgcv fit. The generics are those of the 'generics' package (which broom
# re-exports); the methods are registered when it is loaded (R/register.R).

# A data frame as a tibble when tibble is installed (it is wherever broom is).
as_tidy_frame <- function(df) {
  rownames(df) <- NULL
  if (requireNamespace("tibble", quietly = TRUE)) tibble::as_tibble(df) else df
}

#' Tidy a warmgam fit (broom)
#'
#' Methods for broom's generics `tidy()`, `glance()` and `augment()` (from the
#' 'generics' package, which broom re-exports), registered when that package is
#' loaded. They give what broom gives for the same model fitted by `mgcv::gam()`.
#'
#' @param x A `warmgam` fit, or for `tidy()` and `glance()` a fit of a general
#'   family or a Cox model ([warmgam_general], [warmgam_cox]).
#' @param parametric `FALSE`: one row per smooth term (`term`, `edf`, `ref.df`,
#'   `statistic`, `p.value`, the smooth table of [summary.warmgam()]); `TRUE`: one
#'   row per parametric coefficient (`term`, `estimate`, `std.error`, `statistic`,
#'   `p.value`).
#' @param conf.int With `parametric = TRUE`, add Wald confidence limits `conf.low`
#'   and `conf.high` from the Bayesian covariance (as `confint.default()` of an mgcv
#'   fit); only for parametric terms.
#' @param conf.level The confidence level of `conf.int`.
#' @param exponentiate With `parametric = TRUE`, exponentiate the estimates (and
#'   confidence limits), as for log or logit links; only for parametric terms.
#' @param data For `augment()`: the data the model was fitted to, one row per
#'   observation used (rows dropped for missing values may be included; they are
#'   dropped again); by default the model frame.
#' @param newdata For `augment()`: a data frame to predict at instead; the result
#'   then has `.fitted` and `.se.fit` only.
#' @param type.predict For `augment()`: the scale of `.fitted` and `.se.fit`,
#'   `"link"` or `"response"`, as in [predict.warmgam()].
#' @param type.residuals For `augment()`: the type of `.resid`, as in
#'   [residuals()][warmgam-methods].
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns A tibble (a data frame when tibble is not installed). `tidy()`: one row
#'   per term; `glance()`: one row with `df` (the total effective degrees of
#'   freedom), `logLik`, `AIC`, `BIC`, `deviance`, `df.residual`, `nobs`,
#'   `adj.r.squared` and `npar` (the number of coefficients; these two not for a
#'   general family or Cox model, as broom's for mgcv's); `augment()`: `data` (or
#'   `newdata`) with columns `.fitted`, `.se.fit` and, for the fitting data, `.resid`,
#'   `.hat` (the leverages) and `.cooksd` (Cook's distances; see
#'   [hatvalues()][warmgam-influence]).
#' @examplesIf requireNamespace("generics", quietly = TRUE)
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + am, data = mtcars)
#' generics::tidy(fit)
#' generics::tidy(fit, parametric = TRUE, conf.int = TRUE)
#' generics::glance(fit)
#' head(generics::augment(fit))
#' generics::augment(fit, newdata = data.frame(hp = c(100, 200), am = 1))
#' \dontshow{options(op)}
#' @name warmgam-broom
NULL

#' @rdname warmgam-broom
tidy.warmgam <- function(x, parametric = FALSE, conf.int = FALSE, conf.level = 0.95,
                         exponentiate = FALSE, ...) {
  check_dots_empty("tidy", ...)
  tidy_tables(summary.warmgam(x), parametric, conf.int, conf.level, exponentiate)
}

# tidy()'s rows from a summary's smooth table (`parametric = FALSE`) or parametric
# table, as broom's tidy.gam() gives them.
tidy_tables <- function(s, parametric, conf.int, conf.level, exponentiate) {
  check_flag(parametric, "parametric")
  check_flag(conf.int, "conf.int")
  check_number(conf.level, "conf.level", lower = 0, upper = 1)
  check_flag(exponentiate, "exponentiate")
  if (!parametric) {
    if (conf.int || exponentiate) {
      abort(sprintf(
        "`%s = TRUE` applies to parametric terms only; use `parametric = TRUE`.",
        if (conf.int) "conf.int" else "exponentiate"
      ), "argument")
    }
    st <- s$s.table
    if (is.null(st)) st <- matrix(numeric(), 0L, 4L)
    return(as_tidy_frame(data.frame(
      term = rownames(st) %||% character(), edf = st[, 1], ref.df = st[, 2], statistic = st[, 3],
      p.value = st[, 4], stringsAsFactors = FALSE
    )))
  }
  pt <- s$p.table
  if (is.null(pt)) pt <- matrix(numeric(), 0L, 4L)
  out <- data.frame(
    term = rownames(pt) %||% character(), estimate = pt[, 1], std.error = pt[, 2], statistic = pt[, 3],
    p.value = pt[, 4], stringsAsFactors = FALSE
  )
  if (conf.int) {
    z <- stats::qnorm((1 + conf.level) / 2)
    out$conf.low <- out$estimate - z * out$std.error
    out$conf.high <- out$estimate + z * out$std.error
  }
  if (exponentiate) {
    cols <- intersect(c("estimate", "conf.low", "conf.high"), names(out))
    out[cols] <- lapply(out[cols], exp)
  }
  as_tidy_frame(out)
}

#' @rdname warmgam-broom
glance.warmgam <- function(x, ...) {
  check_dots_empty("glance", ...)
  ll <- logLik.warmgam(x)
  s <- summary.warmgam(x)
  as_tidy_frame(data.frame(
    df = sum(x$edf), logLik = as.numeric(ll), AIC = stats::AIC(x), BIC = stats::BIC(x),
    deviance = x$deviance, df.residual = x$df.residual, nobs = nobs.warmgam(x),
    adj.r.squared = s$r.sq, npar = length(x$coefficients)
  ))
}

#' @rdname warmgam-broom
tidy.warmgam_general <- function(x, parametric = FALSE, conf.int = FALSE, conf.level = 0.95,
                                 exponentiate = FALSE, ...) {
  check_dots_empty("tidy", ...)
  tidy_tables(summary.warmgam_general(x), parametric, conf.int, conf.level, exponentiate)
}

#' @rdname warmgam-broom
glance.warmgam_general <- function(x, ...) {
  check_dots_empty("glance", ...)
  ll <- stats::logLik(x)
  # (As broom's glance.gam() of mgcv's fit of these families: the residual degrees
  # of freedom are the rows less the total edf; no adjusted r-squared or npar.)
  as_tidy_frame(data.frame(
    df = sum(x$edf), logLik = as.numeric(ll), AIC = stats::AIC(x), BIC = stats::BIC(x),
    deviance = x$deviance, df.residual = NROW(x$y) - sum(x$edf), nobs = stats::nobs(x)
  ))
}

#' @rdname warmgam-broom
augment.warmgam <- function(x, data = NULL, newdata = NULL, type.predict = "link",
                            type.residuals = "deviance", ...) {
  check_dots_empty("augment", ...)
  check_choice(type.predict, "type.predict", c("link", "response"))
  check_choice(type.residuals, "type.residuals", c("deviance", "pearson", "working", "response"))
  if (!is.null(newdata)) {
    if (!is.data.frame(newdata)) abort("`newdata` must be a data frame.", "newdata")
    if (!is.null(data)) abort("Give `data` or `newdata`, not both.", "argument")
    p <- predict.warmgam(x, newdata, type = type.predict, se.fit = TRUE)
    out <- newdata
    out$.fitted <- unname(p$fit)
    out$.se.fit <- unname(p$se.fit)
    return(as_tidy_frame(out))
  }
  # A na.exclude fit given all the rows of its data keeps them, with NA values for
  # those it dropped (as broom does for such fits).
  excluded <- inherits(x$na.action, "exclude") && is.data.frame(data) &&
    nrow(data) == length(x$y) + length(x$na.action)
  out <- if (excluded) data else augment_data(x, data)
  pad <- function(v) unname(if (excluded) pad_excluded(x, v) else v)
  p <- predict.warmgam(x, newdata = x$model, type = type.predict, se.fit = TRUE)
  out$.fitted <- pad(p$fit)
  out$.se.fit <- pad(p$se.fit)
  out$.resid <- pad(fit_residuals(x, type = type.residuals))
  out$.hat <- pad(leverages(x))
  # Cook's distance needs Pearson residuals, which ocat() and ziP() do not define
  # (as in mgcv): NA there, as broom gives for what a model cannot compute.
  out$.cooksd <- if (is.function(x$family$predict_response)) NA_real_ else pad(cooks_distance(x))
  as_tidy_frame(out)
}

# The rows of `data` the fit used: the model frame when `data` is NULL; `data` as
# given when it has one row per observation, or without the rows dropped for
# missing values when it is the data the fit started from.
augment_data <- function(x, data) {
  n <- length(x$y)
  if (is.null(data)) {
    mf <- x$model
    attr(mf, "terms") <- NULL
    return(as.data.frame(mf))
  }
  if (!is.data.frame(data)) abort("`data` must be a data frame.", "argument")
  if (nrow(data) == n) return(data)
  dropped <- x$na.action
  if (!is.null(dropped) && nrow(data) == n + length(dropped)) return(data[-as.integer(dropped), , drop = FALSE])
  abort(sprintf(
    "`data` has %d rows; it must be the data the model was fitted to (%d rows used%s).",
    nrow(data), n, if (is.null(dropped)) "" else sprintf(", %d dropped for missing values", length(dropped))
  ), "argument")
}
