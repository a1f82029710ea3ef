# Argument checks shared by the exported functions. Each failure is a classed
# condition (`warmgam_error_<what>`) whose message names the argument and the fix.

abort <- function(message, what, call = parent.frame()) {
  cond <- structure(
    class = c(paste0("warmgam_error_", what), "warmgam_error", "error", "condition"),
    list(message = message, call = sys.call(-1))
  )
  stop(cond)
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
