## Reference re-implementations of mgcv 1.8-41 1-D basis construction,
## written from the mathematical specification in bases.md (no mgcv code used
## except for comparison). Run: Rscript bases_check.R
suppressMessages(library(mgcv))
mad <- function(a, b) max(abs(as.matrix(a) - as.matrix(b)))
report <- function(what, a, b) cat(sprintf("%-48s max|diff| = %.3g   rel = %.3g\n", what, mad(a, b),
                                          mad(a, b) / max(abs(as.matrix(b)))))

## ---------- helpers -------------------------------------------------------
## R's seq(from,to,length.out=L) for doubles
rseq <- function(from, to, L) {
  if (L == 1) return(from)
  if (L == 2) return(c(from, to))
  n1 <- L - 1
  c(from, from + (1:(L - 2)) * ((to - from) / n1), to)
}
## R quantile type 7 on a vector (probabilities p)
q7 <- function(x, p) {
  x <- sort(x); n <- length(x)
  idx <- 1 + (n - 1) * p
  lo <- floor(idx); hi <- ceiling(idx)
  qs <- x[lo]
  h <- idx - lo
  i <- which(idx > lo & x[hi] != qs)
  qs[i] <- (1 - h[i]) * qs[i] + h[i] * x[hi[i]]
  qs
}
## sum-to-zero constraint absorption (LINPACK dqrdc2 Householder, 1 column)
## C: length-k constraint vector. Returns list(Z) with Z k x (k-1), so that
## X %*% Z is the constrained model matrix, t(Z) S Z the constrained penalty.
sumzero_Z <- function(C) {
  k <- length(C)
  nrm <- sqrt(sum(C^2))
  if (C[1] != 0) nrm <- sign(C[1]) * nrm
  u <- C / nrm
  u[1] <- 1 + u[1]          # LINPACK stores u with u[1] = 1 + c1/nrm, tau = u[1]
  ## H = I - u u' / u[1]   (symmetric, orthogonal); Q = H; Z = H[, 2:k]
  H <- diag(k) - tcrossprod(u) / u[1]
  H[, 2:k, drop = FALSE]
}
## apply Z' to columns of A without forming H (what qr.qty does):
qty_drop1 <- function(C, A) {
  k <- length(C); nrm <- sqrt(sum(C^2)); if (C[1] != 0) nrm <- sign(C[1]) * nrm
  u <- C / nrm; u[1] <- 1 + u[1]
  A <- as.matrix(A)
  A - u %*% (crossprod(u, A) / u[1])
}
absorb <- function(X, S, C = colMeans(X)) {
  k <- ncol(X)
  indi <- which(C != 0)                       # exact-zero entries of C are excluded
  if (length(indi) == k) {                    # usual case
    XZ <- t(qty_drop1(C, t(X))[-1, , drop = FALSE])
    ZS <- qty_drop1(C, S)[-1, , drop = FALSE]
    ZSZ <- t(qty_drop1(C, t(ZS))[-1, , drop = FALSE])
    return(list(X = XZ, S = ZSZ))
  }
  ## some C_j == 0: Householder on C[indi] only; transformed columns go to the
  ## positions indi[1:(nx-1)], the column indi[nx] is deleted, others untouched
  nx <- length(indi); Ci <- C[indi]
  X[, indi[-nx]] <- t(qty_drop1(Ci, t(X[, indi, drop = FALSE]))[-1, , drop = FALSE])
  X <- X[, -indi[nx], drop = FALSE]
  S[indi[-nx], ] <- qty_drop1(Ci, S[indi, , drop = FALSE])[-1, , drop = FALSE]
  S <- S[-indi[nx], , drop = FALSE]
  S[, indi[-nx]] <- t(qty_drop1(Ci, t(S[, indi, drop = FALSE]))[-1, , drop = FALSE])
  S <- S[, -indi[nx], drop = FALSE]
  list(X = X, S = S)
}
scale_pen <- function(X, S) {
  maXX <- max(rowSums(abs(X)))^2          # norm(X,"I")^2
  maS <- max(colSums(abs(S))) / maXX       # norm(S,"O")/maXX
  list(S = S / maS, S.scale = maS)
}

## ---------- bs = "cr" -------------------------------------------------------
cr_knots <- function(x, nk) q7(unique(x), rseq(0, 1, nk))
cr_FS <- function(xk) {
  n <- length(xk); h <- diff(xk)
  D <- matrix(0, n - 2, n); B <- matrix(0, n - 2, n - 2)
  for (i in 1:(n - 2)) {
    D[i, i] <- 1 / h[i]; D[i, i + 1] <- -1 / h[i] - 1 / h[i + 1]; D[i, i + 2] <- 1 / h[i + 1]
    B[i, i] <- (h[i] + h[i + 1]) / 3
    if (i < n - 2) { B[i, i + 1] <- h[i + 1] / 6; B[i + 1, i] <- h[i + 1] / 6 }
  }
  BiD <- solve(B, D)
  Fm <- rbind(0, BiD, 0)            # knot values -> second derivatives at knots
  S <- t(D) %*% BiD; S <- (S + t(S)) / 2
  list(F = Fm, S = S)
}
cr_X <- function(x, xk, Fm) {
  n <- length(x); nk <- length(xk); X <- matrix(0, n, nk)
  for (i in seq_len(n)) {
    xi <- x[i]
    if (xi < xk[1]) {
      h <- xk[2] - xk[1]; d <- xi - xk[1]
      X[i, ] <- -d * h / 3 * Fm[1, ] - d * h / 6 * Fm[2, ]
      X[i, 1] <- X[i, 1] + 1 - d / h; X[i, 2] <- X[i, 2] + d / h
    } else if (xi > xk[nk]) {
      h <- xk[nk] - xk[nk - 1]; d <- xi - xk[nk]
      X[i, ] <- d * h / 6 * Fm[nk - 1, ] + d * h / 3 * Fm[nk, ]
      X[i, nk - 1] <- X[i, nk - 1] - d / h; X[i, nk] <- X[i, nk] + 1 + d / h
    } else {
      j <- max(1, min(nk - 1, findInterval(xi, xk, left.open = TRUE)))  # xk[j] <= xi <= xk[j+1]
      h <- xk[j + 1] - xk[j]; am <- xk[j + 1] - xi; ap <- xi - xk[j]
      cm <- am * (am * am / h - h) / 6; cp <- ap * (ap * ap / h - h) / 6
      X[i, ] <- cm * Fm[j, ] + cp * Fm[j + 1, ]
      X[i, j] <- X[i, j] + am / h; X[i, j + 1] <- X[i, j + 1] + ap / h
    }
  }
  X
}

