# Simulated data without mgcv: the generators of mgcv's gamSim() (examples 1, 2, 4
# and 6) and rTweedie(), written from their definitions so that the same seed gives
# the same numbers (test-fixtures.R checks that against mgcv when it is installed).
# Every draw is made in mgcv's order; nothing else may draw in between.

# Gu & Wahba's four-term additive model (Wood 2017, sec. 7.2): the three effects.
gu_wahba_effects <- list(
  f0 = function(x) 2 * sin(pi * x),
  f1 = function(x) exp(2 * x),
  f2 = function(x) 0.2 * x^11 * (10 * (1 - x))^6 + 10 * (10 * x)^3 * (1 - x)^10
)

# Response draws for a linear predictor on gamSim's scale: Gaussian noise of sd
# `scale`, Poisson with log mean `f * scale`, or 0/1 with logit `(f - 5) * scale`.
# Returns the response and the (possibly transformed) truth `f`.
gam_sim_response <- function(f, dist, scale) {
  n <- length(f)
  switch(dist,
    normal = list(y = f + stats::rnorm(n, 0, scale), f = f),
    poisson = {
      mu <- exp(f * scale)
      list(y = stats::rpois(n, mu), f = log(mu))
    },
    binary = {
      eta <- (f - 5) * scale
      p <- stats::binomial()$linkinv(eta)
      list(y = stats::rbinom(n, 1, p), f = eta)
    },
    stop("dist not recognised: ", dist)
  )
}

# mgcv::gamSim(eg, n, dist, scale) for eg 1, 2, 4 and 6, as a data frame (eg 2: the
# list of data, truth grid and prediction grid, as gamSim).
gam_sim <- function(eg = 1, n = 400, dist = "normal", scale = 2) {
  switch(as.character(eg),
    "1" = gam_sim_additive(n, dist, scale),
    "2" = gam_sim_bivariate(n, scale),
    "4" = gam_sim_factor_by(n, scale),
    "6" = gam_sim_random_effect(n, dist, scale),
    stop("gam_sim() has no example ", eg)
  )
}

gam_sim_additive <- function(n, dist, scale) {
  x <- lapply(1:4, function(i) stats::runif(n, 0, 1)) # x0, x1, x2, x3 in this order
  parts <- Map(function(f, xi) f(xi), gu_wahba_effects, x[1:3])
  r <- gam_sim_response(parts$f0 + parts$f1 + parts$f2, dist, scale)
  data.frame(y = r$y, x0 = x[[1]], x1 = x[[2]], x2 = x[[3]], x3 = x[[4]], f = r$f,
             f0 = parts$f0, f1 = parts$f1, f2 = parts$f2, f3 = x[[4]] * 0)
}

gam_sim_bivariate <- function(n, scale) {
  bumps <- function(x, z, sx = 0.3, sz = 0.4) {
    (pi^sx * sz) * (1.2 * exp(-(x - 0.2)^2 / sx^2 - (z - 0.3)^2 / sz^2) +
                      0.8 * exp(-(x - 0.7)^2 / sx^2 - (z - 0.8)^2 / sz^2))
  }
  x <- stats::runif(n)
  z <- stats::runif(n)
  grid <- seq(0, 1, length.out = 40)
  pr <- data.frame(x = rep(grid, 40), z = rep(grid, each = 40))
  f <- bumps(x, z)
  y <- f + stats::rnorm(n) * scale
  list(data = data.frame(y = y, x = x, z = z, f = f),
       truth = list(x = grid, z = grid, f = matrix(bumps(pr$x, pr$z), 40, 40)),
       pr = pr)
}

gam_sim_factor_by <- function(n, scale) {
  x0 <- stats::runif(n, 0, 1)
  x1 <- stats::runif(n, 0, 1)
  x2 <- stats::runif(n, 0, 1)
  f1 <- gu_wahba_effects$f0(x2)
  f2 <- gu_wahba_effects$f1(x2) - 3.75887
  f3 <- gu_wahba_effects$f2(x2)
  e <- stats::rnorm(n, 0, scale)
  fac <- as.factor(sample(1:3, n, replace = TRUE))
  y <- f1 * (fac == 1) + f2 * (fac == 2) + f3 * (fac == 3) + e
  data.frame(y = y, x0 = x0, x1 = x1, x2 = x2, fac = fac, f1 = f1, f2 = f2, f3 = f3)
}

gam_sim_random_effect <- function(n, dist, scale) {
  d <- gam_sim_additive(n, "normal", 0) # rnorm(n, 0, 0) draws nothing
  group <- rep(1:4, n / 4)
  d$f <- d$f + group * 3
  d$fac <- as.factor(group)
  d$y <- switch(dist,
    normal = d$f + stats::rnorm(n) * scale,
    poisson = stats::rpois(n, exp(d$f * scale)),
    binary = {
      p <- stats::binomial()$linkinv((d$f - 5) * scale)
      stats::rbinom(n, 1, p)
    }
  )
  d
}

# mgcv::rTweedie(mu, p, phi): a compound Poisson sum of gamma variables. The sums
# are formed one addition at a time in draw order, as mgcv's C routine does.
r_tweedie <- function(mu, p = 1.5, phi = 1) {
  lambda <- mu^(2 - p) / ((2 - p) * phi)
  shape <- (2 - p) / (p - 1)
  scale <- phi * (p - 1) * mu^(p - 1)
  counts <- stats::rpois(length(lambda), lambda)
  draws <- stats::rgamma(sum(counts), shape = shape, scale = rep(scale, counts))
  owner <- rep(seq_along(counts), counts)
  y <- numeric(length(mu))
  for (j in seq_along(draws)) y[owner[j]] <- y[owner[j]] + draws[j]
  y
}
