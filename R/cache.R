# The warm-start store as R sees it: where it is, its limits, and how a fit uses it.

#' The warm-start store
#'
#' Every [gam_fit()] fingerprints its formula, data and options, and keeps its
#' smoothing-parameter iterates in an on-disk store, so that no fit does the same work
#' twice:
#'
#' * an identical call (same engine version, data, formula and options) returns the
#'   stored result without iterating (`fit$warm_start$source == "exact"`);
#' * a fit that was interrupted (Ctrl-C, a killed process, the iteration limit)
#'   resumes from its latest checkpoint (`"resumed"`);
#' * a fit of the same model to other data (a cross-validation fold, updated or
#'   resampled data) starts from the smoothing parameters of an earlier fit of that
#'   model (`"seeded"`);
#' * otherwise the fit is `"cold"`.
#'
#' A warm start changes how fast a fit converges, never what it converges to: resumed
#' and seeded fits run the same optimizer to the same tolerance as cold ones.
#'
#' @section What is stored, and where:
#' For each fit: its log smoothing parameters, coefficients, scale, criterion value and
#' iteration count; for a converged fit also its covariance matrices, edf, term
#' statistics and its smooth terms' constructed bases, so that an exact hit need not
#' build them again. The response, the weights and the fitted values are not stored
#' (a blake3 fingerprint of every data value identifies the fit), but the bases hold
#' values derived from the covariates, and some hold covariate values themselves:
#' the knots of `"cr"`, `"cc"` and `"ps"` terms (placed at quantiles of the
#' covariate), and the knots of a thin plate spline, which are data points (every
#' distinct covariate point up to 2000 of them, else mgcv's random sample of 2000);
#' random effects and factor smooths store their number of levels. Treat a store as
#' you treat the covariates it was fitted to. The store is a directory, chosen by, in
#' order: `options(warmgam.cache_dir =)`, the environment variable
#' `WARMGAM_CACHE_DIR`, and `tools::R_user_dir("warmgam", "cache")`. Its directories
#' are created readable by their owner only.
#'
#' @section Limits:
#' `options(warmgam.cache_max_bytes =)` (default 256 MiB) bounds its size and
#' `options(warmgam.cache_max_age_days =)` (default 30) the age of its entries; the
#' oldest entries are evicted first. Eviction never makes a fit fail.
#'
#' @section Turning it off:
#' `gam_fit(cache = FALSE)` bypasses the store for one fit, `cache = "refresh"` fits
#' cold and overwrites what the store holds for that call, and
#' `options(warmgam.cache = FALSE)` turns the store off for the session. If the
#' location cannot be written (read-only, full), fits still succeed and one warning
#' per session says why the store is off.
#'
#' @section Sharing a store:
#' Several processes, and several machines on a shared filesystem, can use one store
#' at once: writes are atomic (temporary file, rename), every entry carries a
#' checksum and the key it belongs to, and damaged entries are skipped and removed.
#' Writes are not synced to the disk: after a crash an entry may be missing or
#' damaged, which makes it a miss, never a wrong answer.
#' Point every process at the same directory (`WARMGAM_CACHE_DIR` is convenient on a
#' cluster), and set `options(warmgam.cache_shared = TRUE)` so that new directories
#' are created with the usual group permissions (subject to the umask) instead of
#' owner-only.
#'
#' @section Trust:
#' A stored start is only a start: a checkpoint or a seed is brought within the reach
#' of a cold search (its log smoothing parameters within 10 of the cold start's), and
#' a search resumed from a checkpoint that ends with parameters far from the cold
#' start is compared with the point that has them back there, so a planted or stale
#' checkpoint cannot make a fit stop on the criterion's plateau. An exact hit is a stored result: it is served as
#' it is when its checksum, key, engine version and layout match, from a store that
#' only you can write to. A store that others can write to (its directory writable
#' by group or others, or owned by another user; with
#' `options(warmgam.cache_shared = TRUE)`, only a world-writable one) is untrusted,
#' as ssh treats key files:
#' one warning per session, every exact hit it serves is verified first, and its
#' checkpoints and seeds are not used (such fits start cold).
#' `gam_control(verify_warm = TRUE)` verifies exact hits of any store: the stored
#' smoothing parameters must lie where a cold search can go, one inner fit there must
#' reproduce the stored criterion and coefficients with a converged gradient, and no
#' parameter may sit on a plateau above the cold start's value; a hit that fails is
#' discarded and the fit runs cold. Files that are not regular files (FIFOs, devices),
#' links below the store's root, and files larger than any entry of the model can be
#' are never read or followed (one warning each per session).
#'
#' @param verify For `gam_cache_info()`: also read every entry and count those that
#'   fail verification (`damaged`; such entries are never used, and are removed by
#'   the next fit that comes across them).
#' @name warmgam_cache
#' @returns `gam_cache_info()`: a list with the store's `location`, number of `keys`
#'   and `entries`, total `bytes`, the times of its `oldest` and `newest` entries
#'   (`POSIXct`, `NA` when empty) and, with `verify = TRUE`, the number `damaged`. `gam_cache_clear()`: invisibly, the number of
#'   entries removed.
#' @examples
#' op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))
#' fit1 <- gam_fit(mpg ~ s(hp, k = 8), data = mtcars)
#' fit2 <- gam_fit(mpg ~ s(hp, k = 8), data = mtcars)
#' fit2$warm_start$source
#' gam_cache_info()
#' gam_cache_clear()
#' options(op)
NULL

