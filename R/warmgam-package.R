#' warmgam: generalized additive models with a Rust engine and warm starts
#'
#' Fits GAMs (penalized regression with smooth terms) with automatic smoothness
#' selection, with the models, bases and answers of 'mgcv'. Start with [gam_fit()].
#'
#' @keywords internal
#' @useDynLib warmgam, .registration = TRUE
"_PACKAGE"
