// Figures (experiments/report/figure.h): ticks, the image grid, and that a rendered figure has
// its text — the PNG is not blank, and the PDF's text (read back with poppler's pdftotext) holds
// the title, axis labels, tick labels and legend entries.
#include <catch2/catch.hpp>

#include <cairo.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include <ATen/ATen.h>

#include "core/fsutil.h"
#include "experiments/report/figure.h"
#include "experiments/report/plots.h"
#include "../test_util.h"

using namespace scorelab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
std::string pdf_text(const std::string& pdf) {
  const std::string txt = pdf + ".txt";
  const int rc = std::system(("pdftotext -q '" + pdf + "' '" + txt + "'").c_str());
  REQUIRE(rc == 0);
  return read_text(txt);
}
// Share of the PNG's pixels that are not white, and its size.
double ink(const std::string& png, int* width = nullptr, int* height = nullptr) {
  cairo_surface_t* s = cairo_image_surface_create_from_png(png.c_str());
  REQUIRE(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS);
  const int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
  const int stride = cairo_image_surface_get_stride(s);
  const unsigned char* d = cairo_image_surface_get_data(s);
  int64_t dark = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) dark += (reinterpret_cast<const uint32_t*>(d + y * stride)[x] & 0xffffff) != 0xffffff;
  cairo_surface_destroy(s);
  if (width) *width = w;
  if (height) *height = h;
  return static_cast<double>(dark) / (static_cast<double>(w) * h);
}
}  // namespace

TEST_CASE("axis ticks fall on 1-2-5 steps and powers of ten, labels with the digits the step needs",
          "[experiments][figure]") {
  CHECK(fig::ticks(0, 10, false) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(fig::ticks(-0.33, 0.33, false) == std::vector<double>{-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3});
  CHECK(fig::ticks(1, 1000, true) == std::vector<double>{1, 10, 100, 1000});
  const auto few = fig::ticks(0.04, 0.7, true);  // under two decades: 1, 2, 5 per decade
  REQUIRE(few.size() == 4);
  CHECK(few[0] == Approx(0.05));
  CHECK(few[3] == Approx(0.5));
  CHECK(fig::ticks(1e-8, 1e8, true).size() <= 9);  // many decades: every k-th
  CHECK(fig::ticks(5, 5, false).empty());
  CHECK(fig::tick_label(0.30000000000000004, 0.1) == "0.3");
  CHECK(fig::tick_label(2000, 500) == "2000");
  CHECK(fig::tick_label(1e-7, 0) == "1e-07");
  CHECK(fig::tick_label(-0.0, 0.1) == "0");
}

TEST_CASE("an image grid places each image in a square grid with white gutters", "[experiments][figure]") {
  at::Tensor b = at::full({5, 1, 2, 2}, -1.0);  // black images
  b[4].fill_(1.0);                              // one white
  at::Tensor g = fig::image_grid(b, -1.0, 1.0);
  CHECK(g.sizes() == at::IntArrayRef({2 * 4 + 2, 3 * 4 + 2, 3}));  // 3 columns, 2 rows
  CHECK(g[2][2][0].item<int>() == 0);    // image 0, top-left pixel: black
  CHECK(g[0][0][0].item<int>() == 255);  // gutter
  CHECK(g[6][6][1].item<int>() == 255);  // image 4 (row 1, column 1): white
  CHECK(g[6][10][2].item<int>() == 255); // no image 5: white
}

TEST_CASE("a figure is written as PNG and PDF with its title, axis labels, ticks and legend as text",
          "[experiments][figure]") {
  const std::string dir = test::scratch_dir("figure");
  fig::Figure f;
  f.title = "Quality versus cost";
  f.caption = "caption under the panels";
  fig::Panel p;
  p.xlabel = "NFE per sample";
  p.ylabel = "sliced W2";
  p.log_x = p.log_y = true;
  for (int k = 0; k < 10; ++k) {  // ten series: more than the palette's colours minus one
    fig::Series s;
    s.label = "sampler " + std::to_string(k);
    s.x = {10, 100, 1000};
    s.y = {0.5 / (k + 1), 0.2 / (k + 1), 0.1 / (k + 1)};
    s.err = {0.01, 0.01, 0.01};
    p.series.push_back(s);
  }
  p.refs.push_back({"floor (data vs data)", 0.02});
  f.panels.push_back(p);
  fig::Panel blank;  // a gap in the grid
  f.panels.push_back(blank);
  f.cols = 2;
  fig::save(f, dir + "/q.png");
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"q.png", "q.pdf"});  // nothing else (no temporaries)
  int w = 0, h = 0;
  const double share = ink(dir + "/q.png", &w, &h);
  CHECK(share > 0.02);
  CHECK(share < 0.5);
  CHECK(w > 600);
  const std::string text = pdf_text(dir + "/q.pdf");
  for (const char* s : {"Quality versus cost", "NFE per sample", "sliced W2", "caption under the panels", "sampler 0",
                        "sampler 9", "floor (data vs data)", "1000", "100", "0.1"})
    CHECK_THAT(text, Contains(s));
}

TEST_CASE("the run figures: samples beside data, the loss with its EMA, metrics with floors", "[experiments][figure]") {
  const std::string dir = test::scratch_dir("run_figures");
  at::manual_seed(0);
  plot_samples(dir + "/s.png", at::randn({500, 2}), at::randn({400, 2}) * 1.5, false, "two clouds", "sliced_w2 0.1");
  CHECK(ink(dir + "/s.png") > 0.01);
  const std::string text = pdf_text(dir + "/s.pdf");
  for (const char* s : {"two clouds", "data (500 points)", "samples (400 points, ", "outside)", "sliced_w2 0.1"})
    CHECK_THAT(text, Contains(s));
  plot_samples(dir + "/i.png", at::rand({9, 1, 8, 8}) * 2 - 1, at::rand({9, 3, 8, 8}) * 2 - 1, true, "grids", "");
  CHECK_THAT(pdf_text(dir + "/i.pdf"), Contains("data (9)") && Contains("samples (9)"));
  plot_loss(dir + "/l.png", "loss of a run", {100, 200, 300, 400}, {1.0, 0.5, 0.4, 0.45});
  CHECK_THAT(pdf_text(dir + "/l.pdf"), Contains("loss (log scale)") && Contains("training step") && Contains("EMA"));
  // The EMA with bias correction: the first value is the first point; then 0.9 m + 0.1 x.
  const auto e = ema_smooth({1.0, 0.0}, 0.9);
  CHECK(e[0] == Approx(1.0));
  CHECK(e[1] == Approx(0.9 * 0.1 / (0.1 + 0.09)));
}
