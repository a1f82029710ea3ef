# The warm-start store: exact hits, seeds and resumed fits reach the cold fit's answer;
# damaged stores, unwritable locations and concurrent writers never fail a fit.

f4 <- y ~ s(x0, bs = "cr") + s(x1, bs = "ps") + s(x2) + fac

test_that("an identical call is answered by the store without iterating", {
  local_store()
  d <- sim_data(800)
  a <- gam_fit(f4, data = d)
  b <- gam_fit(f4, data = d)
  expect_equal(a$warm_start$source, "cold")
  expect_equal(b$warm_start$source, "exact")
  expect_equal(b$warm_start$outer_iterations, 0)
  expect_equal(b$outer_iterations, 0)
  expect_identical(a$warm_start$key, b$warm_start$key)
  expect_match(a$warm_start$key, "^[0-9a-f]{64}$")
  # Everything the object reports, within 1e-10 relative.
  for (field in c("coefficients", "fitted.values", "Vp", "Ve", "edf", "edf1", "sp",
                  "scale", "criterion", "deviance", "residuals")) {
    expect_lt(rel_diff(b[[field]], a[[field]]), 1e-10, label = field)
  }
  expect_equal(summary(b)$s.table, summary(a)$s.table, tolerance = 1e-10)
  nd <- new_points(d)
  expect_lt(rel_diff(predict(b, nd, se.fit = TRUE)$se.fit, predict(a, nd, se.fit = TRUE)$se.fit), 1e-10)
  expect_output(print(b), "Warm start: exact hit")

  # verify_warm re-checks the hit with one inner fit, and it passes.
  v <- gam_fit(f4, data = d, control = gam_control(verify_warm = TRUE))
  expect_equal(v$warm_start$source, "exact")
  expect_true(v$warm_start$verified)
  expect_lt(rel_diff(v$fitted.values, a$fitted.values), 1e-10)

  # One data value changed: another problem (seeded by the same model), not exact.
  d2 <- d
  d2$y[5] <- d2$y[5] + 0.1
  changed <- gam_fit(f4, data = d2)
  expect_false(changed$warm_start$source == "exact")
  expect_false(identical(changed$warm_start$key, a$warm_start$key))
  # Another k: another model, nothing to start from.
  other_k <- gam_fit(y ~ s(x0, bs = "cr", k = 12) + s(x1, bs = "ps") + s(x2) + fac, data = d)
  expect_equal(other_k$warm_start$source, "cold")
})

test_that("a thin plate model past max.knots seeds fits to other rows", {
  # Its knots are a random subsample of the data: data, not model. 0.5.1 hashed
  # them into the model key, so no fit of such a model (n > 2000) ever seeded
  # another, and every gam_cv() fold started cold.
  local_store()
  d <- sim_data(2600, seed = 5)
  f <- y ~ s(x0) + s(x1, bs = "cr")
  full <- gam_fit(f, data = d)
  again <- gam_fit(f, data = d)
  part <- gam_fit(f, data = d[1:2300, ])
  cold <- gam_fit(f, data = d[1:2300, ], cache = FALSE)
  expect_equal(again$warm_start$source, "exact")
  expect_equal(part$warm_start$source, "seeded")
  expect_lt(rel_diff(part$fitted.values, cold$fitted.values), 1e-6)
  # Another draw of knots (xt's max.knots) is another exact problem.
  fewer <- gam_fit(y ~ s(x0, xt = list(max.knots = 2100)) + s(x1, bs = "cr"), data = d)
  expect_false(fewer$warm_start$source == "exact")
})

test_that("seeded and resumed fits reach the cold fit's optimum", {
  local_store()
  d1 <- sim_data(1000, seed = 3)
  d2 <- sim_data(1000, seed = 4)
  gam_fit(f4, data = d1)
  seeded <- gam_fit(f4, data = d2)
  cold <- gam_fit(f4, data = d2, cache = FALSE)
  expect_equal(seeded$warm_start$source, "seeded")
  expect_equal(cold$warm_start$source, "cold")
  expect_true(is.na(cold$warm_start$key))
  expect_true(within_outer_tol(seeded$criterion, cold$criterion))
  expect_lt(rel_diff(seeded$fitted.values, cold$fitted.values), 1e-6)

  # A fit stopped by the iteration limit leaves a checkpoint; the same call with a
  # larger limit resumes it.
  local_store()
  expect_warning(partial <- gam_fit(f4, data = d2, control = gam_control(outer_max_iter = 2)), "did not converge")
  expect_false(partial$converged)
  expect_equal(partial$warm_start$source, "cold")
  resumed <- gam_fit(f4, data = d2)
  expect_equal(resumed$warm_start$source, "resumed")
  expect_true(resumed$converged)
  expect_true(within_outer_tol(resumed$criterion, cold$criterion))
  expect_lt(rel_diff(resumed$fitted.values, cold$fitted.values), 1e-6)
  expect_lt(resumed$outer_iterations, cold$outer_iterations)
  # Converged now: the next identical call is exact.
  expect_equal(gam_fit(f4, data = d2)$warm_start$source, "exact")
})

