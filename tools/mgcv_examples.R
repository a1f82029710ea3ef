# tools/mgcv_examples.R: how many of the gam() calls in mgcv's own help-page
# examples warmgam's gam_fit() fits, and how closely.
#
# Each call to gam() (or mgcv::gam()) in the example code of an installed mgcv
# help page is a case. A page's examples are run in order in a fresh R process
# (callr), up to its last case, in its global environment with mgcv attached, plots sent to pdf(NULL) and
# set.seed(1) before the first line (pages that set seeds still do so). Just
# before mgcv's call, the same call is made with warmgam::gam_fit() in the same
# environment: the arguments as mgcv matched them (all named), plus
# cache = FALSE, plus method = "GCV.Cp" when the call names no method (mgcv's
# default; warmgam's is "REML"). The random number stream is restored after
# warmgam's call, so the page goes on as it would without it. Each evaluation has
# a 60 s elapsed-time limit and warnings are recorded.
#
# Outcomes, over the fitted values (fitted(), as vectors):
#   agrees      max |mgcv - warmgam| <= 1e-5 * max |mgcv| (* max |y| when mgcv's
#               fitted values are numerically zero: below sqrt(eps) * max |y|)
#   differs     both fit, further apart (the relative difference is the figure)
#   error       gam_fit() failed (first line of its message, condition class)
#   mgcv_error  mgcv's own call failed: not counted in the totals
#   skipped     the call cannot be run as is (the reason is given)
# Calls whose site is a plain call (summary(gam(...)), system.time(b <- gam(...)))
# are run by themselves just before that expression; calls inside for loops,
# function bodies and { } blocks are skipped. \dontrun code is not run;
# \donttest code is (flagged in the CSV).
#
# Usage, from the package root:
#   Rscript tools/mgcv_examples.R                # all pages; writes tools/notes/mgcv-examples.{md,csv}
#   Rscript tools/mgcv_examples.R smooth.terms   # pages whose name matches a regex; prints the table
#   Rscript tools/mgcv_examples.R gam.models --out /tmp/x   # ... and writes the notes to /tmp/x
# Needs mgcv, callr and an installed warmgam (not attached: mgcv's s(), nb() ...
# are the ones on the search path). mgcv's examples are read as data; none of
# mgcv's code is copied here.

tolerance <- 1e-5 # relative fitted-value difference that still counts as agreeing
call_limit <- 60 # seconds for each evaluation (setTimeLimit)
page_limit <- 300 # seconds for a whole page's R process (callr timeout)

# ---- command line ------------------------------------------------------------

parse_command_line <- function(args) {
  out <- NULL
  at <- match("--out", args)
  if (!is.na(at)) {
    if (at == length(args)) stop("`--out` needs a directory", call. = FALSE)
    out <- args[at + 1]
    args <- args[-c(at, at + 1)]
  }
  if (length(args) > 1) stop("give at most one page pattern", call. = FALSE)
  pattern <- if (length(args) == 1) args else NULL
  if (is.null(out) && is.null(pattern)) out <- file.path(script_dir(), "notes")
  list(pattern = pattern, out = out)
}

script_dir <- function() {
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 0) return(file.path(getwd(), "tools"))
  dirname(normalizePath(sub("^--file=", "", file_arg[1])))
}

# ---- finding the cases -------------------------------------------------------

# The example code of one help page as lines (Rd2ex's text), or NULL.
page_example_lines <- function(rd) {
  file <- tempfile(fileext = ".R")
  on.exit(unlink(file))
  tools::Rd2ex(rd, file)
  if (!file.exists(file)) return(NULL)
  readLines(file, warn = FALSE)
}

# Lines inside "## No test:" ... "## End(No test)" (\donttest sections).
donttest_lines <- function(lines) {
  opens <- cumsum(grepl("^\\s*## No test:", lines))
  closes <- cumsum(grepl("^\\s*## End\\(No test\\)", lines))
  opens > closes
}

is_gam_function <- function(f) {
  if (is.symbol(f)) return(identical(as.character(f), "gam"))
  is.call(f) && length(f) == 3 && as.character(f[[1]]) %in% c("::", ":::") &&
    identical(as.character(f[[2]]), "mgcv") && identical(as.character(f[[3]]), "gam")
}