## ---------- bs = "cc" -------------------------------------------------------
cc_knots <- function(x, nk) {        # mgcv place.knots()
  x <- sort(unique(x)); n <- length(x)
  if (nk == 2) return(range(x))
  delta <- (n - 1) / (nk - 1); i <- 1:(nk - 2)
  lbi <- floor(delta * i) + 1; frac <- delta * i + 1 - lbi
  c(x[1], x[lbi] * (1 - frac) + x[lbi + 1] * frac, x[n])
}
cc_BD <- function(xk) {
  h <- diff(xk); n <- length(h)   # n = nk-1 = number of coefficients
  B <- D <- matrix(0, n, n)
  for (i in 1:n) {
    im <- if (i == 1) n else i - 1      # cyclic neighbours
    ip <- if (i == n) 1 else i + 1
    B[i, im] <- h[im] / 6; B[i, i] <- (h[im] + h[i]) / 3; B[i, ip] <- h[i] / 6
    D[i, im] <- 1 / h[im]; D[i, i] <- -(1 / h[im] + 1 / h[i]); D[i, ip] <- 1 / h[i]
  }
  BD <- solve(B, D); S <- t(D) %*% BD; S <- (S + t(S)) / 2
  list(BD = BD, S = S)
}
cc_X <- function(x, xk, BD) {
  nk <- length(xk); x0 <- xk[1]; x1 <- xk[nk]; P <- x1 - x0
  x <- ifelse(x > x1, x0 + (x - x1) %% P, ifelse(x < x0, x1 - (x0 - x) %% P, x))
  X <- matrix(0, length(x), nk - 1); I <- diag(nk - 1)
  for (r in seq_along(x)) {
    j <- min(which(xk[2:nk] >= x[r])) + 1   # smallest j>=2 with x <= xk[j]
    j1 <- j - 1; h <- xk[j] - xk[j1]; jj <- if (j == nk) 1 else j
    am <- xk[j] - x[r]; ap <- x[r] - xk[j1]
    X[r, ] <- BD[j1, ] * (am^3 / (6 * h) - h * am / 6) + BD[jj, ] * (ap^3 / (6 * h) - h * ap / 6) +
              I[j1, ] * am / h + I[jj, ] * ap / h
  }
  X
}

## ---------- bs = "ps" -------------------------------------------------------
ps_knots <- function(x, k, m1 = 2) {
  nk <- k - m1
  xl <- min(x); xu <- max(x); xr <- xu - xl
  xl <- xl - xr * 0.001; xu <- xu + xr * 0.001
  dx <- (xu - xl) / (nk - 1)
  rseq(xl - dx * (m1 + 1), xu + dx * (m1 + 1), nk + 2 * m1 + 2)
}
## Cox-de Boor: value (deriv=0) or first derivative (deriv=1) of all B-splines
## of order ord (degree ord-1) on knot vector kn at points x (kn[ord] <= x <= kn[nb+1]).
bspl <- function(x, kn, ord, deriv = 0) {
  nb <- length(kn) - ord
  B <- matrix(0, length(x), nb)
  for (r in seq_along(x)) {
    xi <- x[r]
    ## interval: kn[i] <= xi < kn[i+1], restricted to ord..nb (right end closed)
    i <- findInterval(xi, kn, rightmost.closed = FALSE)
    i <- min(max(i, ord), nb)
    b <- 1                              # order-1 spline on [kn[i], kn[i+1])
    p <- if (deriv) ord - 1 else ord
    if (p >= 2) for (q in 2:p) {        # raise order to p
      bn <- numeric(q)
      for (s in 1:(q - 1)) {            # B_{i-q+s} ... using b[s]
        jj <- i - q + 1 + s              # index of spline whose support starts at kn[jj]
        w <- (xi - kn[jj]) / (kn[jj + q - 1] - kn[jj])
        bn[s] <- bn[s] + (1 - w) * b[s]
        bn[s + 1] <- bn[s + 1] + w * b[s]
        ## note b[s] is spline starting at kn[jj] with order q-1, moving up
      }
      b <- bn
    }
    if (deriv) {                        # d/dx B_{j,ord} = (ord-1)[B_{j,ord-1}/(t_{j+ord-1}-t_j) - B_{j+1,ord-1}/(t_{j+ord}-t_{j+1})]
      bd <- numeric(ord)
      for (s in 1:(ord - 1)) {
        jj <- i - ord + 1 + s
        v <- (ord - 1) * b[s] / (kn[jj + ord - 1] - kn[jj])
        bd[s] <- bd[s] - v; bd[s + 1] <- bd[s + 1] + v
      }
      b <- bd
    }
    B[r, (i - ord + 1):i] <- b
  }
  B
}
ps_X <- function(x, kn, m1 = 2) {
  ord <- m1 + 2
  ll <- kn[m1 + 2]; ul <- kn[length(kn) - m1 - 1]
  X <- matrix(0, length(x), length(kn) - ord)
  inr <- x >= ll & x <= ul
  if (any(inr)) X[inr, ] <- bspl(x[inr], kn, ord)
  lo <- x < ll; hi <- x > ul
  if (any(lo)) X[lo, ] <- outer(rep(1, sum(lo)), bspl(ll, kn, ord)[1, ]) + outer(x[lo] - ll, bspl(ll, kn, ord, 1)[1, ])
  if (any(hi)) X[hi, ] <- outer(rep(1, sum(hi)), bspl(ul, kn, ord)[1, ]) + outer(x[hi] - ul, bspl(ul, kn, ord, 1)[1, ])
  X
}
ps_S <- function(k, m2 = 2) { D <- diag(k); for (i in seq_len(m2)) D <- diff(D); crossprod(D) }

