# Methods for generics of packages warmgam only suggests (broom's generics, insight,
# performance, parameters, emmeans) are registered when warmgam is loaded: at once
# if the package is already loaded, else when it is. This is the delayed
# registration vctrs documents for its `s3_register()` ("Register a method for a
# suggested dependency generic"), written out here so that no package is needed.

s3_register <- function(generic, class, method = NULL) {
  pieces <- strsplit(generic, "::", fixed = TRUE)[[1]]
  package <- pieces[[1]]
  name <- pieces[[2]]
  method <- method %||% get(paste0(name, ".", class), envir = asNamespace("warmgam"))
  register <- function(...) {
    ns <- asNamespace(package)
    # A version of the package without this generic has nothing to register with.
    if (exists(name, envir = ns, inherits = FALSE)) registerS3method(name, class, method, envir = ns)
  }
  setHook(packageEvent(package, "onLoad"), register)
  if (isNamespaceLoaded(package)) register()
  invisible()
}

# The methods, by generic, that .onLoad() registers for class "warmgam".
suggested_methods <- function() {
  c(
    "generics::tidy", "generics::glance", "generics::augment",
    "emmeans::recover_data", "emmeans::emm_basis",
    "marginaleffects::get_coef", "marginaleffects::set_coef", "marginaleffects::get_vcov",
    "marginaleffects::get_predict"
  )
}

.onLoad <- function(libname, pkgname) {
  for (generic in suggested_methods()) s3_register(generic, "warmgam")
  for (generic in c("generics::tidy", "generics::glance")) s3_register(generic, "warmgam_general")
  register_easystats()
  setHook(packageEvent("marginaleffects", "onLoad"), add_marginaleffects_class)
  if (isNamespaceLoaded("marginaleffects")) add_marginaleffects_class()
  invisible()
}