# Every gam() call in an expression, with the names of the calls around it
# (outermost first).
gam_calls_in <- function(expr, around = character()) {
  found <- list()
  if (!is.call(expr)) return(found)
  if (is_gam_function(expr[[1]])) found <- list(list(call = expr, around = around))
  head <- if (is.symbol(expr[[1]])) as.character(expr[[1]]) else "(call)"
  parts <- as.list(expr)
  for (i in seq_along(parts)) {
    if (identical(parts[[i]], quote(expr = )) || is.null(parts[[i]])) next
    found <- c(found, gam_calls_in(parts[[i]], c(around, head)))
  }
  found
}

# How a call can be run: "direct" (the expression, maybe assigned), "nested"
# (inside plain calls: run by itself first) or "skip", with a reason.
call_site <- function(around, call) {
  fit_arg <- call$fit
  if (!is.null(fit_arg) && identical(fit_arg, FALSE)) {
    return(list(site = "skip", reason = "fit = FALSE: returns the model set-up, not a fit"))
  }
  blocks <- c(`for` = "inside a for loop", `while` = "inside a while loop",
              `repeat` = "inside a repeat loop", `function` = "inside a function definition",
              `{` = "inside a { } block", `if` = "inside an if")
  hit <- intersect(names(blocks), around)
  if (length(hit) > 0) return(list(site = "skip", reason = blocks[[hit[1]]]))
  if (all(around %in% c("<-", "=", "<<-"))) return(list(site = "direct", reason = ""))
  list(site = "nested", reason = "")
}

# gam_fit()'s version of an mgcv gam() call: arguments named as mgcv matches
# them, cache = FALSE, and mgcv's default method when none is given.
warmgam_call <- function(call) {
  matched <- tryCatch(match.call(mgcv::gam, call), error = function(e) call)
  matched[[1]] <- quote(warmgam::gam_fit)
  if (is.null(matched$method)) matched$method <- "GCV.Cp"
  matched$cache <- FALSE
  matched
}

# TRUE when the call passes an argument other than the formula by position
# (gam_fit()'s second formal is data, mgcv's is family).
has_positional_arguments <- function(call) {
  given <- names(as.list(call))[-1]
  if (is.null(given)) given <- rep("", length(call) - 1)
  sum(given == "") > 1
}

# Packages an expression loads or names (library(), require(), pkg::).
packages_named <- function(expr) {
  found <- character()
  if (!is.call(expr)) return(found)
  head <- expr[[1]]
  if (is.symbol(head) && as.character(head) %in% c("library", "require", "requireNamespace",
                                                   "loadNamespace") && length(expr) > 1) {
    if (is.symbol(expr[[2]]) || is.character(expr[[2]])) found <- as.character(expr[[2]])
  }
  if (is.symbol(head) && as.character(head) %in% c("::", ":::")) found <- as.character(expr[[2]])
  parts <- as.list(expr)
  for (i in seq_along(parts)) {
    if (identical(parts[[i]], quote(expr = )) || is.null(parts[[i]])) next
    found <- c(found, packages_named(parts[[i]]))
  }
  unique(found)
}

one_line <- function(call) gsub("\\s+", " ", paste(deparse(call, width.cutoff = 500L), collapse = " "))

# The cases of one page: a data frame (one row per gam() call) and the parsed
# expressions, or NULL when the page has none.
plan_page <- function(page, lines) {
  exprs <- tryCatch(parse(text = lines, keep.source = TRUE), error = function(e) NULL)
  if (is.null(exprs)) {
    if (any(grepl("gam\\(", lines))) {
      return(list(cases = data.frame(page = page, case = 1L, expr = NA_integer_, line = NA_integer_,
                                     donttest = FALSE, site = "skip",
                                     reason = "the page's example code does not parse",
                                     call = "", positional = FALSE, missing_packages = "",
                                     stringsAsFactors = FALSE),
                  exprs = NULL, calls = list(), wcalls = list()))
    }
    return(NULL)
  }
  starts <- vapply(attr(exprs, "srcref"), function(s) s[[1]], 1L)
  in_donttest <- donttest_lines(lines)
  installed <- function(p) nzchar(system.file(package = p))
  rows <- list(); calls <- list(); wcalls <- list(); named <- character()
  for (i in seq_along(exprs)) {
    named <- union(named, packages_named(exprs[[i]]))
    for (found in gam_calls_in(exprs[[i]])) {
      site <- call_site(found$around, found$call)
      missing <- named[!vapply(named, installed, TRUE)]
      rows[[length(rows) + 1]] <- data.frame(
        page = page, case = length(rows) + 1L, expr = i, line = starts[i],
        donttest = in_donttest[starts[i]], site = site$site, reason = site$reason,
        call = one_line(found$call), positional = has_positional_arguments(found$call),
        missing_packages = paste(missing, collapse = " "), stringsAsFactors = FALSE)
      calls[[length(calls) + 1]] <- found$call
      wcalls[[length(wcalls) + 1]] <- warmgam_call(found$call)
    }
  }
  if (length(rows) == 0) return(NULL)
  list(cases = do.call(rbind, rows), exprs = exprs, calls = calls, wcalls = wcalls)
}