## ---------- bs = "tp" -------------------------------------------------------
tp_default_m <- function(d) { m <- 0; while (2 * m < d + 2) m <- m + 1; m }  # used when 2m<=d (incl. m=0 default)
tp_eta_const <- function(m, d) {       # same operation order as mgcv's C eta_const()
  d2 <- d %/% 2
  if (d %% 2 == 0) {
    f <- if ((m + 1 + d2) %% 2) -1 else 1
    for (i in seq_len(2 * m - 1)) f <- f / 2
    for (i in seq_len(d2)) f <- f / pi
    if (m > 2) for (i in 2:(m - 1)) f <- f / i
    if (m - d2 >= 2) for (i in 2:(m - d2)) f <- f / i
  } else {
    f <- sqrt(pi); kk <- m - (d - 1) / 2
    for (i in seq_len(kk) - 1) f <- f / (-0.5 - i)
    for (i in seq_len(m)) f <- f / 4
    for (i in seq_len(d2)) f <- f / pi
    f <- f / sqrt(pi)
    if (m > 2) for (i in 2:(m - 1)) f <- f / i
  }
  f     # = (-1)^(m+1+d/2) / (2^(2m-1) pi^(d/2) (m-1)! (m-d/2)!)   (d even)
        # = Gamma(d/2-m) / (2^(2m) pi^(d/2) (m-1)!)                  (d odd)
}
tp_eta <- function(r2, m, d) {          # r2 = squared distance; eta(0) = 0
  f <- tp_eta_const(m, d); d2 <- d %/% 2; out <- r2 * 0; ok <- r2 > 0; r <- r2[ok]
  if (d %% 2 == 0) { g <- f * (log(r) * 0.5); for (i in seq_len(m - d2)) g <- g * r }
  else { g <- rep(f, length(r)); for (i in seq_len(m - d2 - 1)) g <- g * r; g <- g * sqrt(r) }
  out[ok] <- g
  out
}
tp_powers <- function(m, d) {           # null-space monomial powers, mgcv order
  M <- choose(m + d - 1, d); P <- matrix(0L, M, d); idx <- integer(d)
  for (i in 1:M) {
    P[i, ] <- idx
    if (sum(idx) < m - 1) idx[1] <- idx[1] + 1L else {
      s <- sum(idx) - idx[1]; idx[1] <- 0L
      if (d > 1) for (j in 2:d) { idx[j] <- idx[j] + 1L; s <- s + 1; if (s == m) { s <- s - idx[j]; idx[j] <- 0L } else break }
    }
  }
  P
}
tp_T <- function(X, P) { T <- matrix(1, nrow(X), nrow(P)); for (j in 1:nrow(P)) for (l in 1:ncol(X)) T[, j] <- T[, j] * X[, l]^P[j, l]; T }
tp_E <- function(Xu, m) {
  d <- ncol(Xu); r2 <- 0
  for (l in 1:d) r2 <- r2 + outer(Xu[, l], Xu[, l], "-")^2
  tp_eta(r2, m, d)
}
## mgcv's "QT" factorisation: A (M x k) -> A Q = [0, R] with Q = H_1 ... H_M.
## Row i (1-based) of the (progressively transformed) A uses elements 1..(k-i+1),
## reflecting them onto element k-i+1.  Returns Q explicitly (k x k).
tp_QT <- function(A) {
  M <- nrow(A); k <- ncol(A); Q <- diag(k)
  for (i in 1:M) {
    L <- k - i + 1; a <- A[i, 1:L]
    sc <- max(abs(a)); if (sc > 0) a <- a / sc
    nrm <- sqrt(sum(a^2)); if (a[L] < 0) nrm <- -nrm
    u <- numeric(k); u[1:L] <- a; u[L] <- u[L] + nrm
    H <- diag(k) - 2 * tcrossprod(u) / sum(u^2)
    A <- A %*% H; Q <- Q %*% H
  }
  Q
}
## Lanczos-like truncated eigen-decomposition, emulated with a full symmetric
## eigen-decomposition: keep k eigenvalues of largest |value|; order = the
## selected positive ones in decreasing order, then the selected negative ones
## in decreasing order (i.e. least negative first).  Signs: see bases.md.
tp_eig <- function(E, k, sign_rule = c("first_nonzero_pos", "none")) {
  es <- eigen(E, symmetric = TRUE)        # decreasing order
  n <- nrow(E); pi_ <- 0; ni_ <- 0
  while (pi_ + ni_ < k) { if (abs(es$values[pi_ + 1]) >= abs(es$values[n - ni_])) pi_ <- pi_ + 1 else ni_ <- ni_ + 1 }
  ind <- c(seq_len(pi_), if (ni_) (n - ni_ + 1):n)
  list(values = es$values[ind], vectors = es$vectors[, ind, drop = FALSE])
}
## full tp construction. x: n x d matrix (raw covariates); knots: optional
## nk x d matrix of raw knot locations (used only if nk >= k).  `eig` = routine
## returning the k selected eigenpairs of E (default: faithful mgcv Lanczos).
tp_construct <- function(x, k, m = 0, knots = NULL, eig = mgcv_lanczos) {
  x <- as.matrix(x); n <- nrow(x); d <- ncol(x)
  shift <- colMeans(x); xs <- sweep(x, 2, shift)
  if (2 * m <= d) m <- tp_default_m(d)
  use_knots <- !is.null(knots) && nrow(as.matrix(knots)) >= k
  kx <- if (use_knots) sweep(as.matrix(knots), 2, shift) else xs
  nn <- nrow(kx)
  o <- do.call(order, c(as.data.frame(kx), list(1:nn)))   # lexicographic sort (ties by index)
  xo <- kx[o, , drop = FALSE]
  keep <- c(TRUE, rowSums(xo[-1, , drop = FALSE] != xo[-nn, , drop = FALSE]) > 0)
  Xu <- xo[keep, , drop = FALSE]; nu <- nrow(Xu)
  yx <- integer(nn); yx[o] <- cumsum(keep)                 # row -> unique row
  P <- tp_powers(m, d); M <- nrow(P)
  E <- tp_E(Xu, m); T <- tp_T(Xu, P)
  pure <- nu == k
  if (pure) {                           # no eigen step: Z from QT of T'
    Q <- tp_QT(t(T)); Z <- Q[, 1:(k - M), drop = FALSE]
    UZ <- matrix(0, nu + M, k); UZ[1:nu, 1:(k - M)] <- Z
    Sfull <- t(Q) %*% E %*% Q
  } else {
    ev <- eig(E, k); U <- ev$vectors; v <- ev$values
    Q <- tp_QT(t(T) %*% U); Z <- Q[, 1:(k - M), drop = FALSE]
    UZ <- matrix(0, nu + M, k); UZ[1:nu, 1:(k - M)] <- U %*% Z
    Sfull <- t(Q) %*% diag(v) %*% Q
  }
  UZ[nu + 1:M, k - M + 1:M] <- diag(M)
  if (!use_knots && !pure) {            # X rows = rows of [U diag(v) Z, T] at the data's unique point
    X <- cbind((U %*% diag(v)) %*% Z, T)[yx, , drop = FALSE]
  } else {                              # X = b(x)' UZ, b = (eta(|x - xu_i|), T(x))
    r2 <- 0; for (l in 1:d) r2 <- r2 + outer(xs[, l], Xu[, l], "-")^2
    X <- cbind(tp_eta(r2, m, d), tp_T(xs, P)) %*% UZ
  }
  S <- matrix(0, k, k); S[1:(k - M), 1:(k - M)] <- Sfull[1:(k - M), 1:(k - M)]
  w <- sqrt(colSums(X^2) / n)           # rms column scaling over all n data rows
  X <- sweep(X, 2, w, "/"); S <- S / outer(w, w); UZ <- sweep(UZ, 2, w, "/")
  list(X = X, S = (S + t(S)) / 2, UZ = UZ, Xu = Xu, shift = shift, m = m, M = M, w = w, E = E, T = T)
}
tp_predict <- function(obj, xnew) {
  xs <- sweep(as.matrix(xnew), 2, obj$shift); d <- ncol(xs)
  r2 <- 0; for (l in 1:d) r2 <- r2 + outer(xs[, l], obj$Xu[, l], "-")^2
  b <- cbind(tp_eta(r2, obj$m, d), tp_T(xs, tp_powers(obj$m, d)))
  b %*% obj$UZ
}

