# anova(): Wald tests of each term of a fit, or a comparison of nested fits, as
# mgcv's anova.gam().

#' Analysis of deviance for warmgam fits
#'
#' With one fit: an approximate Wald test of each term, as mgcv's `anova.gam()`. A
#' parametric term's coefficients `b` (with Bayesian covariance `V`) give
#' `b' V^-1 b` on its number of coefficients, referred to an F distribution on the
#' residual degrees of freedom; smooth terms get the tests of [summary.warmgam()].
#' With several fits of nested models: each fit's residual degrees of freedom and
#' deviance, and tests of the differences between consecutive fits.
#'
#' @param object A `warmgam` fit.
#' @param ... Further `warmgam` fits, for a comparison.
#' @param test For a comparison: `"Chisq"` (the deviance difference over the scale of
#'   the fit with the fewest residual degrees of freedom, as a chi-squared) or `"F"`.
#' @param x An `anova.warmgam` object.
#' @param digits Significant digits of the printed tables.
#' @returns One fit: an object of class `anova.warmgam` with `pTerms.table` (`df`,
#'   `F`, `p-value` per parametric term) and `s.table`. Several: a data frame of
#'   class `anova` with `Resid. Df`, `Resid. Dev`, `Df`, `Deviance` and the test.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' small <- gam_fit(mpg ~ s(hp, k = 8), data = mtcars)
#' large <- gam_fit(mpg ~ s(hp, k = 8) + s(wt, k = 8) + factor(cyl), data = mtcars)
#' anova(large)
#' anova(small, large, test = "Chisq")
#' \dontshow{options(op)}
#' @export
anova.warmgam <- function(object, ..., test = "Chisq") {
  others <- list(...)
  if (length(others)) {
    fits <- c(list(object), others)
    if (!all(vapply(fits, inherits, logical(1), "warmgam"))) {
      abort("Every model compared by `anova()` must be a fit made by `gam_fit()`.", "argument")
    }
    check_choice(test, "test", c("Chisq", "F"))
    return(compare_fits(fits, test))
  }
  sm <- summary.warmgam(object)
  structure(
    list(formula = object$formula, family = object$family, pTerms.table = parametric_tests(object),
         s.table = sm$s.table),
    class = "anova.warmgam"
  )
}

# Wald tests of each parametric term (all its columns at once).
parametric_tests <- function(object) {
  labels <- attr(object$pterms, "term.labels")
  if (!length(labels)) return(NULL)
  beta <- object$coefficients
  rdf <- object$df.residual
  rows <- lapply(seq_along(labels), function(i) {
    cols <- which(object$assign == i)
    b <- beta[cols]
    v <- object$Vp[cols, cols, drop = FALSE]
    stat <- drop(crossprod(b, solve(v, b)))
    df <- length(cols)
    # A known scale (binomial, Poisson) gives chi-squared tests, as anova.gam.
    if (object$scale.estimated) {
      c(df, stat / df, stats::pf(stat / df, df, rdf, lower.tail = FALSE))
    } else {
      c(df, stat, stats::pchisq(stat, df, lower.tail = FALSE))
    }
  })
  table <- do.call(rbind, rows)
  dimnames(table) <- list(labels, c("df", if (object$scale.estimated) "F" else "Chi.sq", "p-value"))
  table
}

compare_fits <- function(fits, test) {
  # As mgcv's anova.gam: the residual df counts each fit's edf1, corrected by the
  # extra degrees of freedom of smoothing-parameter uncertainty (edf2 - edf).
  rdf <- vapply(fits, function(f) {
    correction <- if (is.null(f$edf2)) 0 else sum(f$edf2) - sum(f$edf)
    length(f$y) - sum(f$edf1) - correction
  }, numeric(1))
  dev <- vapply(fits, function(f) f$deviance, numeric(1))
  n <- vapply(fits, function(f) length(f$y), numeric(1))
  if (length(unique(n)) > 1L) {
    abort("The fits compared by `anova()` must use the same observations.", "argument")
  }
  # The scale of the largest model (fewest residual degrees of freedom).
  big <- which.min(rdf)
  scale <- fits[[big]]$scale
  df <- c(NA, -diff(rdf))
  ddev <- c(NA, -diff(dev))
  table <- data.frame(`Resid. Df` = rdf, `Resid. Dev` = dev, Df = df, Deviance = ddev,
                      check.names = FALSE, row.names = paste("Model", seq_along(fits)))
  if (test == "Chisq") {
    table[["Pr(>Chi)"]] <- c(NA, stats::pchisq(abs(ddev[-1]) / scale, abs(df[-1]), lower.tail = FALSE))
  } else {
    f <- (ddev / df) / scale
    table$F <- f
    table[["Pr(>F)"]] <- c(NA, stats::pf(abs(f[-1]), abs(df[-1]), rdf[big], lower.tail = FALSE))
  }
  heading <- c("Analysis of Deviance Table\n",
               paste0("Model ", seq_along(fits), ": ",
                      vapply(fits, function(f) deparse_one(f$formula), ""), collapse = "\n"))
  structure(table, heading = heading, class = c("anova", "data.frame"))
}

#' @rdname anova.warmgam
#' @export
print.anova.warmgam <- function(x, digits = 4, ...) {
  check_dots_empty("print", ...)
  cat("\nFamily:", x$family$family, "\nLink function:", x$family$link, "\n\nFormula:\n")
  print(x$formula)
  if (!is.null(x$pTerms.table)) {
    cat("\nParametric Terms:\n")
    stats::printCoefmat(x$pTerms.table, digits = digits, has.Pvalue = TRUE, P.values = TRUE, cs.ind = NULL)
  }
  if (!is.null(x$s.table)) {
    cat("\nApproximate significance of smooth terms:\n")
    stats::printCoefmat(x$s.table, digits = digits, has.Pvalue = TRUE, P.values = TRUE, cs.ind = NULL)
  }
  invisible(x)
}