# ---- running a page (in a fresh R process) -----------------------------------

# Runs one page's examples up to its last case; writes a list of per-case
# results to `result_file` after every case, and the case being run to
# `progress_file`, so that a killed process still leaves what it did.
run_page <- function(exprs, cases, calls, wcalls, result_file, progress_file,
                     call_limit, tolerance) {
  grDevices::pdf(NULL)
  options(device = function(...) grDevices::pdf(NULL), warmgam.cache = FALSE, warn = 1)
  suppressPackageStartupMessages({
    library(mgcv)
    loadNamespace("warmgam")
  })
  set.seed(1)
  # the global environment, as example(): S3 methods a page defines (a new
  # smooth class, say) must be found by dispatch
  env <- globalenv()
  results <- list()

  evaluate <- function(expr) {
    warnings <- character()
    started <- proc.time()[["elapsed"]]
    setTimeLimit(elapsed = call_limit, transient = TRUE)
    out <- tryCatch(
      withCallingHandlers(
        list(value = eval(expr, env), error = NULL),
        warning = function(w) {
          warnings <<- c(warnings, conditionMessage(w))
          invokeRestart("muffleWarning")
        },
        message = function(m) invokeRestart("muffleMessage")
      ),
      error = function(e) list(value = NULL, error = e)
    )
    setTimeLimit(elapsed = Inf, transient = FALSE)
    out$warnings <- warnings
    out$seconds <- proc.time()[["elapsed"]] - started
    out
  }
  keeping_seed <- function(expr) {
    seed <- get0(".Random.seed", globalenv(), inherits = FALSE)
    on.exit(if (is.null(seed)) {
      if (exists(".Random.seed", globalenv(), inherits = FALSE)) rm(".Random.seed", envir = globalenv())
    } else assign(".Random.seed", seed, envir = globalenv()))
    evaluate(expr)
  }
  first_line <- function(e) strsplit(conditionMessage(e), "\n", fixed = TRUE)[[1]][1]
  edf_of <- function(fit) tryCatch(sum(fit$edf), error = function(e) NA_real_)
  fitted_of <- function(fit) unname(as.matrix(stats::fitted(fit)))

  compare <- function(k, m, w) {
    r <- list(case = k, outcome = NA_character_, rel_diff = NA_real_, detail = "",
              error_class = "", mgcv_seconds = m$seconds, warmgam_seconds = w$seconds,
              mgcv_warnings = length(m$warnings), warmgam_warnings = length(w$warnings),
              warmgam_warning = if (length(w$warnings)) w$warnings[1] else "",
              edf_mgcv = NA_real_, edf_warmgam = NA_real_,
              criterion_mgcv = NA_real_, criterion_warmgam = NA_real_)
    if (!is.null(m$error)) {
      r$outcome <- "mgcv_error"
      r$detail <- first_line(m$error)
      return(r)
    }
    if (!inherits(m$value, "gam")) {
      r$outcome <- "skipped"
      r$detail <- "mgcv's call returns no fitted model"
      return(r)
    }
    r$edf_mgcv <- edf_of(m$value)
    if (!is.null(w$error)) {
      r$outcome <- "error"
      r$error_class <- class(w$error)[1]
      r$detail <- first_line(w$error)
      return(r)
    }
    r$edf_warmgam <- edf_of(w$value)
    r$criterion_mgcv <- tryCatch(as.numeric(m$value$gcv.ubre)[1], error = function(e) NA_real_)
    r$criterion_warmgam <- tryCatch(as.numeric(w$value$criterion)[1], error = function(e) NA_real_)
    fw <- tryCatch(fitted_of(w$value), error = function(e) e)
    if (inherits(fw, "error")) {
      r$outcome <- "error"
      r$error_class <- class(fw)[1]
      r$detail <- paste("fitted() of the fit failed:", first_line(fw))
      return(r)
    }
    fm <- fitted_of(m$value)
    if (!identical(dim(fm), dim(fw))) {
      r$outcome <- "differs"
      r$rel_diff <- Inf
      r$detail <- sprintf("fitted values are %s (mgcv) and %s (warmgam)",
                          paste(dim(fm), collapse = "x"), paste(dim(fw), collapse = "x"))
      return(r)
    }
    if (!identical(is.na(fm), is.na(fw)) || any(!is.finite(fw[!is.na(fw)]))) {
      r$outcome <- "differs"
      r$rel_diff <- Inf
      r$detail <- "missing or non-finite fitted values differ"
      return(r)
    }
    # relative to max |mgcv's fitted values|, unless mgcv fits (numerically) zero,
    # e.g. a smooth of residuals with all terms penalized out: then to max |y|
    y_scale <- tryCatch(max(abs(m$value$y), na.rm = TRUE), error = function(e) 0)
    scale <- max(abs(fm), na.rm = TRUE)
    if (scale < sqrt(.Machine$double.eps) * y_scale) {
      scale <- y_scale
      r$detail <- "mgcv's fitted values are zero: relative to max |y|"
    }
    r$rel_diff <- max(abs(fm - fw), na.rm = TRUE) / scale
    r$outcome <- if (r$rel_diff <= tolerance) "agrees" else "differs"
    r
  }
  record <- function(r) {
    results[[length(results) + 1]] <<- r
    saveRDS(results, result_file)
  }
  skip <- function(k, reason) list(case = k, outcome = "skipped", detail = reason)
  progress <- function(k, stage) writeLines(c(as.character(k), stage), progress_file)

  for (i in seq_len(max(cases$expr))) {
    here <- which(cases$expr == i)
    direct <- NULL
    for (k in here) {
      if (cases$site[k] == "skip") {
        record(skip(k, cases$reason[k]))
        next
      }
      progress(k, "warmgam")
      w <- keeping_seed(wcalls[[k]])
      if (cases$site[k] == "direct") {
        direct <- list(k = k, w = w)
        next
      }
      progress(k, "mgcv")
      m <- keeping_seed(calls[[k]])
      record(compare(k, m, w))
    }
    if (!is.null(direct)) progress(direct$k, "mgcv")
    top <- evaluate(exprs[[i]])
    if (!is.null(direct)) record(compare(direct$k, top, direct$w))
  }
  progress(NA, "done")
  invisible(length(results))
}