## Faithful emulation of mgcv's Lanczos (C routine Rlanczos, "largest magnitude"
## mode) so that eigenvector SIGNS match mgcv.  The tridiagonal eigenproblem is
## solved with LAPACK dstedc (compz='I'), eigenpairs reversed to descending
## order -- here reached through mgcv's registered C entry mgcv_trisymeig.
## (Only used to demonstrate the sign convention; any Rust port must use a
## dstedc-equivalent tridiagonal solver for the signs to agree.)
tri_eig_dstedc <- function(d, g) {
  J <- length(d)
  if (J == 1) return(list(values = d, vectors = matrix(1, 1, 1)))
  oo <- .C("mgcv_trisymeig", d = as.double(d), g = as.double(c(g, 0)[1:(J - 1)]),
           v = double(J * J), n = as.integer(J), 1L, 1L, PACKAGE = "mgcv")
  list(values = oo$d, vectors = matrix(oo$v, J, J))
}
## bit-faithful double arithmetic helpers (reference BLAS / plain C loops)
sdot <- function(x, y) Reduce(`+`, x * y, accumulate = FALSE)          # sequential sum, starting from x1*y1
ddot5 <- function(x, y) {                                                # reference BLAS ddot (unrolled by 5)
  n <- length(x); m <- n %% 5; s <- 0
  if (m) for (i in 1:m) s <- s + x[i] * y[i]
  if (n >= 5) { i <- m + 1; while (i <= n) { s <- s + x[i] * y[i] + x[i + 1] * y[i + 1] + x[i + 2] * y[i + 2] +
      x[i + 3] * y[i + 3] + x[i + 4] * y[i + 4]; i <- i + 5 } }
  s
}
dsymvU <- function(A, x) {                                               # reference BLAS dsymv, uplo='U', alpha=1, beta=0
  n <- length(x); y <- numeric(n)
  for (j in 1:n) { t1 <- x[j]; t2 <- 0
    if (j > 1) { i <- 1:(j - 1); y[i] <- y[i] + t1 * A[i, j]; t2 <- sdot(A[i, j], x[i]) }
    y[j] <- y[j] + t1 * A[j, j] + t2 }
  y
}
## Emulation of mgcv's C routine Rlanczos(A, U, D, n, m=k, lm=-1, tol=eps^0.7, nt=1)
mgcv_lanczos <- function(A, k, tol = .Machine$double.eps^0.7) {
  n <- nrow(A)
  f_check <- max(k %/% 2, 10); kk <- max(floor(n / 10), 1); if (kk < f_check) f_check <- kk
  jr <- 1; q1 <- numeric(n); bt <- 0
  for (i in 1:n) { jr <- (jr * 106 + 1283) %% 6075; q1[i] <- jr / 6075 - 0.5; bt <- bt + q1[i] * q1[i] }
  Q <- matrix(0, n, n); Q[, 1] <- q1 / sqrt(bt)
  a <- b <- numeric(n); m_pos <- k; m_neg <- 0; done <- FALSE
  for (j in 0:(n - 1)) {                      # j is the C (0-based) iteration counter
    qj <- Q[, j + 1]
    z <- dsymvU(A, qj); a[j + 1] <- sdot(qj, z)
    if (j == 0) z <- z - a[1] * qj else {
      z <- z - (a[j + 1] * qj + b[j] * Q[, j])
      for (rep in 1:2) for (i in 0:j) { xx <- -ddot5(z, Q[, i + 1]); z <- z + xx * Q[, i + 1] }  # full re-orth, twice
    }
    b[j + 1] <- sqrt(sdot(z, z))
    if (j < n - 1) Q[, j + 2] <- z / b[j + 1]
    if ((j >= k && j %% f_check == 0) || j == n - 1) {
      te <- tri_eig_dstedc(a[1:(j + 1)], b[seq_len(j)])   # descending eigenvalues of T_j
      d <- te$values; V <- te$vectors
      normTj <- max(abs(d[1]), abs(d[j + 1])); err <- abs(b[j + 1] * V[j + 1, ])
      if (j >= k) {
        max_err <- normTj * tol; p_ <- 0; n_ <- 0; conv <- TRUE
        while (p_ + n_ < k) {
          if (abs(d[p_ + 1]) >= abs(d[j + 1 - n_])) { if (err[p_ + 1] > max_err) { conv <- FALSE; break } else p_ <- p_ + 1 }
          else { if (err[n_ + 1] > max_err) { conv <- FALSE; break } else n_ <- n_ + 1 }   # (sic) err[ni] as in mgcv
        }
        if (conv) { m_pos <- p_; m_neg <- n_; J <- j + 1; done <- TRUE; break }
      }
    }
  }
  if (!done) J <- n
  idx <- c(seq_len(m_pos), if (m_neg) (J - m_neg + 1):J)
  U <- matrix(0, n, length(idx))
  for (c in seq_along(idx)) for (l in 1:J) U[, c] <- U[, c] + Q[, l] * V[l, idx[c]]   # Ritz vectors, l ascending
  list(values = d[idx], vectors = U, iter = J)
}

