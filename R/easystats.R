# insight, performance and parameters (the easystats packages) for warmgam fits.
# insight's documented way to support a new class is to give it methods for its
# generics; a warmgam fit holds what an mgcv "gam" holds for them (coefficients,
# Vp, edf, family, formula, call, summary()'s p.table and s.table), so each method
# is the one these packages have for class "gam", called on the warmgam fit:
# their internals then reach the fit through warmgam's own coef(), vcov(),
# summary(), predict() and residuals() methods. Registered when the packages load
# (R/register.R).

#' warmgam fits in insight, performance and parameters
#'
#' When insight, performance or parameters is loaded, warmgam registers methods
#' for their generics so that these work on a `warmgam` fit and give the numbers
#' they give for the same model fitted by `mgcv::gam()`: insight's
#' `model_info()`, `find_formula()`, `find_parameters()`, `get_parameters()` (the
#' parametric coefficients and one row per smooth term, its edf), `get_statistic()`,
#' `get_df()`, `get_loglikelihood()`, `get_predicted()` (with 95% limits unless
#' `ci = NULL`, which ggeffects' `ggpredict()` shows), `get_data()`,
#' `link_function()`, `link_inverse()`, `n_obs()`, `n_parameters()`; performance's
#' `r2()` (mgcv's adjusted R-squared), `model_performance()`,
#' `check_heteroscedasticity()`; parameters' `model_parameters()`, `ci()`,
#' `p_value()`, `standard_error()`, `degrees_of_freedom()`, `simulate_model()`.
#' Each is the method those packages have for mgcv's class `"gam"`, called on the
#' fit, which it reads through warmgam's own `summary()`, `coef()`, `vcov()`,
#' `predict()` and `residuals()`; arguments are passed on to that method.
#'
#' performance's `compare_performance()`, `test_performance()`,
#' `test_likelihoodratio()`, `test_wald()` and `test_bf()` compare warmgam fits
#' (with each other or with other models) and give the table they give for the
#' mgcv fits, the `Model` column saying `"warmgam"`, when the first model given is
#' a warmgam fit: they find the models through `insight::ellipsis_info()`, which
#' dispatches on the first model, then keep only classes on insight's fixed list
#' (`insight::is_model()`), so warmgam's method passes its fits on as `"gam"` to
#' those checks. With another model first, insight's own method drops the warmgam
#' fits ("are not supported models").
#'
#' Not available: functions that accept only the classes on insight's fixed
#' list without calling a generic first, which has no way to add a class:
#' `insight::find_statistic()` and `insight::is_nested_models()` (errors).
#'
#' ggeffects' `ggpredict()` and `ggemmeans()` work on a warmgam fit (through
#' `insight::get_predicted()` and emmeans) and give the mgcv fit's numbers at the
#' same values, but their default values of a smooth's covariate differ: for an
#' mgcv fit (a class on ggeffects' own fixed list) they are all of its values, for
#' any other class a `pretty()` range. `ggpredict(as_mgcv(fit), "x")` gives the
#' mgcv fit's default grid and numbers; `"x [all]"` all values rounded, for both.
#'
#' @returns Nothing: this page documents methods, which return what the packages'
#'   functions return.
#' @examplesIf requireNamespace("performance", quietly = TRUE) && requireNamespace("parameters", quietly = TRUE)
#' \dontshow{op <- options(warmgam.cache_dir = tempfile("warmgam-store-"))}
#' fit <- gam_fit(mpg ~ s(hp, k = 8) + am, data = mtcars)
#' performance::r2(fit)
#' performance::model_performance(fit)
#' parameters::model_parameters(fit)
#' insight::get_parameters(fit)
#' \dontshow{options(op)}
#' @name warmgam-easystats
NULL

# The method of `package` for `generic` and mgcv's class (`class`), as a function
# that forwards its arguments to it. The fit is passed with class
# c("warmgam", "gam"): every generic that reaches it still dispatches to warmgam's
# methods first, and insight's checks of the class (is_model(), find_statistic(),
# which know a fixed list of classes) see the "gam" an mgcv fit is.
delegate_method <- function(package, generic, class = "gam", arg = "x") {
  force(package)
  force(generic)
  force(class)
  method <- function(x, ...) {
    method <- utils::getS3method(generic, class, envir = asNamespace(package))
    method(as_gam_view(x), ...)
  }
  # The first argument is named as the generic's (`model` for some).
  names(formals(method))[[1]] <- arg
  body(method) <- do.call(substitute, list(body(method), list(x = as.name(arg))))
  method
}

