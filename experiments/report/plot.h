// PNG plots (libpng): 2-D scatter panels drawn side by side on a shared, fixed axis range.
#pragma once
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace scorelab {

struct ScatterPanel {
  at::Tensor points;  // [n, 2]
  uint8_t r, g, b;    // point colour
};

// Writes panels of `size` x `size` pixels side by side, each showing [-extent, extent]^2 with
// faint axes. Written atomically.
void write_scatter_png(const std::string& path, const std::vector<ScatterPanel>& panels, double extent,
                       int size = 400);

// Writes image batches [B, C, H, W] (values in [lo, hi]; C = 1 or 3) as square grids, one
// panel per batch, side by side. Written atomically.
void write_image_grids(const std::string& path, const std::vector<at::Tensor>& batches, double lo = -1.0,
                       double hi = 1.0);

// Line plot: each series a polyline with dots, on shared axes (log scales optional). No text:
// colours follow the order of the series (blue, orange, green, red, purple, brown, pink, grey).
struct LineSeries {
  std::vector<double> x, y;
};
void write_line_plot(const std::string& path, const std::vector<LineSeries>& series, bool log_x, bool log_y,
                     int width = 640, int height = 400);

// Writes an RGB image [H, W, 3] of uint8 to a PNG file (atomically).
void write_png(const std::string& path, const std::vector<uint8_t>& rgb, int width, int height);

}  // namespace scorelab
