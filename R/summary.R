# summary() of a warmgam fit: parametric coefficient table, smooth term tests,
# R-squared and deviance explained, as mgcv's summary.gam().

# P(sum_i lambda_i chi^2_{df_i} > q), by Davies' algorithm as mgcv computes it
# (R/davies.R); should it fail to converge, by Imhof's (1961, Biometrika 48:419)
# inversion of the characteristic function.
psum_chisq_upper <- function(q, lambda, df = rep(1, length(lambda))) {
  keep <- lambda != 0
  lambda <- lambda[keep]
  df <- df[keep]
  if (!length(lambda)) return(as.numeric(q < 0))
  p <- tryCatch(davies_upper(q, lambda, df), error = function(e) NA_real_)
  if (!is.na(p)) return(min(1, max(0, p)))
  integrand <- function(u) {
    theta <- 0.5 * colSums(df * atan(outer(lambda, u))) - 0.5 * q * u
    rho <- exp(colSums(df / 4 * log1p(outer(lambda^2, u^2))))
    sin(theta) / (u * rho)
  }
  val <- stats::integrate(integrand, 0, Inf, subdivisions = 2000L, rel.tol = 1e-10,
                          stop.on.error = FALSE)$value
  min(1, max(0, 0.5 + val / pi))
}

# p-value of one smooth term from the engine's statistics (see fit/term_tests.rs).
smooth_p_value <- function(test, res_df, scale_known = FALSE) {
  if (scale_known) {
    # No scale uncertainty: the statistics' own (mixture of) chi-squared references.
    p <- if (length(test$weights)) {
      if (test$kind == "random") {
        psum_chisq_upper(test$stat, test$weights)
      } else {
        (psum_chisq_upper(test$stat, test$weights) + psum_chisq_upper(test$stat1, test$weights)) / 2
      }
    } else {
      r1 <- test$rank1
      (stats::pchisq(test$stat, r1, lower.tail = FALSE) + stats::pchisq(test$stat1, r1, lower.tail = FALSE)) / 2
    }
    return(min(1, p))
  }
  k0 <- max(1, round(res_df))
  mixture <- function(d) psum_chisq_upper(0, c(test$weights, -d / k0), c(rep(1, length(test$weights)), k0))
  p <- if (test$kind == "random") {
    mixture(test$stat)
  } else if (length(test$weights)) {
    (mixture(test$stat) + mixture(test$stat1)) / 2
  } else {
    r1 <- test$rank1
    (stats::pf(test$stat / r1, r1, res_df, lower.tail = FALSE) +
      stats::pf(test$stat1 / r1, r1, res_df, lower.tail = FALSE)) / 2
  }
  min(1, p)
}

