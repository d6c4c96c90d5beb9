#include "experiments/report/plot.h"

#include <png.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <ATen/ATen.h>

#include "core/fsutil.h"

namespace scorelab {

void write_png(const std::string& path, const std::vector<uint8_t>& rgb, int width, int height) {
  atomic_publish(path, [&](const std::string& tmp) {
    FILE* fp = std::fopen(tmp.c_str(), "wb");
    if (!fp) throw std::runtime_error("cannot write " + tmp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
      png_destroy_write_struct(&png, &info);
      std::fclose(fp);
      throw std::runtime_error("libpng failed writing " + tmp);
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; ++y) png_write_row(png, const_cast<uint8_t*>(rgb.data() + 3 * width * y));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    if (std::fclose(fp) != 0) throw std::runtime_error("cannot write " + tmp);
  });
}

void write_image_grids(const std::string& path, const std::vector<at::Tensor>& batches, double lo, double hi) {
  const int pad = 2, gap = 12;
  struct Panel {
    at::Tensor img;  // uint8 [B, H, W, 3]
    int cols, rows, h, w;
  };
  std::vector<Panel> panels;
  int width = 0, height = 0;
  for (const auto& b : batches) {
    at::Tensor x = ((b.detach().to(at::kCPU, at::kFloat) - lo) / (hi - lo)).clamp(0, 1);
    if (x.size(1) == 1) x = x.expand({x.size(0), 3, x.size(2), x.size(3)});
    at::Tensor u8 = (x * 255).round().to(at::kByte).permute({0, 2, 3, 1}).contiguous();
    int n = static_cast<int>(u8.size(0)), cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
    int rows = (n + cols - 1) / cols, h = static_cast<int>(u8.size(1)), w = static_cast<int>(u8.size(2));
    panels.push_back({u8, cols, rows, h, w});
    width += cols * (w + pad) + pad + (panels.size() > 1 ? gap : 0);
    height = std::max(height, rows * (h + pad) + pad);
  }
  std::vector<uint8_t> img(3 * width * height, 255);
  int x0 = 0;
  for (size_t p = 0; p < panels.size(); ++p) {
    const Panel& P = panels[p];
    if (p > 0) x0 += gap;
    const uint8_t* src = P.img.data_ptr<uint8_t>();
    for (int i = 0; i < P.img.size(0); ++i) {
      int gx = x0 + pad + (i % P.cols) * (P.w + pad), gy = pad + (i / P.cols) * (P.h + pad);
      for (int y = 0; y < P.h; ++y)
        std::memcpy(&img[3 * ((gy + y) * width + gx)], src + 3 * (static_cast<int64_t>(i) * P.h * P.w + y * P.w), 3 * P.w);
    }
    x0 += P.cols * (P.w + pad) + pad;
  }
  write_png(path, img, width, height);
}

void write_line_plot(const std::string& path, const std::vector<LineSeries>& series, bool log_x, bool log_y, int W,
                     int H) {
  const int m = 40;
  std::vector<uint8_t> img(3 * W * H, 255);
  auto put = [&](int x, int y, const uint8_t* c) {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    std::memcpy(&img[3 * (y * W + x)], c, 3);
  };
  auto tx = [&](double v) { return log_x ? std::log(std::max(v, 1e-300)) : v; };
  auto ty = [&](double v) { return log_y ? std::log(std::max(v, 1e-300)) : v; };
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(ty(s.y[i]))) continue;
      x0 = std::min(x0, tx(s.x[i])), x1 = std::max(x1, tx(s.x[i]));
      y0 = std::min(y0, ty(s.y[i])), y1 = std::max(y1, ty(s.y[i]));
    }
  if (!(x1 > x0)) x1 = x0 + 1;
  if (!(y1 > y0)) y1 = y0 + 1;
  const uint8_t grey[3] = {150, 150, 150};
  for (int x = m; x < W - m; ++x) put(x, H - m, grey);
  for (int y = m; y < H - m; ++y) put(m, y, grey);
  static const uint8_t palette[8][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                        {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
  for (size_t k = 0; k < series.size(); ++k) {
    const uint8_t* c = palette[k % 8];
    const auto& s = series[k];
    int px_prev = 0, py_prev = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(ty(s.y[i]))) continue;
      int px = m + static_cast<int>((tx(s.x[i]) - x0) / (x1 - x0) * (W - 2 * m));
      int py = H - m - static_cast<int>((ty(s.y[i]) - y0) / (y1 - y0) * (H - 2 * m));
      int r = s.x.size() > 50 ? 1 : 3;
      for (int dy = -r; dy <= r; ++dy)
        for (int dx = -r; dx <= r; ++dx) put(px + dx, py + dy, c);
      if (i > 0) {
        int n = std::max(std::abs(px - px_prev), std::abs(py - py_prev)) + 1;
        for (int j = 0; j <= n; ++j) put(px_prev + (px - px_prev) * j / n, py_prev + (py - py_prev) * j / n, c);
      }
      px_prev = px, py_prev = py;
    }
  }
  write_png(path, img, W, H);
}

void write_scatter_png(const std::string& path, const std::vector<ScatterPanel>& panels, double extent, int size) {
  const int gap = 8;
  int width = static_cast<int>(panels.size()) * size + (static_cast<int>(panels.size()) - 1) * gap;
  std::vector<uint8_t> img(3 * width * size, 255);
  auto put = [&](int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= width || y >= size) return;
    uint8_t* p = &img[3 * (y * width + x)];
    p[0] = r, p[1] = g, p[2] = b;
  };
  for (size_t i = 0; i < panels.size(); ++i) {
    int x0 = static_cast<int>(i) * (size + gap);
    for (int k = 0; k < size; ++k) {  // axes through the origin and a frame
      put(x0 + size / 2, k, 220, 220, 220), put(x0 + k, size / 2, 220, 220, 220);
      put(x0 + k, 0, 160, 160, 160), put(x0 + k, size - 1, 160, 160, 160);
      put(x0, k, 160, 160, 160), put(x0 + size - 1, k, 160, 160, 160);
    }
    at::Tensor p = panels[i].points.detach().to(at::kCPU, at::kDouble).contiguous();
    auto a = p.accessor<double, 2>();
    for (int64_t j = 0; j < p.size(0); ++j) {
      int px = x0 + static_cast<int>((a[j][0] / extent + 1) * 0.5 * (size - 1));
      int py = static_cast<int>((1 - a[j][1] / extent) * 0.5 * (size - 1));
      if (px < x0 || px >= x0 + size) continue;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) put(px + dx, py + dy, panels[i].r, panels[i].g, panels[i].b);
    }
  }
  write_png(path, img, width, size);
}

}  // namespace scorelab