test_that("cache = FALSE, options(warmgam.cache = FALSE) and 'refresh' behave", {
  dir <- local_store()
  d <- sim_data(400)
  off <- gam_fit(f4, data = d, cache = FALSE)
  expect_length(store_files(dir), 0)
  withr::with_options(list(warmgam.cache = FALSE), {
    expect_equal(gam_fit(f4, data = d)$warm_start$source, "cold")
  })
  expect_length(store_files(dir), 0)
  first <- gam_fit(f4, data = d)
  expect_gt(length(store_files(dir)), 0)
  refreshed <- gam_fit(f4, data = d, cache = "refresh")
  expect_equal(refreshed$warm_start$source, "cold")
  expect_gt(refreshed$outer_iterations, 0)
  expect_lt(rel_diff(refreshed$fitted.values, off$fitted.values), 1e-10)
  expect_equal(gam_fit(f4, data = d)$warm_start$source, "exact")
  expect_error(gam_fit(f4, data = d, cache = "yes"), class = "warmgam_error_argument")
  expect_error(gam_fit(f4, data = d, cache = NA), class = "warmgam_error_argument")
  withr::with_options(list(warmgam.cache = "maybe"), {
    expect_error(gam_fit(f4, data = d), class = "warmgam_error_argument")
  })
  withr::with_options(list(warmgam.cache_max_bytes = -1), {
    expect_error(gam_fit(f4, data = d), "warmgam.cache_max_bytes", class = "warmgam_error_argument")
  })
})

test_that("gam_cache_info() and gam_cache_clear() report and empty the store", {
  dir <- local_store()
  empty <- gam_cache_info()
  expect_equal(empty$entries, 0)
  expect_true(is.na(empty$oldest))
  d <- sim_data(400)
  gam_fit(f4, data = d)
  gam_fit(y ~ s(x0, bs = "cr") + s(x1), data = d)
  info <- gam_cache_info(verify = TRUE)
  expect_equal(info$location, dir)
  # Two exact entries and two model-key seeds.
  expect_equal(info$entries, 4)
  expect_equal(info$keys, 4)
  expect_equal(info$damaged, 0)
  expect_gt(info$bytes, 0)
  expect_s3_class(info$newest, "POSIXct")
  expect_equal(gam_cache_clear(), 4)
  expect_equal(gam_cache_info()$entries, 0)
  expect_equal(gam_fit(f4, data = d)$warm_start$source, "cold")
})

test_that("the size budget evicts the oldest entries and never fails a fit", {
  local_store()
  d <- sim_data(400)
  gam_fit(f4, data = d)
  one_fit <- gam_cache_info()$bytes
  withr::local_options(warmgam.cache_max_bytes = 1.5 * one_fit)
  for (k in 6:9) gam_fit(y ~ s(x0, bs = "cr", k = k), data = d)
  expect_lte(gam_cache_info()$bytes, 1.5 * one_fit)
  # A budget too small for any entry: fits still succeed, cold.
  withr::local_options(warmgam.cache_max_bytes = 10)
  again <- gam_fit(f4, data = d, cache = "refresh")
  expect_true(again$converged)
  expect_equal(gam_cache_info()$entries, 0)
})