# Runs one planned page in a callr process; returns its cases with results.
run_planned_page <- function(plan) {
  cases <- plan$cases
  cases$outcome <- NA_character_
  cases$rel_diff <- NA_real_
  cases$detail <- ""
  cases$error_class <- ""
  for (col in c("mgcv_seconds", "warmgam_seconds", "edf_mgcv", "edf_warmgam", "criterion_mgcv",
                "criterion_warmgam")) cases[[col]] <- NA_real_
  for (col in c("mgcv_warnings", "warmgam_warnings")) cases[[col]] <- NA_integer_
  cases$warmgam_warning <- ""
  if (is.null(plan$exprs)) {
    cases$outcome <- "skipped"
    cases$detail <- cases$reason
    return(cases)
  }
  result_file <- tempfile(fileext = ".rds")
  progress_file <- tempfile(fileext = ".txt")
  on.exit(unlink(c(result_file, progress_file)))
  failure <- tryCatch({
    callr::r(run_page,
             args = list(exprs = plan$exprs, cases = cases, calls = plan$calls,
                         wcalls = plan$wcalls, result_file = result_file,
                         progress_file = progress_file, call_limit = call_limit,
                         tolerance = tolerance),
             timeout = page_limit, show = FALSE)
    NULL
  }, error = function(e) e)
  results <- if (file.exists(result_file)) readRDS(result_file) else list()
  for (r in results) {
    for (field in setdiff(names(r), "case")) cases[[field]][r$case] <- r[[field]]
  }
  if (!is.null(failure)) {
    why <- if (inherits(failure, "callr_timeout_error")) {
      sprintf("the page's process was stopped at its %d s limit", page_limit)
    } else {
      paste("the page's process failed:", strsplit(conditionMessage(failure), "\n")[[1]][1])
    }
    progress <- if (file.exists(progress_file)) readLines(progress_file) else c(NA, "")
    running <- suppressWarnings(as.integer(progress[1]))
    if (!is.na(running) && is.na(cases$outcome[running]) && progress[2] == "warmgam") {
      cases$outcome[running] <- "error"
      cases$error_class[running] <- "no result"
      cases$detail[running] <- paste("gam_fit() did not return:", why)
    }
    left <- is.na(cases$outcome)
    cases$outcome[left] <- "skipped"
    cases$detail[left] <- why
  }
  # mgcv failing where the page loads a package that is not installed
  needs <- cases$outcome == "mgcv_error" & nzchar(cases$missing_packages)
  cases$outcome[needs] <- "skipped"
  cases$detail[needs] <- sprintf("needs package %s (not installed): %s",
                                 cases$missing_packages[needs], cases$detail[needs])
  cases
}