## ---------- smoothCon-equivalent for one 1-D term ---------------------------
## returns raw (unconstrained) X, S and a predictor function
raw_smooth <- function(bs, x, k) {
  switch(bs,
    cr = { xk <- cr_knots(x, k); FS <- cr_FS(xk)
           list(X = cr_X(x, xk, FS$F), S = FS$S, pred = function(xn) cr_X(xn, xk, FS$F)) },
    cc = { xk <- cc_knots(x, k); bd <- cc_BD(xk)
           list(X = cc_X(x, xk, bd$BD), S = bd$S, pred = function(xn) cc_X(xn, xk, bd$BD)) },
    ps = { kn <- ps_knots(x, k)
           list(X = ps_X(x, kn), S = ps_S(k), pred = function(xn) ps_X(xn, kn)) },
    tp = { o <- tp_construct(cbind(x), k)
           list(X = o$X, S = o$S, pred = function(xn) tp_predict(o, cbind(xn))) })
}
## my_smoothCon: scale penalty on the raw basis, then (optionally) absorb the
## centring constraint C = colMeans(raw X); by = numeric vector or factor.
my_smoothCon <- function(bs, x, k, by = NULL) {
  r <- raw_smooth(bs, x, k)
  sp <- scale_pen(r$X, r$S)
  C <- colMeans(r$X)
  Zf <- function(A) if (is.null(C)) A else t(qty_drop1(C, t(A))[-1, , drop = FALSE])
  if (is.numeric(by) && !is.factor(by) && sd(by) > mean(by) * .Machine$double.eps * 1000) C <- NULL  # no constraint
  S <- if (is.null(C)) sp$S else absorb(r$X, sp$S, C)$S
  if (is.null(by)) return(list(list(X = Zf(r$X), S = S, pred = function(xn) Zf(r$pred(xn)))))
  if (is.factor(by)) return(lapply(levels(by), function(l) list(X = (by == l) * Zf(r$X), S = S, level = l,
                                   pred = function(xn, byn) (byn == l) * Zf(r$pred(xn)))))
  list(list(X = by * Zf(r$X), S = S, pred = function(xn, byn) byn * Zf(r$pred(xn))))
}