# `lead` is the first class: "warmgam" for a view that leaves warmgam's own code
# (ellipsis_info_warmgam()), so that what names a model by its first class
# (compare_performance()'s `Model` column) names it "warmgam"; warmgam's methods,
# which it then reaches first, make their own view.
as_gam_view <- function(x, lead = "warmgam_view") {
  class(x) <- unique(c(lead, "warmgam_view", "warmgam", "gam", class(x)))
  x
}

# predict() of the view: insight's get_predicted() for "gam" passes `re.form`
# (NULL, or NA without random effects), which mgcv's predict.gam() does not use;
# nor is it used here, as for the mgcv fit. Registered by .onLoad().
predict_gam_view <- function(object, ..., re.form = NULL) {
  if (!is.null(re.form) && !identical(re.form, NA)) {
    abort("`re.form` must be NULL or NA for a warmgam fit; use `exclude` to leave terms out.", "argument")
  }
  class(object) <- "warmgam"
  predict.warmgam(object, ...)
}

# sigma() of the view: what stats' default method gives for the mgcv fit,
# sqrt(deviance / (n - number of coefficients)), which insight's get_sigma() and
# its log-likelihood of Gaussian models use. Registered by .onLoad().
sigma_gam_view <- function(object, ...) {
  check_dots_empty("sigma", ...)
  sqrt(object$deviance / (nobs.warmgam(object) - sum(!is.na(object$coefficients))))
}

# The statistic insight's find_statistic() names for the mgcv fit of the same model
# (which it cannot name for a class outside its list): t for an estimated scale.
statistic_name <- function(x) if (x$scale.estimated) "t-statistic" else "z-statistic"

# insight::get_df(): the default method, as for the mgcv fit, told the statistic.
get_df_warmgam <- function(x, type = "residual", ...) {
  method <- utils::getS3method("get_df", "default", envir = asNamespace("insight"))
  args <- list(...)
  if (is.null(args$statistic)) args$statistic <- statistic_name(x)
  do.call(method, c(list(as_gam_view(x), type = type), args))
}

# insight::get_statistic(): the "gam" method, with the statistic's name attached.
get_statistic_warmgam <- function(x, ...) {
  out <- delegate_method("insight", "get_statistic")(x, ...)
  attr(out, "statistic") <- statistic_name(x)
  out
}

# parameters::degrees_of_freedom(): for a known scale (z statistics) Inf, or the
# residual df for `method = "residual"`, as parameters decides from
# find_statistic() for the mgcv fit; otherwise its default method.
degrees_of_freedom_warmgam <- function(model, method = "analytical", ...) {
  if (!model$scale.estimated && !isTRUE(tolower(method) %in% c("ml1", "betwithin"))) {
    return(if (identical(tolower(method), "residual")) model$df.residual else Inf)
  }
  delegate_method("parameters", "degrees_of_freedom", "default", arg = "model")(model, method = method, ...)
}

# parameters::model_parameters(): the "gam" method, with the statistic column
# named as for the mgcv fit ("t / F" or "z / Chi2").
model_parameters_warmgam <- function(model, ...) {
  out <- delegate_method("parameters", "model_parameters", arg = "model")(model, ...)
  names(out)[names(out) == "Statistic"] <- if (model$scale.estimated) "t / F" else "z / Chi2"
  out
}

# insight::get_predicted(): the "gam" method; confidence limits (`ci`, 0.95 unless
# NULL: ggeffects' ggpredict(), which calls this without `ci` for a class it does
# not know, then has the limits it computes for an mgcv fit) are added here as
# insight adds them for the mgcv fit (.get_predicted_se_to_ci(): Wald
# limits on the link scale with the t quantile at get_df(type = "wald") degrees of
# freedom, or the normal one, then transformed with the standard errors by the
# delta method), as insight's own step needs find_statistic().
get_predicted_warmgam <- function(x, data = NULL, predict = "expectation", ci = 0.95, ...) {
  out <- delegate_method("insight", "get_predicted")(x, data = data, predict = predict, ci = NULL, ...)
  if (is.null(ci)) return(out)
  check_number(ci, "ci", lower = 0, upper = 1)
  newdata <- attr(out, "data")
  link <- predict.warmgam(x, newdata = newdata, type = "link", se.fit = TRUE)
  dof <- get_df_warmgam(x, type = "wald")
  crit <- if (is.null(dof) || all(is.infinite(dof))) stats::qnorm((1 + ci) / 2) else stats::qt((1 + ci) / 2, dof)
  eta <- as.numeric(link$fit)
  se <- as.numeric(link$se.fit)
  ci_data <- data.frame(SE = se, CI_low = eta - crit * se, CI_high = eta + crit * se)
  if (!identical(attr(out, "predict"), "link")) {
    fam <- x$family
    ci_data$CI_low <- fam$linkinv(ci_data$CI_low)
    ci_data$CI_high <- fam$linkinv(ci_data$CI_high)
    ci_data$SE <- se * abs(fam$mu.eta(eta))
  }
  attr(out, "ci_data") <- ci_data
  attr(out, "ci") <- ci
  out
}