# ---- summarising ---------------------------------------------------------------

# A short cause for a gam_fit() error, for grouping.
error_cause <- function(class, message) {
  rules <- list(
    c("^unused arguments? \\(([A-Za-z0-9._]+)", "argument %s"),
    c("[Uu]nknown basis `?bs = \"([^\"]+)\"", "bs = \"%s\" unsupported"),
    c("The margins of `te\\(.*not (c\\(.*\\)|\"[^\"]+\")\\.$", "te() margins with bs = %s"),
    c("`family = (.+?)\\(\\)` is not supported", "family %s"),
    c("`link = ([A-Za-z]+)\\(", "link %s()"),
    c("^`(t2)` terms are not supported", "%s() terms"),
    c("covariate of the wrong length", "matrix covariates (linear functional terms)"),
    c("^`by` is not supported with `bs = \"([^\"]+)\"`", "by with bs = \"%s\""),
    c("`xt` of `s\\(.*\\)` holds `S`", "xt = list(S = ) penalty"),
    c("^`(xt|m|mc|id|pc)( = [^`]*)?` of `(s|te|ti)\\(", "`%s` of %s()"),
    c("`method` must be one of .* not \"([^\"]+)\"", "method = \"%s\""),
    c("`theta` and the Tweedie `p` are estimated by REML or ML", "nb() theta / tw() p with GCV.Cp"),
    c("could not find function \"([^\"]+)\"", "function %s()"),
    c("(did not return|elapsed time limit)", "no result within the time limit")
  )
  for (rule in rules) {
    m <- regmatches(message, regexec(rule[1], message, perl = TRUE))[[1]]
    if (length(m) == 0) next
    groups <- m[-1]
    if (rule[2] == "`%s` of %s()") groups <- groups[c(1, 3)]
    slots <- lengths(regmatches(rule[2], gregexpr("%s", rule[2], fixed = TRUE)))
    return(do.call(sprintf, c(list(rule[2]), as.list(groups[seq_len(slots)]))))
  }
  paste0(class, ": ", strtrim(message, 70))
}

short_call <- function(call, width = 70) {
  call <- sub("^mgcv::", "", call)
  ifelse(nchar(call) > width, paste0(substr(call, 1, width - 3), "..."), call)
}

md_cell <- function(x) gsub("|", "\\|", gsub("\n", " ", x), fixed = TRUE)

figure_of <- function(cases) {
  fig <- character(nrow(cases))
  fitted <- cases$outcome %in% c("agrees", "differs")
  fig[fitted] <- ifelse(is.finite(cases$rel_diff[fitted]),
                        sprintf("%.1e", cases$rel_diff[fitted]), cases$detail[fitted])
  off <- fitted & cases$outcome == "differs" & is.finite(cases$rel_diff)
  fig[off] <- sprintf("%s (edf %.2f vs %.2f)", fig[off], cases$edf_mgcv[off], cases$edf_warmgam[off])
  failed <- cases$outcome == "error"
  fig[failed] <- sprintf("`%s`: %s", cases$error_class[failed], cases$detail[failed])
  other <- !fitted & !failed
  fig[other] <- cases$detail[other]
  fig
}

