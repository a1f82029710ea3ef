#' warmgam: generalized additive models with a Rust engine and warm starts
#'
#' Fits GAMs (penalized regression with smooth terms) with automatic smoothness
#' selection, with the models, bases and answers of 'mgcv'. Start with [gam_fit()].
#'
#' @keywords internal
#' @useDynLib warmgam, .registration = TRUE
#' @importFrom stats coef family fitted formula gaussian logLik model.matrix nobs predict
#' @importFrom stats residuals vcov anova hatvalues influence cooks.distance weights simulate
#' @importFrom graphics plot
#' @importFrom utils globalVariables
"_PACKAGE"

# ggplot2's data pronoun in autoplot()'s aesthetics.
globalVariables(".data")