test_that("damaged store files are skipped, removed, and the store recovers", {
  dir <- local_store()
  d <- sim_data(500)
  reference <- gam_fit(f4, data = d, cache = FALSE)
  damage <- list(
    garbage = function(path) writeBin(as.raw(sample(0:255, 300, replace = TRUE)), path),
    truncated = function(path) {
      bytes <- readBin(path, "raw", file.size(path))
      writeBin(bytes[seq_len(length(bytes) %/% 2)], path)
    },
    flipped = function(path) {
      bytes <- readBin(path, "raw", file.size(path))
      bytes[length(bytes)] <- xor(bytes[length(bytes)], as.raw(1))
      writeBin(bytes, path)
    },
    emptied = function(path) writeBin(raw(0), path),
    deleted = function(path) unlink(dirname(path), recursive = TRUE)
  )
  for (kind in names(damage)) {
    gam_fit(f4, data = d)
    files <- store_files(dir)
    expect_gt(length(files), 0)
    for (path in files) damage[[kind]](path)
    fit <- gam_fit(f4, data = d)
    expect_equal(fit$warm_start$source, "cold", label = kind)
    expect_lt(rel_diff(fit$fitted.values, reference$fitted.values), 1e-10)
    # The damaged files are gone and the store works again.
    expect_equal(gam_cache_info(verify = TRUE)$damaged, 0)
    expect_equal(gam_fit(f4, data = d)$warm_start$source, "exact", label = kind)
    gam_cache_clear()
  }
  # A foreign file in a key directory is never read as an entry.
  gam_fit(f4, data = d)
  key_dir <- dirname(store_files(dir)[[1]])
  writeLines("not an entry", file.path(key_dir, "notes.txt"))
  expect_equal(gam_fit(f4, data = d)$warm_start$source, "exact")
})

test_that("an unwritable store location warns once and the fit still succeeds", {
  blocker <- tempfile()
  writeLines("a file, not a directory", blocker)
  withr::local_options(warmgam.cache_dir = file.path(blocker, "store"))
  flags <- warmgam:::store_problem
  flags$warned <- NULL
  withr::defer(flags$warned <- NULL)
  d <- sim_data(300)
  expect_warning(fit <- gam_fit(f4, data = d), "warm-start store is not available")
  expect_true(fit$converged)
  expect_equal(fit$warm_start$source, "cold")
  expect_no_warning(gam_fit(f4, data = d))
  expect_lt(rel_diff(fit$fitted.values, gam_fit(f4, data = d, cache = FALSE)$fitted.values), 1e-10)
})

test_that("a fit killed mid-optimization resumes from its checkpoint", {
  skip_if_not_installed("callr")
  dir <- local_store()
  bg <- start_slow_fit_until_checkpoint(dir)
  bg$kill() # SIGKILL
  expect_length(store_files(dir, "^final\\.wgs$"), 0)
  model <- slow_model()
  resumed <- gam_fit(model$formula, data = model$data)
  cold <- gam_fit(model$formula, data = model$data, cache = FALSE)
  expect_equal(resumed$warm_start$source, "resumed")
  expect_true(within_outer_tol(resumed$criterion, cold$criterion))
  expect_lt(rel_diff(resumed$fitted.values, cold$fitted.values), 1e-6)
})

test_that("an interrupted fit gives a clean error and its checkpoint is resumed", {
  skip_if_not_installed("callr")
  dir <- local_store()
  bg <- start_slow_fit_until_checkpoint(dir)
  bg$interrupt() # SIGINT, as Ctrl-C
  bg$wait(30000)
  # R's own interrupt condition is signalled (callr reports it as an interrupted
  # process); without a handler for it, the fit ends in an error saying so.
  outcome <- tryCatch(bg$get_result(), error = function(e) conditionMessage(e))
  expect_match(outcome, "interrupted")
  model <- slow_model()
  resumed <- gam_fit(model$formula, data = model$data)
  expect_equal(resumed$warm_start$source, "resumed")
  expect_true(resumed$converged)
})

test_that("eight processes sharing one store all get their cold answers", {
  skip_if_not_installed("callr")
  dir <- local_store()
  d <- sim_data(1500)
  data_path <- tempfile(fileext = ".rds")
  saveRDS(d, data_path)
  formulas <- list(
    y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr"),
    y ~ s(x0, bs = "ps") + s(x2, bs = "cr", k = 15)
  )
  workers <- lapply(1:8, function(i) {
    callr::r_bg(function(data_path, dir, formulas, i) {
      options(warmgam.cache_dir = dir)
      d <- readRDS(data_path)
      # Half the workers fit the shared data, half their own subsample.
      if (i %% 2 == 0) d <- d[seq(i, nrow(d), by = 2), ]
      lapply(formulas, function(f) {
        fit <- warmgam::gam_fit(f, data = d)
        list(source = fit$warm_start$source, fitted = fit$fitted.values, criterion = fit$criterion)
      })
    }, args = list(data_path = data_path, dir = dir, formulas = formulas, i = i))
  })
  for (w in workers) w$wait(120000)
  for (i in seq_along(workers)) {
    expect_equal(workers[[i]]$get_exit_status(), 0)
    got <- workers[[i]]$get_result()
    di <- if (i %% 2 == 0) d[seq(i, nrow(d), by = 2), ] else d
    for (j in seq_along(formulas)) {
      cold <- gam_fit(formulas[[j]], data = di, cache = FALSE)
      expect_true(within_outer_tol(got[[j]]$criterion, cold$criterion))
      expect_lt(rel_diff(got[[j]]$fitted, cold$fitted.values), 1e-6)
    }
  }
  info <- gam_cache_info(verify = TRUE)
  expect_equal(info$damaged, 0)
  expect_length(store_files(dir, "^\\.tmp-"), 0)
})