totals_of <- function(cases) {
  counted <- cases$outcome %in% c("agrees", "differs", "error")
  n <- sum(counted)
  count <- function(o) sum(cases$outcome == o)
  pct <- function(o) if (n > 0) sprintf("%.0f%%", 100 * count(o) / n) else "-"
  list(n = n, agrees = count("agrees"), differs = count("differs"), error = count("error"),
       mgcv_error = count("mgcv_error"), skipped = count("skipped"),
       text = sprintf("agrees %d (%s), differs %d (%s), error %d (%s) of the %d cases mgcv fits",
                      count("agrees"), pct("agrees"), count("differs"), pct("differs"),
                      count("error"), pct("error"), n))
}

error_table <- function(cases) {
  failed <- cases[cases$outcome == "error", , drop = FALSE]
  if (nrow(failed) == 0) return(data.frame(cause = character(), cases = integer()))
  causes <- mapply(error_cause, failed$error_class, failed$detail, USE.NAMES = FALSE)
  counts <- sort(table(causes), decreasing = TRUE)
  data.frame(cause = names(counts), cases = as.integer(counts), stringsAsFactors = FALSE)
}

write_notes <- function(cases, out, pattern, seconds) {
  dir.create(out, showWarnings = FALSE, recursive = TRUE)
  totals <- totals_of(cases)
  errors <- error_table(cases)
  fig <- figure_of(cases)
  commit <- tryCatch(system2("git", c("-C", shQuote(dirname(script_dir())), "rev-parse", "--short", "HEAD"),
                             stdout = TRUE, stderr = FALSE), error = function(e) "", warning = function(w) "")
  built <- utils::packageDescription("warmgam")$Built
  skipped <- cases[cases$outcome == "skipped", , drop = FALSE]
  skip_reasons <- sort(table(sub(":.*", "", skipped$detail)), decreasing = TRUE)

  lines <- c(
    "# warmgam on mgcv's help-page examples",
    "",
    sprintf("Generated by `Rscript tools/mgcv_examples.R%s` on %s in %.0f s: mgcv %s, warmgam %s%s, R %s.",
            if (is.null(pattern)) "" else paste0(" ", pattern), format(Sys.Date()), seconds,
            utils::packageDescription("mgcv")$Version, utils::packageDescription("warmgam")$Version,
            if (length(commit) == 1 && nzchar(commit)) sprintf(" (installed %s; repository at %s)",
                                                                  sub(".*; (\\d{4}-\\d\\d-\\d\\d [0-9:]+).*", "\\1", built), commit) else "",
            paste(R.version$major, R.version$minor, sep = ".")),
    "",
    "Every call to `gam()` in the examples of mgcv's help pages is a case: the page's code is",
    "run up to the call, and the call is repeated with `warmgam::gam_fit()` (same arguments,",
    "`cache = FALSE`, `method = \"GCV.Cp\"` when mgcv's call names none). A case *agrees* when",
    sprintf("the fitted values are within %g of each other relative to max |mgcv's fitted values|;", tolerance),
    "the figure is that relative difference. See the header of tools/mgcv_examples.R.",
    "",
    "## Totals",
    "",
    sprintf("- %s.", totals$text),
    sprintf("- Not counted: mgcv_error %d (mgcv's own call fails), skipped %d%s.",
            totals$mgcv_error, totals$skipped,
            if (length(skip_reasons)) paste0(" (", paste(sprintf("%s: %d", names(skip_reasons), skip_reasons),
                                                          collapse = "; "), ")") else ""),
    sprintf("- %d cases pass an argument after the formula by position; they are run with the arguments named as mgcv matches them (gam_fit()'s second argument is `data`, mgcv's `family`).",
            sum(cases$positional)),
    "",
    "## Cases",
    "",
    "| page | # | call | outcome | figure or error |",
    "|---|---|---|---|---|",
    sprintf("| %s | %d | `%s` | %s | %s |", cases$page, cases$case, md_cell(short_call(cases$call)),
            cases$outcome, md_cell(fig)),
    "",
    "## Errors by cause",
    "",
    if (nrow(errors) > 0) c("| cause | cases |", "|---|---|",
                            sprintf("| %s | %d |", md_cell(errors$cause), errors$cases)) else "No errors.",
    ""
  )
  differs <- cases[cases$outcome == "differs", , drop = FALSE]
  if (nrow(differs) > 0) {
    differs <- differs[order(-differs$rel_diff), , drop = FALSE]
    lines <- c(lines, "## Differences, largest first", "",
               paste("The criterion is mgcv's `gcv.ubre` and warmgam's `criterion` (GCV, UBRE or",
                     "the negative log restricted likelihood, smaller is better): the lower one found",
                     "the better smoothing parameters, where the two define it alike."), "",
               "| page | # | call | relative difference | edf mgcv | edf warmgam | criterion mgcv | criterion warmgam |",
               "|---|---|---|---|---|---|---|---|",
               sprintf("| %s | %d | `%s` | %s | %.2f | %.2f | %.8g | %.8g |", differs$page, differs$case,
                       md_cell(short_call(differs$call)),
                       ifelse(is.finite(differs$rel_diff), sprintf("%.1e", differs$rel_diff), differs$detail),
                       differs$edf_mgcv, differs$edf_warmgam, differs$criterion_mgcv,
                       differs$criterion_warmgam), "")
  }
  writeLines(lines, file.path(out, "mgcv-examples.md"))
  csv <- cases[, c("page", "case", "line", "donttest", "call", "outcome", "rel_diff", "error_class",
                   "detail", "edf_mgcv", "edf_warmgam", "criterion_mgcv", "criterion_warmgam",
                   "mgcv_seconds", "warmgam_seconds",
                   "mgcv_warnings", "warmgam_warnings", "warmgam_warning", "positional")]
  csv$cause <- ifelse(cases$outcome == "error",
                      mapply(error_cause, cases$error_class, cases$detail, USE.NAMES = FALSE), "")
  utils::write.csv(csv, file.path(out, "mgcv-examples.csv"), row.names = FALSE)
  invisible(file.path(out, c("mgcv-examples.md", "mgcv-examples.csv")))
}