#' Summarize a warmgam fit
#'
#' The tables of mgcv's `summary.gam()`: parametric coefficients with t tests, and
#' for each smooth its effective degrees of freedom, reference degrees of freedom,
#' F statistic and approximate p-value (Wood 2013, Biometrika 100:221-228; fully
#' penalized terms such as cyclic splines use Wood 2013, Biometrika 100:1005-1010),
#' plus adjusted R-squared, deviance explained, the criterion, scale and n.
#'
#' @param object A `warmgam` fit.
#' @param x A `summary.warmgam` object.
#' @param digits Significant digits to print.
#' @param ... Nothing: an argument passed through it is an error naming it.
#' @returns `summary()`: an object of class `summary.warmgam` with `p.table`,
#'   `s.table`, `r.sq`, `dev.expl`, `residual.df`, `scale`, `n` and the criterion;
#'   `print()`: its argument, invisibly.
#' @examples
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + am, data = mtcars)
#' summary(fit)
#' \dontshow{options(op)}
#' @export
summary.warmgam <- function(object, ...) {
  check_dots_empty("summary", ...)
  rdf <- object$df.residual
  np <- object$n_parametric
  beta <- object$coefficients
  se <- sqrt(diag(object$Vp))
  p_table <- NULL
  if (np > 0) {
    idx <- seq_len(np)
    tval <- beta[idx] / se[idx]
    p_table <- if (object$scale.estimated) {
      cbind(
        Estimate = beta[idx], `Std. Error` = se[idx], `t value` = tval,
        `Pr(>|t|)` = 2 * stats::pt(abs(tval), rdf, lower.tail = FALSE)
      )
    } else {
      cbind(
        Estimate = beta[idx], `Std. Error` = se[idx], `z value` = tval,
        `Pr(>|z|)` = 2 * stats::pnorm(abs(tval), lower.tail = FALSE)
      )
    }
  }
  s_table <- NULL
  if (length(object$smooth)) {
    s_table <- t(vapply(seq_along(object$smooth), function(i) {
      sm <- object$smooth[[i]]
      test <- object$term_tests[[i]]
      stat <- if (object$scale.estimated) test$stat / test$rank else test$stat
      c(edf = sum(object$edf[sm$first:sm$last]), Ref.df = test$rank,
        F = stat, `p-value` = smooth_p_value(test, rdf, !object$scale.estimated))
    }, numeric(4)))
    if (!object$scale.estimated) colnames(s_table)[[3]] <- "Chi.sq"
    rownames(s_table) <- names(object$smooth)
  }
  w <- prior_weights(object)
  y <- object$y
  n <- length(y)
  ybar <- sum(w * y) / sum(w)
  r_sq <- 1 - stats::var(sqrt(w) * (y - object$fitted.values)) * (n - 1) /
    (stats::var(sqrt(w) * (y - ybar)) * rdf)
  structure(
    list(
      p.table = p_table, s.table = s_table, r.sq = r_sq,
      dev.expl = (object$null.deviance - object$deviance) / object$null.deviance,
      residual.df = rdf, scale = object$scale, n = nobs(object),
      criterion = object$criterion, method = object$method,
      family = object$family, formula = object$formula, mgcv_built = mgcv_built_terms_line(object)
    ),
    class = "summary.warmgam"
  )
}

#' @rdname summary.warmgam
#' @export
print.summary.warmgam <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots_empty("print", ...)
  cat("\nFamily:", x$family$family, "\nLink function:", x$family$link, "\n\nFormula:\n")
  print(x$formula)
  print_coefficient_tables(x, digits)
  cat(sprintf("\nR-sq.(adj) = %s   Deviance explained = %s%%\n",
              formatC(x$r.sq, digits = 3, format = "f"), formatC(100 * x$dev.expl, digits = 1, format = "f")))
  lab <- if (prediction_error(x$method)) sub(".Cp", "", x$method, fixed = TRUE) else paste0("-", x$method)
  cat(sprintf("%s = %s  Scale est. = %s  n = %d\n", lab, format(unname(x$criterion), digits = 5),
              format(x$scale, digits = 5), x$n))
  if (!is.null(x$mgcv_built)) cat(x$mgcv_built, "\n", sep = "")
  invisible(x)
}

# The parametric coefficients' and the smooth terms' tables of a summary, as
# mgcv's print.summary.gam() prints them.
print_coefficient_tables <- function(x, digits) {
  if (!is.null(x$p.table)) {
    cat("\nParametric coefficients:\n")
    stats::printCoefmat(x$p.table, digits = digits, signif.stars = TRUE, na.print = "NA")
  }
  if (!is.null(x$s.table)) {
    cat("\nApproximate significance of smooth terms:\n")
    stats::printCoefmat(x$s.table, digits = digits, has.Pvalue = TRUE, na.print = "NA",
                        cs.ind = 1, signif.stars = TRUE)
  }
}

# Which terms mgcv's constructor built (classes warmgam has no native code for), as
# a line for print() and summary(); NULL when none.
mgcv_built_terms_line <- function(fit) {
  built <- Filter(function(sm) identical(sm$class, "mgcv"), fit$smooth)
  if (!length(built)) return(NULL)
  what <- vapply(built, function(sm) sprintf("%s (%s)", sm$label, sm$mgcv$warmgam_class %||% class(sm$mgcv)[[1]]), "")
  paste("Built by mgcv's smoothCon():", paste(what, collapse = ", "))
}
