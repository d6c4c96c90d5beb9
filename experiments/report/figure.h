// Figures with text, drawn with cairo: a grid of panels, each a plot (lines, scatters, error
// bars, dashed reference lines, ticks, axis labels, a title, a legend) or an image (a grid of
// image samples). Every figure is written twice, atomically: FILE.png (raster, 2 px per point)
// and FILE.pdf (vector, text as text) beside it.
//
// Series are told apart by colour, marker and line style together (10 colours x 7 markers x 4
// dash patterns, each cycling on its own), so 9 or more series stay distinct in print and in
// grey scale.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace scorelab::fig {

struct Series {
  std::string label;             // in the legend; empty: not listed
  std::vector<double> x, y;
  std::vector<double> err;       // optional: symmetric error bars (same length as y)
  bool line = true;              // a polyline through the points
  bool markers = true;           // a marker at each point
  double alpha = 1.0;            // opacity (scatters of many points: ~0.2)
  double marker_size = 3.0;      // marker radius in points
  int style = -1;                // colour/marker/dash index; -1: the series' position
  bool muted = false;            // drawn in dark grey (data under samples)
};

// A horizontal reference line across the panel (a metric's floor), dashed, with its label in
// the legend.
struct RefLine {
  std::string label;
  double y;
};

// A panel with no title, series, references or image is left blank (a gap in the grid).
struct Panel {
  std::string title, xlabel, ylabel;
  std::string subtitle;                    // a second, plain line under the title (metric values)
  bool log_x = false, log_y = false;
  bool equal_aspect = false;              // one unit on x is one unit on y (2-D samples)
  double x_min = NAN, x_max = NAN, y_min = NAN, y_max = NAN;  // NaN: from the data
  std::vector<Series> series;
  std::vector<RefLine> refs;
  at::Tensor image;                        // uint8 [H, W, 3]: an image panel (no axes)
};

struct Figure {
  std::string title;
  std::string caption;                     // a line of text under the panels
  int cols = 1;                            // panels fill rows of `cols`
  double panel_width = 300, panel_height = 220;  // plot area of each panel, in points
  std::vector<Panel> panels;
};

// Writes `base`.png and `base`.pdf (`base` without extension; a trailing ".png" is dropped).
void save(const Figure& f, const std::string& base);

// Image batches [B, C, H, W] with values in [lo, hi] (C = 1 or 3) as one uint8 [H, W, 3] grid
// image: ceil(sqrt(B)) columns, 2-pixel white gutters.
at::Tensor image_grid(const at::Tensor& batch, double lo, double hi);

// Tick positions for [lo, hi]: multiples of 1, 2 or 5 x 10^k (linear, about `target` of them) or
// powers of ten (log; with 2 and 5 between them when the range spans under two decades).
std::vector<double> ticks(double lo, double hi, bool log, int target = 5);
// A tick label: "%g" with the fewest digits that keep neighbouring ticks apart.
std::string tick_label(double v, double step);

}  // namespace scorelab::fig