# Issue 15: the store's hazards found by probing 0.5.1.

store_model <- function() {
  d <- sim_data(400, seed = 21)
  list(formula = y ~ s(x0, bs = "cr") + s(x1, bs = "cr"), data = d)
}

test_that("a FIFO named like an entry is skipped with one warning, not opened (15.1)", {
  skip_on_os("windows")
  skip_if_not_installed("callr")
  dir <- local_store()
  m <- store_model()
  fit <- gam_fit(m$formula, data = m$data)
  key_dir <- file.path(dir, fit$warm_start$key)
  file.remove(file.path(key_dir, "final.wgs"))
  expect_equal(system2("mkfifo", shQuote(file.path(key_dir, "final.wgs"))), 0)
  path <- tempfile(fileext = ".rds")
  saveRDS(m, path)
  # In a child process with a deadline: before, the fit blocked forever.
  out <- callr::r(function(path, dir) {
    options(warmgam.cache_dir = dir)
    m <- readRDS(path)
    warnings <- character()
    fit <- withCallingHandlers(
      warmgam::gam_fit(m$formula, data = m$data),
      warning = function(w) {
        warnings <<- c(warnings, conditionMessage(w))
        invokeRestart("muffleWarning")
      }
    )
    list(source = fit$warm_start$source, warnings = warnings, info = warmgam::gam_cache_info(verify = TRUE))
  }, args = list(path = path, dir = dir), timeout = 60)
  expect_equal(out$source, "seeded")
  expect_length(out$warnings, 1)
  expect_match(out$warnings, "is not a regular file")
})

test_that("a key directory that is a link is never followed (15.2)", {
  skip_on_os("windows")
  dir <- local_store()
  m <- store_model()
  fit <- gam_fit(m$formula, data = m$data)
  key_dir <- file.path(dir, fit$warm_start$key)
  outside <- tempfile("outside-")
  dir.create(outside)
  writeLines("keep me", file.path(outside, "ckpt-a.wgs"))
  writeLines("keep me too", file.path(outside, "seed-b.wgs"))
  unlink(key_dir, recursive = TRUE)
  file.symlink(outside, key_dir)
  expect_warning(again <- gam_fit(m$formula, data = m$data), "does not follow")
  expect_equal(again$warm_start$source, "seeded")
  expect_setequal(list.files(outside, all.files = TRUE, no.. = TRUE), c("ckpt-a.wgs", "seed-b.wgs"))
  gam_cache_clear()
  expect_setequal(list.files(outside, all.files = TRUE, no.. = TRUE), c("ckpt-a.wgs", "seed-b.wgs"))
  expect_equal(readLines(file.path(outside, "ckpt-a.wgs")), "keep me")
})

test_that("an oversized file named like an entry is not read (15.4)", {
  dir <- local_store()
  m <- store_model()
  fit <- gam_fit(m$formula, data = m$data)
  big <- file.path(dir, fit$warm_start$key, "ckpt-big.wgs")
  con <- file(big, "wb")
  seek(con, 2^30 - 1, rw = "write")
  writeBin(as.raw(0), con)
  close(con)
  file.remove(file.path(dir, fit$warm_start$key, "final.wgs"))
  started <- proc.time()[["elapsed"]]
  expect_warning(again <- gam_fit(m$formula, data = m$data), "larger than any entry")
  expect_lt(proc.time()[["elapsed"]] - started, 5) # not a timing test: 1 GiB read took seconds
  expect_false(file.exists(big))
})