## ---------- R RNG emulation (tp max.knots subsampling) ---------------------
## set.seed(seed) with Mersenne-Twister / Rejection sampling, then
## sample.int(n, k) without replacement (n <= 1e7).  Verified equal to R.
u32 <- function(x) x %% 4294967296
xor32 <- function(a, b) { # a,b in [0,2^32)
  ah <- a %/% 65536; al <- a %% 65536; bh <- b %/% 65536; bl <- b %% 65536
  bitwXor(ah, bh) * 65536 + bitwXor(al, bl) }
and32 <- function(a, b) { ah <- a %/% 65536; al <- a %% 65536; bh <- b %/% 65536; bl <- b %% 65536
  bitwAnd(ah, bh) * 65536 + bitwAnd(al, bl) }
lcg <- function(s) u32(69069 * s + 1)   # exact in doubles? 69069*2^32 < 2^53 yes
mt_seed <- function(seed) {
  s <- u32(seed); for (j in 1:50) s <- lcg(s)
  is <- numeric(625); for (j in 1:625) { s <- lcg(s); is[j] <- s }
  list(mt = is[2:625], mti = 624)
}
mt_env <- new.env()
mt_next <- function() {
  N <- 624; M <- 397; mt <- mt_env$mt
  if (mt_env$mti >= N) {
    mag <- c(0, 0x9908b0df)
    for (kk in 0:(N-1)) {
      y <- and32(mt[kk+1], 0x80000000) + and32(mt[(kk+1) %% N + 1], 0x7fffffff)
      mt[kk+1] <- xor32(xor32(mt[(kk+M) %% N + 1], y %/% 2), mag[y %% 2 + 1])
    }
    mt_env$mti <- 0
  }
  y <- mt[mt_env$mti + 1]; mt_env$mti <- mt_env$mti + 1; mt_env$mt <- mt
  y <- xor32(y, y %/% 2^11)
  y <- xor32(y, and32(u32(y * 2^7), 0x9d2c5680))
  y <- xor32(y, and32(u32(y * 2^15), 0xefc60000))
  y <- xor32(y, y %/% 2^18)
  x <- y * 2.3283064365386963e-10
  if (x <= 0) return(0.5 * 2.328306437080797e-10); if (1 - x <= 0) return(1 - 0.5 * 2.328306437080797e-10); x
}
unif_index <- function(dn) { bits <- ceiling(log2(dn))
  repeat { v <- 0; n <- 0; while (n <= bits) { v <- 65536 * v + floor(mt_next() * 65536); n <- n + 16 }
           dv <- v %% 2^bits; if (dv < dn) return(dv) } }
my_sample <- function(n, k, seed) {
  st <- mt_seed(seed); mt_env$mt <- st$mt; mt_env$mti <- st$mti
  x <- 0:(n-1); y <- integer(k)
  for (i in 1:k) { j <- unif_index(n); y[i] <- x[j+1] + 1; x[j+1] <- x[n]; n <- n - 1 }
  y
}

