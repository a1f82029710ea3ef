# plot() of a spline on the sphere (`bs = "sos"`), drawn as mgcv draws it: the globe
# seen from a point above a latitude and longitude, in orthographic projection (the
# visible hemisphere as a disk), the effect as a heat map with its contours, a
# graticule every 10 degrees of latitude and 20 of longitude, and the data points on
# the visible side.

# Unit vectors of the view from above latitude `phi` and longitude `theta` (radians):
# `toward` the viewer, and the screen's `east` and `north` (Earth coordinates: x
# through latitude and longitude 0, z through the north pole).
globe_view <- function(theta, phi) {
  list(toward = c(cos(phi) * cos(theta), cos(phi) * sin(theta), sin(phi)),
       east = c(-sin(theta), cos(theta), 0),
       north = c(-sin(phi) * cos(theta), -sin(phi) * sin(theta), cos(phi)))
}

# Latitude and longitude (degrees) of the visible point of the globe under each
# screen point (x, y) of the unit disk.
disk_to_lat_lon <- function(x, y, view) {
  z <- sqrt(pmax(0, 1 - x^2 - y^2))
  p <- outer(x, view$east) + outer(y, view$north) + outer(z, view$toward)
  list(lat = asin(pmin(1, pmax(-1, p[, 3]))) * 180 / pi, lon = atan2(p[, 2], p[, 1]) * 180 / pi)
}

# Screen positions of points given by latitude and longitude (degrees), and whether
# each is on the visible side.
lat_lon_to_disk <- function(lat, lon, view) {
  la <- lat * pi / 180
  lo <- lon * pi / 180
  p <- cbind(cos(la) * cos(lo), cos(la) * sin(lo), sin(la))
  list(x = drop(p %*% view$east), y = drop(p %*% view$north), visible = drop(p %*% view$toward) > 0)
}

# The panel of a spline on the sphere: the term at the visible points of an
# `m x m` screen grid (m = 1.5 n2, as mgcv's), with their latitudes and longitudes.
sphere_panel <- function(object, sm, unconditional, n2, theta, phi) {
  view <- globe_view(theta * pi / 180, phi * pi / 180)
  m <- round(n2 * 1.5)
  xm <- seq(-1, 1, length.out = m)
  screen <- expand.grid(x = xm, y = xm)
  inside <- screen$x^2 + screen$y^2 <= 1
  ll <- disk_to_lat_lon(screen$x[inside], screen$y[inside], view)
  values <- stats::setNames(data.frame(ll$lat, ll$lon), sm$term[1:2])
  effect <- term_effect(object, sm, values, unconditional)
  points <- lat_lon_to_disk(object$model[[sm$term[[1]]]], object$model[[sm$term[[2]]]], view)
  list(label = sm$label, ylab = sm$label, term = sm$term, dim = 2L, sphere = TRUE, data = effect$grid,
       fit = effect$fit, se = effect$se,
       screen = xm, inside = inside, lat = ll$lat, lon = ll$lon,
       x_data = list(points$x[points$visible], points$y[points$visible]))
}

draw_sphere <- function(p, trans, rug, ...) {
  m <- length(p$screen)
  on_screen <- function(values) {
    z <- rep(NA_real_, m * m)
    z[p$inside] <- values
    matrix(z, m, m)
  }
  op <- graphics::par(pty = "s")
  on.exit(graphics::par(op), add = TRUE)
  graphics::image(p$screen, p$screen, on_screen(trans(p$fit)), col = grDevices::hcl.colors(50, "YlOrRd", rev = TRUE),
                  axes = FALSE, xlab = "", ylab = "", main = p$ylab, ...)
  # The graticule. Longitudes jump from 180 to -180 and crowd at the poles: their
  # lines are drawn away from both.
  graphics::contour(p$screen, p$screen, on_screen(p$lat), levels = seq(-80, 80, by = 10), add = TRUE,
                    drawlabels = FALSE, col = "grey35", lwd = 0.6)
  lon <- ifelse(abs(p$lon) > 170 | abs(p$lat) > 80, NA, p$lon)
  graphics::contour(p$screen, p$screen, on_screen(lon), levels = seq(-160, 160, by = 20), add = TRUE,
                    drawlabels = FALSE, col = "grey35", lwd = 0.6)
  graphics::contour(p$screen, p$screen, on_screen(trans(p$fit)), add = TRUE, col = "blue")
  angle <- seq(0, 2 * pi, length.out = 200)
  graphics::lines(cos(angle), sin(angle))
  if (rug) graphics::points(p$x_data[[1]], p$x_data[[2]], pch = ".", col = "grey20")
  invisible()
}