test_that("a store others can write to is verified before it is served (15.5)", {
  skip_on_os("windows")
  dir <- local_store()
  m <- store_model()
  cold <- gam_fit(m$formula, data = m$data)
  Sys.chmod(dir, "777", use_umask = FALSE)
  on.exit(Sys.chmod(dir, "700", use_umask = FALSE), add = TRUE)
  expect_warning(hit <- gam_fit(m$formula, data = m$data), "can be written by other users")
  expect_equal(hit$warm_start$source, "exact")
  expect_true(hit$warm_start$verified)
  expect_equal(hit$fitted.values, cold$fitted.values, tolerance = 1e-10)
  # Its seeds are no start (the first fit left one for this model).
  other <- suppressWarnings(gam_fit(m$formula, data = sim_data(400, seed = 22)))
  expect_equal(other$warm_start$source, "cold")
})

test_that("a time limit stops a fit with R's own error, every time (15)", {
  skip_if_not_installed("callr")
  model <- slow_model()
  path <- tempfile(fileext = ".rds")
  saveRDS(model, path)
  for (i in 1:3) {
    out <- callr::r(function(path) {
      m <- readRDS(path)
      warmgam::gam_fit(m$formula, data = m$data, cache = FALSE) # loads what a first call loads
      whole <- system.time(warmgam::gam_fit(m$formula, data = m$data, cache = FALSE))[["elapsed"]]
      limit <- whole / 3
      r <- local({
        setTimeLimit(elapsed = limit, transient = TRUE)
        tryCatch(warmgam::gam_fit(m$formula, data = m$data, cache = FALSE), error = function(e) e)
      })
      setTimeLimit()
      list(class = class(r), message = if (inherits(r, "error")) conditionMessage(r) else "a fit")
    }, args = list(path = path), timeout = 120)
    # Before: a fit object in some runs (R checks the limit at one call in six and
    # the engine called it too rarely), "interrupted by the user" in others.
    expect_true("simpleError" %in% out$class)
    expect_match(out$message, "reached elapsed time limit")
  }
})