## ===========================================================================
## Checks against mgcv (run: Rscript bases_check.R).  Results recorded in bases.md.
## ===========================================================================
run_checks <- function() {
  cat("---- cr ----\n")
  set.seed(1); n <- 200; x <- runif(n); x[5:10] <- x[1]; dat <- data.frame(x = x)
  for (k in c(5, 10, 20)) {
    sm <- smooth.construct(s(x, bs = "cr", k = k), dat, NULL)
    xk <- cr_knots(x, k); FS <- cr_FS(xk); X <- cr_X(x, xk, FS$F)
    report(paste("cr k=", k, "knots"), xk, sm$xp); report("cr S raw", FS$S, sm$S[[1]]); report("cr X raw", X, sm$X)
    xp <- c(-0.5, -0.01, 0, xk, 0.3, 1, 1.2, 2)
    report("cr Predict.matrix (incl. extrapolation)", cr_X(xp, xk, FS$F), Predict.matrix(sm, data.frame(x = xp)))
    sc <- smoothCon(s(x, bs = "cr", k = k), dat, knots = NULL, absorb.cons = TRUE, scale.penalty = TRUE)[[1]]
    sp <- scale_pen(X, FS$S); ab <- absorb(X, sp$S)
    report("cr smoothCon X", ab$X, sc$X); report("cr smoothCon S", ab$S, sc$S[[1]]); report("cr S.scale", sp$S.scale, sc$S.scale)
  }
  cat("---- cc / ps ----\n")
  set.seed(2); n <- 150; x <- runif(n) * 3 - 1; x[3:6] <- x[1]; dat <- data.frame(x = x)
  for (k in c(4, 10, 17)) {
    sm <- smooth.construct(s(x, bs = "cc", k = k), dat, NULL)
    xk <- cc_knots(x, k); bd <- cc_BD(xk); X <- cc_X(x, xk, bd$BD)
    report(paste("cc k=", k, "knots"), xk, sm$xp); report("cc S raw", bd$S, sm$S[[1]]); report("cc X raw", X, sm$X)
    xp <- c(-5, -1.2, min(x), xk, 0.3, max(x), 2.5, 7.1)
    report("cc Predict.matrix (wrapped)", cc_X(xp, xk, bd$BD), Predict.matrix(sm, data.frame(x = xp)))
    sc <- smoothCon(s(x, bs = "cc", k = k), dat, knots = NULL, absorb.cons = TRUE, scale.penalty = TRUE)[[1]]
    sp <- scale_pen(X, bd$S); ab <- absorb(X, sp$S)
    report("cc smoothCon X", ab$X, sc$X); report("cc smoothCon S", ab$S, sc$S[[1]]); report("cc S.scale", sp$S.scale, sc$S.scale)
  }
  for (k in c(5, 10, 23)) {
    sm <- smooth.construct(s(x, bs = "ps", k = k), dat, NULL)
    kn <- ps_knots(x, k); X <- ps_X(x, kn)
    report(paste("ps k=", k, "knots"), kn, sm$knots); report("ps X raw", X, sm$X); report("ps S raw", ps_S(k), sm$S[[1]])
    xp <- c(-5, -1.2, -1.0001, min(x), 0.3, max(x), 2.0001, 2.5, 7.1)
    report("ps Predict.matrix (extrapolation)", ps_X(xp, kn), Predict.matrix(sm, data.frame(x = xp)))
    sc <- smoothCon(s(x, bs = "ps", k = k), dat, knots = NULL, absorb.cons = TRUE, scale.penalty = TRUE)[[1]]
    sp <- scale_pen(X, ps_S(k)); ab <- absorb(X, sp$S)
    report("ps smoothCon X", ab$X, sc$X); report("ps smoothCon S", ab$S, sc$S[[1]]); report("ps S.scale", sp$S.scale, sc$S.scale)
  }
  sm <- smooth.construct(s(x, bs = "ps", k = 12, m = c(3, 1)), dat, NULL); kn <- ps_knots(x, 12, 3)
  report("ps m=c(3,1) X", ps_X(x, kn, 3), sm$X); report("ps m=c(3,1) S", ps_S(12, 1), sm$S[[1]])
  cat("---- tp ----\n")
  set.seed(3); n <- 120; x <- runif(n); x[4:8] <- x[2]; z <- rnorm(n); w <- runif(n); dat <- data.frame(x = x, z = z, w = w)
  for (k in c(3, 10, 20)) {
    sm <- smooth.construct(s(x, bs = "tp", k = k), dat, NULL); my <- tp_construct(cbind(x), k)
    report(paste("tp 1-D k=", k, "X"), my$X, sm$X); report("tp S", my$S, sm$S[[1]]); report("tp UZ", my$UZ, sm$UZ)
    report("tp Xu / shift", c(my$Xu, my$shift), c(sm$Xu, sm$shift))
    xp <- c(-1, 0.2, 0.55, 2)
    report("tp Predict.matrix", tp_predict(my, cbind(xp)), Predict.matrix(sm, data.frame(x = xp)))
    sc <- smoothCon(s(x, bs = "tp", k = k), dat, knots = NULL, absorb.cons = TRUE, scale.penalty = TRUE)[[1]]
    sp <- scale_pen(my$X, my$S); ab <- absorb(my$X, sp$S)
    report("tp smoothCon X", ab$X, sc$X); report("tp smoothCon S", ab$S, sc$S[[1]]); report("tp S.scale", sp$S.scale, sc$S.scale)
  }
  for (k in c(5, 30)) {
    sm <- smooth.construct(s(x, z, bs = "tp", k = k), dat, NULL); my <- tp_construct(cbind(x, z), k)
    report(paste("tp 2-D k=", k, "X"), my$X, sm$X); report("tp 2-D S", my$S, sm$S[[1]]); report("tp 2-D UZ", my$UZ, sm$UZ)
    xp <- cbind(c(-1, 0.2, 0.55, 2), c(0, 1, -3, 0.5))
    report("tp 2-D Predict.matrix", tp_predict(my, xp), Predict.matrix(sm, data.frame(x = xp[, 1], z = xp[, 2])))
    sc <- smoothCon(s(x, z, bs = "tp", k = k), dat, knots = NULL, absorb.cons = TRUE, scale.penalty = TRUE)[[1]]
    sp <- scale_pen(my$X, my$S); ab <- absorb(my$X, sp$S)
    report("tp 2-D smoothCon X", ab$X, sc$X); report("tp 2-D smoothCon S", ab$S, sc$S[[1]])
  }
  sm <- smooth.construct(s(x, z, w, bs = "tp", k = 25), dat, NULL); my <- tp_construct(cbind(x, z, w), 25)
  report("tp 3-D (m=3, M=10) X", my$X, sm$X); report("tp 3-D S", my$S, sm$S[[1]])
  x2 <- rep(seq(0, 1, length = 12)^2, 10); sm <- smooth.construct(s(x, bs = "tp", k = 12), data.frame(x = x2), NULL)
  my <- tp_construct(cbind(x2), 12); report("tp pure-knot (n_unique == k) X", my$X, sm$X); report("tp pure-knot S", my$S, sm$S[[1]])
  kn <- seq(-0.1, 1.1, length = 25); sm <- smooth.construct(s(x, bs = "tp", k = 10), dat, list(x = kn))
  my <- tp_construct(cbind(x), 10, knots = cbind(kn)); report("tp supplied knots X", my$X, sm$X); report("tp supplied knots S", my$S, sm$S[[1]])
  sm <- smooth.construct(s(x, bs = "tp", k = 10, xt = list(max.knots = 50)), dat, NULL)
  xu <- sort(unique(x - mean(x))); set.seed(1); ind <- sample(1:length(xu), 50)
  my <- tp_construct(cbind(x), 10, knots = cbind(xu[ind] + mean(x))); report("tp max.knots subsample X", my$X, sm$X)
  cat("R RNG emulation: sample(1:2500,2000) after set.seed(1) identical:", { set.seed(1); all(sample(1:2500, 2000) == my_sample(2500, 2000, 1)) },
      "; sample(1:70000,2000):", { set.seed(1); all(sample(1:70000, 2000) == my_sample(70000, 2000, 1)) }, "\n")
  my <- tp_construct(cbind(x), 10, knots = cbind(xu[my_sample(length(xu), 50, 1)] + mean(x)))
  report("tp max.knots with emulated RNG X", my$X, sm$X)
  cat("---- exact-zero constraint entries (indi path) ----\n")
  set.seed(5); dd <- data.frame(x = as.numeric(rep(1:10, 10)), z = runif(100))
  sm <- smooth.construct(s(x, z, bs = "tp", k = 12), dd, NULL)
  sc <- smoothCon(s(x, z, bs = "tp", k = 12), dd, knots = NULL, absorb.cons = TRUE, scale.penalty = TRUE)[[1]]
  sp <- scale_pen(sm$X, sm$S[[1]]); ab <- absorb(sm$X, sp$S)
  report("indi-path X", ab$X, sc$X); report("indi-path S", ab$S, sc$S[[1]])
  cat("---- gam() assembly ----\n")
  set.seed(7); n <- 300
  dat <- data.frame(x0 = runif(n), x1 = runif(n), x2 = runif(n), x3 = runif(n), x4 = runif(n), z = rnorm(n),
                    fa = factor(sample(c("a", "b", "c"), n, TRUE)))
  dat$y <- sin(2 * pi * dat$x0) + dat$x1^2 + cos(3 * dat$x2) + sin(2 * pi * dat$x3) + dat$z * dat$x4 + as.numeric(dat$fa) + rnorm(n) * 0.3
  fo <- y ~ fa + s(x0) + s(x1, bs = "cr", k = 8) + s(x2, bs = "ps", k = 12) + s(x3, bs = "cc", k = 9) +
    s(x4, by = z, bs = "cr", k = 6) + s(x1, by = fa, bs = "tp", k = 5)
  fit <- gam(fo, data = dat); G <- gam(fo, data = dat, fit = FALSE)
  sms <- unlist(list(my_smoothCon("tp", dat$x0, 10), my_smoothCon("cr", dat$x1, 8), my_smoothCon("ps", dat$x2, 12),
                     my_smoothCon("cc", dat$x3, 9), my_smoothCon("cr", dat$x4, 6, by = dat$z),
                     my_smoothCon("tp", dat$x1, 5, by = dat$fa)), recursive = FALSE)
  Xmine <- cbind(model.matrix(~fa, dat), do.call(cbind, lapply(sms, `[[`, "X")))
  report("gam.setup G$X vs own assembly", Xmine, G$X)
  report("model.matrix(fit) vs own (tp: predict path)", Xmine, model.matrix(fit))
  report("linear.predictors == G$X %*% coef", fit$linear.predictors, G$X %*% coef(fit))
  for (i in seq_along(sms)) report(paste("penalty", fit$smooth[[i]]$label), sms[[i]]$S, fit$smooth[[i]]$S[[1]])
  nd <- data.frame(x0 = c(-0.2, 0.5, 1.3), x1 = c(0.1, 1.1, -0.1), x2 = c(-0.3, 0.5, 1.2), x3 = c(0.2, 1.5, -0.4),
                   x4 = c(0.5, 1.2, -0.2), z = c(1, 2, -1), fa = factor(c("a", "b", "c"), levels = c("a", "b", "c")))
  pr <- cbind(model.matrix(~fa, nd), sms[[1]]$pred(nd$x0), sms[[2]]$pred(nd$x1), sms[[3]]$pred(nd$x2), sms[[4]]$pred(nd$x3),
              sms[[5]]$pred(nd$x4, nd$z), sms[[6]]$pred(nd$x1, nd$fa), sms[[7]]$pred(nd$x1, nd$fa), sms[[8]]$pred(nd$x1, nd$fa))
  report("predict(type='lpmatrix') vs own", pr, predict(fit, nd, type = "lpmatrix"))
  dat$one <- 2; f2 <- gam(y ~ s(x4, by = one, bs = "cr", k = 6), data = dat)
  report("by = constant numeric: constraint kept", cbind(1, my_smoothCon("cr", dat$x4, 6, by = dat$one)[[1]]$X), model.matrix(f2))
  print(names(fit$sp)); print(names(coef(fit))[c(1:4, 13, 38, 44, 55)])
  invisible(fit)
}
if (sys.nframe() == 0) run_checks()
