# Davies' (1980, Applied Statistics 29:323-333, algorithm AS 155) distribution
# function of a linear combination of chi-squared variables, as mgcv's summary.gam()
# uses it (all central, no normal term, acc = 2e-5, lim = 1e5), so that the smooth
# terms' p-values are mgcv's. Written from the algorithm's description in
# tools/notes/criterion.md section 4.4; an inversion of the characteristic function
# to full precision (Imhof) differs from mgcv's values by up to Davies' 2e-5.

# log(1 + x) - x, accurate near 0.
log1pmx <- function(x) {
  if (x > 1 || x < -0.79149064) return(log1p(x) - x)
  r <- x / (2 + x); y <- r * r; s <- 0; k <- 0; term <- 1
  repeat { t <- y^k / (2 * k + 3); s <- s + t; if (t < 1e-17 * s) break; k <- k + 1 }
  r * (2 * y * s - x)
}

# P(sum_j lb_j chi^2_{n_j} > q); an error when the series needs more than `lim` terms.
davies_upper <- function(q, lb, n = rep(1, length(lb)), lim = 1e5, acc = 2e-5) {
  r <- length(lb); nc <- rep(0, r); n <- round(n)
  th <- order(abs(lb), decreasing = TRUE)
  errbd <- function(u, sigsq) {
    cx <- u * sigsq; s1 <- u * cx; u2 <- 2 * u
    for (j in r:1) { x <- u2 * lb[j]; y <- 1 - x; cx <- cx + lb[j] * (nc[j] / y + n[j]) / y
      xy <- x / y; s1 <- s1 + nc[j] * xy^2 + n[j] * (x * xy + log1pmx(-x)) }
    list(b = exp(-0.5 * s1), cx = cx)
  }
  ctff <- function(accx, upn, mean, lmin, lmax, sigsq) {
    u2 <- upn; u1 <- 0; c1 <- mean; rb <- if (u2 > 0) 2 * lmax else 2 * lmin
    repeat { e <- errbd(u2 / (1 + u2 * rb), sigsq); c2 <- e$cx; if (e$b <= accx) break
             u1 <- u2; c1 <- c2; u2 <- 2 * u2 }
    while ((c1 - mean) / (c2 - mean) < 0.9) {
      u <- (u1 + u2) / 2; e <- errbd(u / (1 + u * rb), sigsq)
      if (e$b > accx) { u1 <- u; c1 <- e$cx } else { u2 <- u; c2 <- e$cx } }
    list(c = c2, up = u2)
  }
  trunc_err <- function(u, tausq, sigsq) {
    s1 <- 0; p2 <- 0; p3 <- 0; s <- 0; s2 <- (sigsq + tausq) * u^2; p1 <- 2 * s2; u <- 2 * u
    for (j in 1:r) { x <- (u * lb[j])^2; s1 <- s1 + nc[j] * x / (1 + x)
      if (x > 1) { p2 <- p2 + n[j] * log(x); p3 <- p3 + n[j] * log1p(x); s <- s + n[j] }
      else p1 <- p1 + n[j] * log1p(x) }
    s1 <- s1 / 2; p2 <- p2 + p1; p3 <- p3 + p1
    x <- exp(-s1 - p2 / 4) / pi; y <- exp(-s1 - p3 / 4) / pi
    e1 <- if (s == 0) 1 else 2 * x / s; e2 <- if (p3 > 1) 2.5 * y else 1
    e1 <- min(e1, e2); x <- s2 / 2; e2 <- if (x <= y) 1 else y / x
    min(e1, e2)
  }
  findu <- function(utx, accx, sigsq) {
    ut <- utx; u <- ut / 4
    if (trunc_err(u, 0, sigsq) > accx) { while (trunc_err(ut, 0, sigsq) > accx) ut <- ut * 4 }
    else { ut <- u; u <- u / 4; while (trunc_err(u, 0, sigsq) <= accx) { ut <- u; u <- u / 4 } }
    for (a in c(2, 1.4, 1.2, 1.1)) { u <- ut / a; if (trunc_err(u, 0, sigsq) <= accx) ut <- u }
    ut
  }
  integ <- function(nterm, intv, tausq, main, cc, sigsq) {
    il <- 0; es <- 0
    for (k in nterm:0) {
      u <- (k + 0.5) * intv; s1 <- -2 * u * cc; s2 <- abs(s1); s3 <- -0.5 * sigsq * u^2
      for (j in r:1) { x <- 2 * lb[j] * u; y <- x^2; s3 <- s3 - 0.25 * n[j] * log1p(y)
        y <- nc[j] * x / (1 + y); z <- n[j] * atan(x) + y; s1 <- s1 + z; s2 <- s2 + abs(z)
        s3 <- s3 - 0.5 * x * y }
      x <- intv / pi * exp(s3) / u
      if (!main) x <- x * (1 - exp(-0.5 * tausq * u^2))
      il <- il + sin(0.5 * s1) * x; es <- es + 0.5 * s2 * x
    }
    c(il, es)
  }
  cfe <- function(x) {
    ln28 <- log(2) / 8; axl <- abs(x); sxl <- if (x < 0) -1 else 1; s1 <- 0
    for (j in r:1) { t <- th[j]
      if (lb[t] * sxl > 0) { lj <- abs(lb[t]); axl1 <- axl - lj * (n[t] + nc[t]); axl2 <- lj / ln28
        if (axl1 > axl2) axl <- axl1 else {
          if (axl > axl2) axl <- axl2
          s1 <- (axl - axl1) / lj
          if (j > 1) s1 <- s1 + sum(n[th[1:(j - 1)]] + nc[th[1:(j - 1)]])
          break } } }
    if (s1 > 100) list(v = 1, fail = TRUE) else list(v = 2^(s1 / 4) / (pi * axl^2), fail = FALSE)
  }
  rnd <- function(x) { k <- floor(x); if (x - k > 0.5) k + 1 else k }
  cc <- q; sigsq <- 0
  sd <- sum(lb^2 * (2 * n + 4 * nc)); mean <- sum(lb * (n + nc))
  lmax <- max(0, lb); lmin <- min(0, lb)
  if (sd == 0) return(if (cc > 0) 0 else 1)
  sd <- sqrt(sd); almx <- max(lmax, -lmin)
  utx <- 16 / sd; up <- 4.5 / sd; un <- -up
  utx <- findu(utx, 0.5 * acc, sigsq)
  if (cc != 0 && almx > 0.07 * sd) {
    cf <- cfe(cc); tausq <- 0.25 * acc / cf$v
    if (!cf$fail && trunc_err(utx, tausq, sigsq) < 0.2 * acc) {
      sigsq <- sigsq + tausq; utx <- findu(utx, 0.25 * acc, sigsq) }
  }
  acc1 <- 0.5 * acc; intl <- 0; ersm <- 0
  repeat {
    ct <- ctff(acc1, up, mean, lmin, lmax, sigsq); up <- ct$up; d1 <- ct$c - cc
    if (d1 < 0) return(0)                       # P(Q<c)=1
    ct <- ctff(acc1, un, mean, lmin, lmax, sigsq); un <- ct$up; d2 <- cc - ct$c
    if (d2 < 0) return(1)                       # P(Q<c)=0
    intv <- 2 * pi / max(d1, d2)
    nt <- rnd(utx / intv); ntm <- rnd(3 / sqrt(acc1))
    if (nt > ntm * 1.5) {
      intv1 <- utx / ntm; x <- 2 * pi / intv1
      if (x <= abs(cc)) break
      ca <- cfe(cc - x); cb <- cfe(cc + x)
      tausq <- 0.33 * acc1 / (1.1 * (ca$v + cb$v))
      if (cb$fail) break
      acc1 <- 0.67 * acc1
      if (ntm > lim) stop("davies: lim exceeded")
      ie <- integ(ntm, intv1, tausq, FALSE, cc, sigsq); intl <- intl + ie[1]; ersm <- ersm + ie[2]
      lim <- lim - ntm; sigsq <- sigsq + tausq
      utx <- findu(utx, 0.25 * acc1, sigsq); acc1 <- 0.75 * acc1
    } else break
  }
  if (nt > lim) stop("davies: lim exceeded")
  ie <- integ(nt, intv, 0, TRUE, cc, sigsq); intl <- intl + ie[1]
  1 - (0.5 - intl)                              # upper tail
}