test_that("an exact hit serves the cold answer whichever path filed it (15.8)", {
  # Before: a fit resumed from another process's checkpoint filed an answer up to
  # 5e-8 from the cold fit's, and every later exact hit served it.
  d <- sim_data(1500, seed = 3)
  d$count <- rpois(nrow(d), exp(d$f / 4))
  cases <- list(
    list(formula = y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr") + s(x3, bs = "cr"), family = gaussian()),
    list(formula = count ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr") + s(x3, bs = "cr"), family = poisson())
  )
  for (case in cases) {
    cold <- gam_fit(case$formula, data = d, family = case$family, cache = FALSE)
    for (stop_at in 1:5) {
      local_store()
      suppressWarnings(gam_fit(case$formula, data = d, family = case$family,
                               control = gam_control(outer_max_iter = stop_at)))
      resumed <- gam_fit(case$formula, data = d, family = case$family)
      hit <- gam_fit(case$formula, data = d, family = case$family)
      expect_equal(hit$warm_start$source, "exact")
      expect_lt(rel_diff(hit$fitted.values, cold$fitted.values), 1e-8) # the tests' demand of any fit
    }
    # Filed by a fit seeded from another sample's.
    local_store()
    gam_fit(case$formula, data = d[seq(1, nrow(d), by = 2), ], family = case$family)
    seeded <- gam_fit(case$formula, data = d, family = case$family)
    expect_equal(seeded$warm_start$source, "seeded")
    hit <- gam_fit(case$formula, data = d, family = case$family)
    expect_lt(rel_diff(hit$fitted.values, cold$fitted.values), 1e-8)
  }
})

test_that("a seeded fit says what its seed's own fit took (issue 21)", {
  local_store()
  d <- sim_data(400, seed = 31)
  f <- y ~ s(x0, bs = "cr") + s(x1, bs = "cr") + s(x2, bs = "cr")
  first <- gam_fit(f, data = d)
  seeded <- gam_fit(f, data = sim_data(400, seed = 32))
  expect_equal(seeded$warm_start$source, "seeded")
  expect_equal(seeded$warm_start$seed_outer_iterations, first$outer_iterations)
  expect_output(print(seeded), sprintf("against %d for the seed", first$outer_iterations))
  expect_true(is.na(first$warm_start$seed_outer_iterations))
})

test_that("a seeded fit that starts by performance iteration searches as a cold one (issue 21)", {
  # From 1e4 rows a binomial fit starts from performance iteration. Run from the
  # seed's smoothing parameters (another sample's optimum, some of them on a
  # plateau), this model took 4 outer iterations against 3 from the cold start; it
  # now starts as a cold fit does and gives the cold fit, iteration for iteration.
  skip_if_not_installed("mgcv")
  local_store()
  set.seed(2)
  n <- 2e4
  d <- mgcv::gamSim(1, n = n, dist = "normal", scale = 1, verbose = FALSE)
  invisible(stats::rnbinom(n, mu = exp(d$f / 4), size = 3))
  invisible(stats::rgamma(n, shape = 2, rate = 2))
  d$g <- factor(sample(letters[1:10], n, replace = TRUE))
  d$hit <- stats::rbinom(n, 1, stats::plogis((d$f - mean(d$f)) / 3 + 0.3 * (as.integer(d$g) - 5.5) / 5))
  f <- hit ~ s(x0) + s(x1) + s(x2) + ti(x0, x1) + ti(x1, x2) + s(x0, g, bs = "fs", k = 5) + s(g, bs = "re")
  invisible(gam_fit(f, data = d, family = binomial()))
  train <- d[seq_len(n) %% 5 != 0, ]
  seeded <- gam_fit(f, data = train, family = binomial())
  cold <- gam_fit(f, data = train, family = binomial(), cache = FALSE)
  expect_equal(seeded$warm_start$source, "seeded")
  expect_equal(seeded$outer_iterations, cold$outer_iterations)
  expect_equal(fitted(seeded), fitted(cold), tolerance = 1e-12)
})

test_that("sampled knots are drawn only when the store has no exact hit (issue 21)", {
  # Above 2000 rows a thin plate spline's knots are a random subsample of the data
  # (mgcv's max.knots), 13 ms per covariate at 1e5 rows: an exact hit skips it.
  local_store()
  draws <- new.env()
  draws$n <- 0
  suppressMessages(trace("tp_subsample", tracer = bquote(assign("n", get("n", .(draws)) + 1, envir = .(draws))), print = FALSE,
                         where = asNamespace("warmgam")))
  on.exit(untrace("tp_subsample", where = asNamespace("warmgam")), add = TRUE)
  d <- sim_data(2500, seed = 5)
  f <- y ~ s(x0) + s(x1, bs = "cr")
  drawn <- gam_fit(f, data = d, cache = "refresh")
  expect_equal(draws$n, 1)
  hit <- gam_fit(f, data = d)
  expect_identical(hit$warm_start$source, "exact")
  expect_equal(draws$n, 1) # not drawn again
  expect_identical(fitted(hit), fitted(drawn))
  expect_identical(hit$smooth[[1]]$label, "s(x0)")
  expect_equal(predict(hit, d[1:20, ]), predict(drawn, d[1:20, ]), tolerance = 1e-12)
  # How the knots are drawn is part of the model: another max.knots, seed or random
  # number generator kind is another fit, whose knots are drawn.
  fewer <- gam_fit(y ~ s(x0, xt = list(max.knots = 2200)) + s(x1, bs = "cr"), data = d)
  expect_false(identical(fewer$warm_start$source, "exact"))
  reference <- gam_fit(y ~ s(x0, xt = list(max.knots = 2200)) + s(x1, bs = "cr"), data = d, cache = FALSE)
  expect_lt(rel_diff(fitted(fewer), fitted(reference)), 1e-8) # (seeded by the fit above)
  old <- suppressWarnings(RNGkind(sample.kind = "Rounding"))
  on.exit(RNGkind(sample.kind = old[[3]]), add = TRUE)
  rounding <- suppressWarnings(gam_fit(f, data = d))
  # (Its knots are data: it is seeded by the fits above, as gam_cv()'s folds, whose
  # workers draw with another generator kind, are seeded by the full-data fit.)
  expect_identical(rounding$warm_start$source, "seeded")
  expect_lt(rel_diff(fitted(rounding), fitted(suppressWarnings(gam_fit(f, data = d, cache = FALSE)))), 1e-8)
  RNGkind(sample.kind = old[[3]])
  # A miss draws them as a fit without the store does (the same knots, the same fit).
  local_store()
  fresh <- gam_fit(f, data = d)
  expect_identical(fresh$warm_start$source, "cold")
  expect_identical(fitted(fresh), fitted(gam_fit(f, data = d, cache = FALSE)))
})
