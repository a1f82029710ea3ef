# Helpers for the warm-start store tests: a private store per test, the files in it,
# and a model whose outer iterations are slow enough to be interrupted mid-way.

# Points the store at a fresh directory until the calling test ends; returns it.
local_store <- function(env = parent.frame()) {
  dir <- tempfile("warmgam-store-")
  withr::local_options(warmgam.cache_dir = dir, .local_envir = env)
  dir
}

store_files <- function(dir, pattern = "\\.wgs$") {
  list.files(dir, pattern = pattern, recursive = TRUE, full.names = TRUE, all.files = TRUE)
}

# Waits until `condition()` holds, or fails the test after `timeout` seconds.
wait_until <- function(condition, timeout = 120, what = "the condition") {
  deadline <- Sys.time() + timeout
  while (!condition()) {
    if (Sys.time() > deadline) stop(sprintf("timed out waiting for %s", what))
    Sys.sleep(0.02)
  }
  invisible(TRUE)
}

# Many smooths of large k: each outer iteration takes a noticeable time and there are
# many of them, so a background fit can be stopped between its first checkpoint and
# its convergence.
slow_model <- function(n = 4000, nv = 14, k = 45) {
  set.seed(7)
  d <- data.frame(matrix(runif(n * nv), n, nv))
  d$y <- sin(6 * d$X1) + d$X2^2 + cos(4 * d$X3) + rnorm(n)
  f <- stats::as.formula(paste(
    "y ~", paste(sprintf("s(X%d, bs = 'cr', k = %d)", seq_len(nv), k), collapse = " + ")
  ))
  list(formula = f, data = d)
}

# Starts `slow_model()`'s fit in a background R process using the store at `dir`,
# and returns it once the fit has written its first checkpoint (while it still runs).
start_slow_fit_until_checkpoint <- function(dir) {
  bg <- start_slow_fit(dir)
  wait_until(function() length(store_files(dir, "^ckpt-")) > 0 || !bg$is_alive(),
             what = "a checkpoint of the background fit")
  testthat::expect_true(bg$is_alive())
  bg
}

# Starts `slow_model()`'s fit in a background R process using the store at `dir`.
start_slow_fit <- function(dir) {
  model <- slow_model()
  path <- tempfile(fileext = ".rds")
  saveRDS(model, path)
  callr::r_bg(function(path, dir) {
    options(warmgam.cache_dir = dir)
    model <- readRDS(path)
    tryCatch(
      warmgam::gam_fit(model$formula, data = model$data, threads = 1)$warm_start$source,
      error = function(e) paste("error:", conditionMessage(e))
    )
  }, args = list(path = path, dir = dir))
}

# The optimizer's convergence tolerance on the criterion (gam_control() default).
within_outer_tol <- function(a, b, tol = 1e-8) abs(a - b) <= tol * (1 + abs(b))
