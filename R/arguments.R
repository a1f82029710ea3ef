# Argument checks shared by the exported functions. Each failure is a classed
# condition (`warmgam_error_<what>`) whose message names the argument and the fix.

abort <- function(message, what) {
  cond <- structure(
    class = c(paste0("warmgam_error_", what), "warmgam_error", "error", "condition"),
    list(message = message, call = user_call())
  )
  stop(cond)
}

# A warning reported against the user's call.
warn <- function(message) {
  warning(simpleWarning(message, user_call()))
}

# The functions a user calls; an error reports the outermost such call on the stack
# (`gam_fit(...)`, not the internal helper that found the problem).
user_facing <- c(
  "gam_fit", "gam_control", "s", "gam_cache_info", "gam_cache_clear", "predict",
  "residuals", "resid", "vcov", "model.matrix", "summary", "logLik", "AIC", "BIC",
  "coef", "coefficients", "fitted", "fitted.values", "nobs", "formula", "family", "print",
  "anova", "autoplot", "hatvalues", "influence", "cooks.distance", "weights", "simulate",
  "tidy", "glance", "augment", "gam_vcomp", "emmeans", "emtrends", "ref_grid"
)

user_call <- function() {
  calls <- sys.calls()
  named <- function(cl) {
    is.call(cl) && (is.symbol(cl[[1]]) && as.character(cl[[1]]) %in% user_facing ||
      is.call(cl[[1]]) && identical(as.character(cl[[1]][[1]]), "::") && as.character(cl[[1]][[3]]) %in% user_facing)
  }
  Find(named, calls) %||% sys.call(-2)
}

check_flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    abort(sprintf("`%s` must be TRUE or FALSE.", arg), "argument")
  }
  invisible(x)
}

check_number <- function(x, arg, lower = -Inf, upper = Inf) {
  if (!is.numeric(x) || length(x) != 1L || !is.finite(x) || x < lower || x > upper) {
    abort(sprintf("`%s` must be a single finite number in [%s, %s].", arg, lower, upper), "argument")
  }
  invisible(x)
}

check_choice <- function(x, arg, choices) {
  if (!is.character(x) || length(x) != 1L || !x %in% choices) {
    abort(sprintf(
      "`%s` must be one of %s, not %s.", arg,
      paste0('"', choices, '"', collapse = ", "),
      if (is.character(x) && length(x) == 1L) paste0('"', x, '"') else "that"
    ), "argument")
  }
  invisible(x)
}

# Arguments passed through a method's `...` that it does not use are errors naming
# them (R's chkDots() only warns), so that none is silently ignored. `allowed` names
# the ones the method takes on (for instance print()'s `digits`).
check_dots_empty <- function(fn, ..., allowed = character()) {
  n <- ...length()
  if (n == 0L) return(invisible())
  names <- ...names() %||% rep("", n)
  unused <- names[!names %in% allowed | !nzchar(names)]
  if (length(unused) == 0L) return(invisible())
  what <- if (nzchar(unused[[1]])) sprintf("has no argument `%s`", unused[[1]]) else "takes no unnamed argument"
  abort(sprintf("`%s()` for a warmgam object %s; remove it.", fn, what), "argument")
}