# insight::ellipsis_info(), which performance's compare_performance(),
# test_performance(), test_likelihoodratio(), ... and bayestestR's
# bayesfactor_models() call on their models (it dispatches on the first):
# insight's default method keeps only models whose class is on insight's fixed
# list (is_model(); compare_performance() then checks is_model_supported(),
# another fixed list), which has no way to add a class, so warmgam fits are
# passed on as their views, "gam" to those checks. The rest is insight's default
# method, whose arguments this takes (all models in `...`, as do.call() passes
# them named); it names the models by its call, so it is called with them bound
# to placeholders, and given back the names it would have given: each model's
# expression in the call, else its argument name.
ellipsis_info_warmgam <- function(..., only_models = TRUE, verbose = TRUE) {
  models <- list(...)
  if (length(models) == 1L) return(models[[1L]])
  exprs <- as.list(match.call(expand.dots = FALSE)$...)
  labels <- names(exprs) %||% character(length(exprs))
  for (i in seq_along(exprs)) {
    if (is.language(exprs[[i]])) labels[[i]] <- paste(deparse(exprs[[i]]), collapse = " ")
    if (!nzchar(labels[[i]])) labels[[i]] <- paste("Model", i)
  }
  models <- lapply(models, function(m) if (inherits(m, "warmgam")) as_gam_view(m, lead = "warmgam") else m)
  is_model <- vapply(models, insight::is_model, logical(1))
  if (only_models && !all(is_model)) {
    # insight's own warning for what it drops.
    if (isTRUE(verbose)) {
      insight::format_warning(paste(paste(labels[!is_model], collapse = ", "),
                                    "are not supported models and have been dropped."))
    }
    models <- models[is_model]
    labels <- labels[is_model]
  }
  placeholders <- paste0("model", seq_along(models))
  default <- utils::getS3method("ellipsis_info", "default", envir = asNamespace("insight"))
  forward <- as.call(c(list(default), lapply(placeholders, as.name),
                       list(only_models = only_models, verbose = verbose)))
  out <- eval(forward, stats::setNames(models, placeholders))
  if (is.list(out) && !inherits(out, "warmgam") && all(names(out) %in% placeholders)) {
    names(out) <- labels[match(names(out), placeholders)]
  }
  out
}

# generic (package::name) -> the class whose method a warmgam fit takes (and the
# name of the generic's first argument when not `x`): insight's and parameters'
# "gam" methods (parameters' ci() is bayestestR's generic), and performance's r2() for "gam" and
# model_performance() for "glm" (which an mgcv fit reaches through its class
# c("gam", "glm", "lm")).
easystats_methods <- list(
  "insight::model_info" = "gam", "insight::find_formula" = "gam", "insight::find_parameters" = "gam",
  "insight::get_parameters" = "gam", "insight::get_loglikelihood" = "gam",
  "insight::link_function" = "gam", "insight::link_inverse" = "gam", "insight::n_obs" = "gam",
  "insight::n_parameters" = "gam", "insight::find_algorithm" = "gam", "insight::get_data" = "gam",
  "performance::r2" = c("gam", "model"), "performance::model_performance" = c("glm", "model"),
  "performance::check_heteroscedasticity" = "default",
  "parameters::p_value" = c("gam", "model"), "bayestestR::ci" = "gam",
  "parameters::standard_error" = c("gam", "model"), "parameters::simulate_model" = c("gam", "model")
)

register_easystats <- function() {
  registerS3method("predict", "warmgam_view", predict_gam_view, envir = asNamespace("stats"))
  registerS3method("sigma", "warmgam_view", sigma_gam_view, envir = asNamespace("stats"))
  s3_register("insight::get_df", "warmgam", get_df_warmgam)
  s3_register("insight::get_statistic", "warmgam", get_statistic_warmgam)
  s3_register("insight::get_predicted", "warmgam", get_predicted_warmgam)
  s3_register("insight::ellipsis_info", "warmgam", ellipsis_info_warmgam)
  s3_register("parameters::model_parameters", "warmgam", model_parameters_warmgam)
  s3_register("parameters::degrees_of_freedom", "warmgam", degrees_of_freedom_warmgam)
  for (generic in names(easystats_methods)) {
    package <- sub("::.*", "", generic)
    name <- sub(".*::", "", generic)
    how <- easystats_methods[[generic]]
    s3_register(generic, "warmgam", delegate_method(package, name, how[[1]], if (length(how) > 1) how[[2]] else "x"))
  }
}
