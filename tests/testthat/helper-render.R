# Evaluates a plotting expression on a temporary png device (closed afterwards) and
# returns its value: plot()'s panel data, drawn without a screen.
render <- function(expr) {
  path <- tempfile(fileext = ".png")
  grDevices::png(path, width = 900, height = 700)
  on.exit(grDevices::dev.off())
  force(expr)
}