#' @rdname warmgam_cache
#' @export
gam_cache_info <- function(verify = FALSE) {
  check_flag(verify, "verify")
  dir <- cache_dir()
  info <- engine_result(cache_info_impl(dir, verify), "cache")
  as_time <- function(t) as.POSIXct(t, origin = "1970-01-01")
  list(
    location = dir, keys = info$keys, entries = info$entries, bytes = info$bytes,
    oldest = as_time(info$oldest), newest = as_time(info$newest),
    damaged = if (verify) info$damaged else NA_real_
  )
}

#' @rdname warmgam_cache
#' @export
gam_cache_clear <- function() {
  invisible(engine_result(cache_clear_impl(cache_dir()), "cache"))
}

cache_dir <- function() {
  dir <- getOption("warmgam.cache_dir")
  if (is.null(dir)) {
    env <- Sys.getenv("WARMGAM_CACHE_DIR")
    dir <- if (nzchar(env)) env else tools::R_user_dir("warmgam", "cache")
  }
  if (!is.character(dir) || length(dir) != 1L || is.na(dir) || !nzchar(dir)) {
    abort("`options(warmgam.cache_dir =)` must be a single directory path.", "argument")
  }
  path.expand(dir)
}

cache_option_number <- function(name, default) {
  value <- getOption(name, default)
  if (!is.numeric(value) || length(value) != 1L || is.na(value) || value < 0) {
    abort(sprintf("`options(%s =)` must be a single non-negative number.", name), "argument")
  }
  as.double(value)
}

# What the engine needs to use the store for this fit, or NULL to bypass it.
cache_spec <- function(cache, control, frame, formula, family) {
  store <- store_settings(cache)
  if (is.null(store)) return(NULL)
  c(store, list(
    verify = isTRUE(control$verify_warm),
    formula = paste(deparse(formula, width.cutoff = 500L), collapse = " "),
    # A fixed negative binomial theta is part of the model; an estimated one is not.
    family = paste0(family_id(family), if (!is.null(family$varfun)) paste0("(", family$varfun, ")"),
                    if (inherits(family, "warmgam_nb")) {
                      if (family$estimate_theta) "(theta estimated)" else sprintf("(theta = %.17g)", family$theta)
                    },
                    if (inherits(family, "warmgam_tweedie")) {
                      if (family$estimate_p) "(p estimated)" else sprintf("(p = %.17g)", family$p)
                    },
                    family[["key"]]),
    link = engine_link(family),
    names = colnames(frame$xp) %||% character()
  ))
}

# Where the store is and how a fit uses it (`cache`: TRUE, FALSE or "refresh"), from
# the options; NULL when the store is not used.
store_settings <- function(cache) {
  enabled <- getOption("warmgam.cache", TRUE)
  if (!isTRUE(enabled) && !isFALSE(enabled)) {
    abort("`options(warmgam.cache =)` must be TRUE or FALSE.", "argument")
  }
  if (isFALSE(cache) || isFALSE(enabled)) {
    return(NULL)
  }
  shared <- getOption("warmgam.cache_shared", FALSE)
  check_flag(shared, "options(warmgam.cache_shared)")
  list(
    dir = cache_dir(),
    shared = shared,
    max_bytes = cache_option_number("warmgam.cache_max_bytes", 256 * 1024^2),
    max_age_days = cache_option_number("warmgam.cache_max_age_days", 30),
    refresh = identical(cache, "refresh")
  )
}

# One warning per session for each thing the store held and did not use (a file that
# is not a regular file, a link, an oversized entry) or does not trust (a store others
# can write to), whatever file it was.
warn_store_notices <- function(notices) {
  for (notice in notices) {
    kind <- sub("^.* (is not a regular file|is not a directory|is larger than|can be written by other users).*$", "\\1", notice)
    if (isTRUE(store_problem$noticed[[kind]])) next
    store_problem$noticed[[kind]] <- TRUE
    warning(sprintf("warmgam's warm-start store: %s. See ?warmgam_cache.", notice), call. = FALSE)
  }
  invisible()
}

# One warning per session when the store cannot be used.
store_problem <- new.env(parent = emptyenv())
store_problem$noticed <- list()

warn_store_problem <- function(problem) {
  if (!nzchar(problem) || isTRUE(store_problem$warned)) {
    return(invisible())
  }
  store_problem$warned <- TRUE
  warning(
    sprintf("warmgam's warm-start store is not available (%s); fits still succeed without it. See ?warmgam_cache.", problem),
    call. = FALSE
  )
}