# ---- main ----------------------------------------------------------------------

main <- function() {
  opts <- parse_command_line(commandArgs(trailingOnly = TRUE))
  for (p in c("mgcv", "callr", "warmgam")) {
    if (!requireNamespace(p, quietly = TRUE)) stop(sprintf("package %s is needed", p), call. = FALSE)
  }
  started <- proc.time()[["elapsed"]]
  db <- tools::Rd_db("mgcv")
  pages <- sub("\\.Rd$", "", names(db))
  keep <- if (is.null(opts$pattern)) rep(TRUE, length(pages)) else grepl(opts$pattern, pages)
  if (!any(keep)) stop(sprintf("no mgcv help page matches `%s`", opts$pattern), call. = FALSE)
  all_cases <- list()
  for (j in which(keep)) {
    lines <- page_example_lines(db[[j]])
    if (is.null(lines)) next
    plan <- plan_page(pages[j], lines)
    if (is.null(plan)) next
    t0 <- proc.time()[["elapsed"]]
    cases <- run_planned_page(plan)
    tally <- table(factor(cases$outcome, c("agrees", "differs", "error", "mgcv_error", "skipped")))
    message(sprintf("%-40s %3d cases  %s  (%.0f s)", pages[j], nrow(cases),
                    paste(sprintf("%s %d", names(tally), tally), collapse = ", "),
                    proc.time()[["elapsed"]] - t0))
    all_cases[[length(all_cases) + 1]] <- cases
  }
  if (length(all_cases) == 0) {
    message("no gam() calls in the matching pages")
    return(invisible())
  }
  cases <- do.call(rbind, all_cases)
  seconds <- proc.time()[["elapsed"]] - started
  fig <- figure_of(cases)
  cat(sprintf("%-28s %3d  %-50s %-10s %s\n", strtrim(cases$page, 28), cases$case,
              short_call(cases$call, 50), cases$outcome, strtrim(fig, 80)), sep = "")
  message(totals_of(cases)$text)
  if (!is.null(opts$out)) {
    files <- write_notes(cases, opts$out, opts$pattern, seconds)
    message("wrote ", paste(files, collapse = ", "))
  }
}

if (sys.nframe() == 0L) main()
