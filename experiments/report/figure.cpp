#include "experiments/report/figure.h"

#include <cairo-pdf.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <ATen/ATen.h>

#include "core/fsutil.h"

namespace scorelab::fig {
namespace {

// Tableau 10 (matplotlib's default cycle).
constexpr double kPalette[10][3] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                                    {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
                                    {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};
constexpr int kMarkers = 7, kDashes = 4;
const char* const kFont = "DejaVu Sans";

// Layout, in points.
constexpr double kLeft = 62, kRight = 14, kTop = 26, kBottom = 42, kFigTitle = 30, kCaption = 22, kMargin = 6;
constexpr double kTickFont = 9, kLabelFont = 10.5, kTitleFont = 11.5, kFigTitleFont = 13, kLegendFont = 9.5;

struct Rgb {
  double r, g, b;
};
Rgb colour_of(const Series& s, int index) {
  if (s.muted) return {0.25, 0.25, 0.25};
  const auto& c = kPalette[((s.style >= 0 ? s.style : index) % 10 + 10) % 10];
  return {c[0], c[1], c[2]};
}
int marker_of(const Series& s, int index) { return (s.style >= 0 ? s.style : index) % kMarkers; }
int dash_of(const Series& s, int index) { return (s.style >= 0 ? s.style : index) % kDashes; }

void set_dash(cairo_t* cr, int dash, double width) {
  const double w = std::max(width, 1.0);
  const double patterns[4][4] = {{0, 0, 0, 0}, {6 * w, 3 * w, 0, 0}, {1.2 * w, 2.4 * w, 0, 0}, {6 * w, 2.5 * w, 1.2 * w, 2.5 * w}};
  const int counts[4] = {0, 2, 2, 4};
  cairo_set_dash(cr, patterns[dash], counts[dash], 0);
}

void draw_marker(cairo_t* cr, int marker, double x, double y, double r) {
  switch (marker) {
    case 0: cairo_new_sub_path(cr); cairo_arc(cr, x, y, r, 0, 2 * M_PI); cairo_fill(cr); break;
    case 1: cairo_rectangle(cr, x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r); cairo_fill(cr); break;
    case 2:
    case 4: {
      const double s = marker == 2 ? -1 : 1;
      cairo_move_to(cr, x, y + s * 1.15 * r);
      cairo_line_to(cr, x - r, y - s * 0.75 * r);
      cairo_line_to(cr, x + r, y - s * 0.75 * r);
      cairo_close_path(cr);
      cairo_fill(cr);
      break;
    }
    case 3:
      cairo_move_to(cr, x, y - 1.2 * r);
      cairo_line_to(cr, x + r, y);
      cairo_line_to(cr, x, y + 1.2 * r);
      cairo_line_to(cr, x - r, y);
      cairo_close_path(cr);
      cairo_fill(cr);
      break;
    default: {  // plus (5) and cross (6), stroked
      cairo_save(cr);
      cairo_set_dash(cr, nullptr, 0, 0);
      cairo_set_line_width(cr, std::max(1.0, 0.45 * r));
      const double a = marker == 5 ? 0 : M_PI / 4;
      for (double t : {a, a + M_PI / 2}) {
        cairo_move_to(cr, x - 1.2 * r * std::cos(t), y - 1.2 * r * std::sin(t));
        cairo_line_to(cr, x + 1.2 * r * std::cos(t), y + 1.2 * r * std::sin(t));
      }
      cairo_stroke(cr);
      cairo_restore(cr);
    }
  }
}

void font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}
double text_width(cairo_t* cr, const std::string& s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}
// Text anchored at (x, y): ax 0 left, 0.5 centre, 1 right; y is the vertical centre.
void text(cairo_t* cr, const std::string& s, double x, double y, double ax, double angle = 0) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -ax * text_width(cr, s), (fe.ascent - fe.descent) / 2);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

bool has_legend(const Panel& p) {
  int n = 0;
  for (const auto& s : p.series) n += !s.label.empty();
  for (const auto& r : p.refs) n += !r.label.empty();
  return n > 1 || (n == 1 && !p.refs.empty());
}
double legend_width(cairo_t* cr, const Panel& p) {
  if (!has_legend(p)) return 0;
  font(cr, kLegendFont);
  double w = 0;
  for (const auto& s : p.series) w = std::max(w, text_width(cr, s.label));
  for (const auto& r : p.refs) w = std::max(w, text_width(cr, r.label));
  return 8 + 26 + 4 + w + 6;
}

struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v, bool log) {
    if (!std::isfinite(v) || (log && v <= 0)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  // Padded by 4% of the span (in log space for log axes); a degenerate range is widened.
  void finish(bool log, double fixed_lo, double fixed_hi) {
    if (!(lo <= hi)) lo = hi = log ? 1 : 0;
    double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi;
    if (b - a < 1e-12) {
      const double w = log ? 0.5 : std::max(std::abs(a) * 0.1, 0.5);
      a -= w;
      b += w;
    }
    const double pad = 0.04 * (b - a);
    a -= pad;
    b += pad;
    lo = log ? std::pow(10, a) : a;
    hi = log ? std::pow(10, b) : b;
    if (std::isfinite(fixed_lo)) lo = fixed_lo;
    if (std::isfinite(fixed_hi)) hi = fixed_hi;
  }
};

// Maps data to the plot area [x0, x0 + w] x [y0, y0 + h] (y up).
struct Frame {
  double x0, y0, w, h;
  Range xr, yr;
  bool lx, ly;
  double fx(double v) const { return x0 + w * frac(v, xr, lx); }
  double fy(double v) const { return y0 + h - h * frac(v, yr, ly); }
  static double frac(double v, const Range& r, bool log) {
    return log ? (std::log10(v) - std::log10(r.lo)) / (std::log10(r.hi) - std::log10(r.lo)) : (v - r.lo) / (r.hi - r.lo);
  }
};

void draw_image_panel(cairo_t* cr, const Panel& p, double x0, double y0, double w, double h) {
  const int H = static_cast<int>(p.image.size(0)), W = static_cast<int>(p.image.size(1));
  cairo_surface_t* img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
  cairo_surface_flush(img);
  const int stride = cairo_image_surface_get_stride(img);
  unsigned char* dst = cairo_image_surface_get_data(img);
  at::Tensor src = p.image.contiguous();
  const uint8_t* s = src.data_ptr<uint8_t>();
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const uint8_t* px = s + 3 * (static_cast<size_t>(y) * W + x);
      reinterpret_cast<uint32_t*>(dst + y * stride)[x] = (uint32_t{px[0]} << 16) | (uint32_t{px[1]} << 8) | px[2];
    }
  cairo_surface_mark_dirty(img);
  const double scale = std::min(w / W, h / H);
  cairo_save(cr);
  cairo_translate(cr, x0 + (w - scale * W) / 2, y0 + (h - scale * H) / 2);
  cairo_scale(cr, scale, scale);
  cairo_set_source_surface(cr, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(img);
  // A thin frame: white image content stays distinct from the page.
  cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
  cairo_set_line_width(cr, 0.6);
  cairo_rectangle(cr, x0 + (w - scale * W) / 2, y0 + (h - scale * H) / 2, scale * W, scale * H);
  cairo_stroke(cr);
}

void draw_plot_panel(cairo_t* cr, const Panel& p, double x0, double y0, double w, double h) {
  Frame f{x0, y0, w, h, {}, {}, p.log_x, p.log_y};
  for (const auto& s : p.series)
    for (size_t i = 0; i < s.y.size() && i < s.x.size(); ++i) {
      f.xr.add(s.x[i], p.log_x);
      const double e = i < s.err.size() && std::isfinite(s.err[i]) ? s.err[i] : 0;
      f.yr.add(s.y[i] + e, p.log_y);
      f.yr.add(e > 0 && (!p.log_y || s.y[i] - e > 0) ? s.y[i] - e : s.y[i], p.log_y);
    }
  for (const auto& r : p.refs) f.yr.add(r.y, p.log_y);
  f.xr.finish(p.log_x, p.x_min, p.x_max);
  f.yr.finish(p.log_y, p.y_min, p.y_max);
  if (p.equal_aspect && !p.log_x && !p.log_y) {  // widen the narrower range to the panel's aspect
    const double ux = (f.xr.hi - f.xr.lo) / w, uy = (f.yr.hi - f.yr.lo) / h, u = std::max(ux, uy);
    const double cx = (f.xr.hi + f.xr.lo) / 2, cy = (f.yr.hi + f.yr.lo) / 2;
    f.xr.lo = cx - u * w / 2, f.xr.hi = cx + u * w / 2, f.yr.lo = cy - u * h / 2, f.yr.hi = cy + u * h / 2;
  }
  // Grid lines and tick labels.
  const std::vector<double> xt = ticks(f.xr.lo, f.xr.hi, p.log_x), yt = ticks(f.yr.lo, f.yr.hi, p.log_y);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  cairo_set_line_width(cr, 0.5);
  cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
  for (double t : xt) {
    cairo_move_to(cr, f.fx(t), y0);
    cairo_line_to(cr, f.fx(t), y0 + h);
  }
  for (double t : yt) {
    cairo_move_to(cr, x0, f.fy(t));
    cairo_line_to(cr, x0 + w, f.fy(t));
  }
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
  font(cr, kTickFont);
  for (double t : xt) {
    cairo_move_to(cr, f.fx(t), y0 + h);
    cairo_line_to(cr, f.fx(t), y0 + h + 3);
    text(cr, tick_label(t, p.log_x ? 0 : xstep), f.fx(t), y0 + h + 11, 0.5);
  }
  for (double t : yt) {
    cairo_move_to(cr, x0, f.fy(t));
    cairo_line_to(cr, x0 - 3, f.fy(t));
    text(cr, tick_label(t, p.log_y ? 0 : ystep), x0 - 5, f.fy(t), 1);
  }
  cairo_stroke(cr);
  font(cr, kLabelFont);
  if (!p.xlabel.empty()) text(cr, p.xlabel, x0 + w / 2, y0 + h + 29, 0.5);
  if (!p.ylabel.empty()) text(cr, p.ylabel, x0 - kLeft + 12, y0 + h / 2, 0.5, -M_PI / 2);

  // Data, clipped to the plot area.
  cairo_save(cr);
  cairo_rectangle(cr, x0, y0, w, h);
  cairo_clip(cr);
  for (size_t k = 0; k < p.refs.size(); ++k) {
    cairo_set_source_rgba(cr, 0.1, 0.1, 0.1, 0.75);
    cairo_set_line_width(cr, 1.1);
    set_dash(cr, 1 + k % 3, 1.1);
    cairo_move_to(cr, x0, f.fy(p.refs[k].y));
    cairo_line_to(cr, x0 + w, f.fy(p.refs[k].y));
    cairo_stroke(cr);
  }
  for (size_t k = 0; k < p.series.size(); ++k) {
    const Series& s = p.series[k];
    const int idx = static_cast<int>(k);
    const Rgb c = colour_of(s, idx);
    cairo_set_source_rgba(cr, c.r, c.g, c.b, s.alpha);
    const size_t n = std::min(s.x.size(), s.y.size());
    auto ok = [&](size_t i) {
      return std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!p.log_x || s.x[i] > 0) && (!p.log_y || s.y[i] > 0);
    };
    if (s.line && n > 1) {
      cairo_set_line_width(cr, 1.6);
      set_dash(cr, dash_of(s, idx), 1.6);
      bool pen = false;
      for (size_t i = 0; i < n; ++i) {
        if (!ok(i)) {
          pen = false;
          continue;
        }
        if (pen) cairo_line_to(cr, f.fx(s.x[i]), f.fy(s.y[i]));
        else cairo_move_to(cr, f.fx(s.x[i]), f.fy(s.y[i]));
        pen = true;
      }
      cairo_stroke(cr);
      cairo_set_dash(cr, nullptr, 0, 0);
    }
    cairo_set_line_width(cr, 1.0);
    for (size_t i = 0; i < n && i < s.err.size(); ++i) {  // error bars with caps
      if (!ok(i) || !(s.err[i] > 0)) continue;
      const double lo = p.log_y && s.y[i] - s.err[i] <= 0 ? f.yr.lo : s.y[i] - s.err[i];
      const double X = f.fx(s.x[i]), a = f.fy(lo), b = f.fy(s.y[i] + s.err[i]);
      cairo_move_to(cr, X, a);
      cairo_line_to(cr, X, b);
      cairo_move_to(cr, X - 3, a);
      cairo_line_to(cr, X + 3, a);
      cairo_move_to(cr, X - 3, b);
      cairo_line_to(cr, X + 3, b);
    }
    cairo_stroke(cr);
    if (s.markers)
      for (size_t i = 0; i < n; ++i)
        if (ok(i)) draw_marker(cr, marker_of(s, idx), f.fx(s.x[i]), f.fy(s.y[i]), s.marker_size);
  }
  cairo_restore(cr);
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 0.8);
  cairo_rectangle(cr, x0, y0, w, h);
  cairo_stroke(cr);

  // Legend, right of the plot area: a line sample with the series' marker, then its label.
  if (!has_legend(p)) return;
  font(cr, kLegendFont);
  double ly = y0 + 8;
  const double lx = x0 + w + 8;
  for (size_t k = 0; k < p.series.size(); ++k) {
    const Series& s = p.series[k];
    if (s.label.empty()) continue;
    const int idx = static_cast<int>(k);
    const Rgb c = colour_of(s, idx);
    cairo_set_source_rgba(cr, c.r, c.g, c.b, std::max(s.alpha, 0.8));
    if (s.line) {
      cairo_set_line_width(cr, 1.6);
      set_dash(cr, dash_of(s, idx), 1.6);
      cairo_move_to(cr, lx, ly);
      cairo_line_to(cr, lx + 26, ly);
      cairo_stroke(cr);
      cairo_set_dash(cr, nullptr, 0, 0);
    }
    if (s.markers) draw_marker(cr, marker_of(s, idx), lx + 13, ly, std::max(s.marker_size, 2.5));
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, s.label, lx + 30, ly, 0);
    ly += 14;
  }
  for (size_t k = 0; k < p.refs.size(); ++k) {
    if (p.refs[k].label.empty()) continue;
    cairo_set_source_rgba(cr, 0.1, 0.1, 0.1, 0.75);
    cairo_set_line_width(cr, 1.1);
    set_dash(cr, 1 + k % 3, 1.1);
    cairo_move_to(cr, lx, ly);
    cairo_line_to(cr, lx + 26, ly);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, p.refs[k].label, lx + 30, ly, 0);
    ly += 14;
  }
}

struct Layout {
  double width, height, cell_h, top, panel_top;
  std::vector<double> col_x;  // each column's left edge (columns are as wide as their legends need)
  int rows, cols;
};
bool blank(const Panel& p) {
  return p.title.empty() && p.subtitle.empty() && p.series.empty() && p.refs.empty() && !p.image.defined();
}
Layout layout(cairo_t* cr, const Figure& f) {
  Layout l{};
  const int cols = std::max(1, std::min<int>(f.cols, static_cast<int>(f.panels.size())));
  l.cols = cols;
  l.rows = static_cast<int>((f.panels.size() + cols - 1) / cols);
  std::vector<double> legend(static_cast<size_t>(cols), 0.0);
  for (size_t i = 0; i < f.panels.size(); ++i) legend[i % cols] = std::max(legend[i % cols], legend_width(cr, f.panels[i]));
  l.col_x.push_back(kMargin);
  for (int c = 0; c < cols; ++c) l.col_x.push_back(l.col_x.back() + kLeft + f.panel_width + kRight + legend[c]);
  l.panel_top = kTop;
  for (const auto& p : f.panels)
    if (!p.subtitle.empty()) l.panel_top = kTop + 14;
  l.cell_h = l.panel_top + f.panel_height + kBottom;
  l.top = kMargin + (f.title.empty() ? 0 : kFigTitle);
  l.width = l.col_x.back() + kMargin;
  l.height = l.top + l.rows * l.cell_h + (f.caption.empty() ? 0 : kCaption) + kMargin;
  return l;
}

void draw(cairo_t* cr, const Figure& f, const Layout& l) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
  if (!f.title.empty()) {
    font(cr, kFigTitleFont, true);
    text(cr, f.title, l.width / 2, kMargin + kFigTitle / 2, 0.5);
  }
  for (size_t i = 0; i < f.panels.size(); ++i) {
    const Panel& p = f.panels[i];
    const double cx = l.col_x[i % l.cols], cy = l.top + static_cast<double>(i / l.cols) * l.cell_h;
    if (blank(p)) continue;
    const double x0 = cx + kLeft, y0 = cy + l.panel_top;
    cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
    font(cr, kTitleFont, true);
    if (!p.title.empty()) text(cr, p.title, x0 + f.panel_width / 2, cy + kTop / 2 + 1, 0.5);
    if (!p.subtitle.empty()) {
      font(cr, kLegendFont);
      cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
      text(cr, p.subtitle, x0 + f.panel_width / 2, cy + kTop / 2 + 15, 0.5);
    }
    if (p.image.defined()) draw_image_panel(cr, p, x0, y0, f.panel_width, f.panel_height);
    else draw_plot_panel(cr, p, x0, y0, f.panel_width, f.panel_height);
  }
  if (!f.caption.empty()) {
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    font(cr, kLabelFont);
    text(cr, f.caption, l.width / 2, l.height - kMargin - kCaption / 2, 0.5);
  }
}

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t s, const std::string& what) {
  if (s != CAIRO_STATUS_SUCCESS) throw std::runtime_error(what + ": cairo: " + cairo_status_to_string(s));
}

void publish(const std::string& path, const std::string& bytes) {
  atomic_publish(path, [&](const std::string& tmp) {
    FILE* fp = std::fopen(tmp.c_str(), "wb");
    if (!fp) throw std::runtime_error("cannot write " + tmp);
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), fp) == bytes.size();
    if (std::fclose(fp) != 0 || !ok) throw std::runtime_error("cannot write " + tmp);
  });
}

}  // namespace

std::vector<double> ticks(double lo, double hi, bool log, int target) {
  std::vector<double> t;
  if (!(hi > lo)) return t;
  if (log && lo > 0) {
    const double a = std::log10(lo), b = std::log10(hi);
    if (b - a >= 0.7) {
      const int every = std::max(1, static_cast<int>(std::ceil((b - a) / 8)));
      const bool minor = b - a < 2;
      for (int e = static_cast<int>(std::floor(a)); e <= static_cast<int>(std::ceil(b)); ++e) {
        if (e % every == 0) {
          for (double m : minor ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
            const double v = m * std::pow(10.0, e);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
          }
        }
      }
      if (t.size() >= 2) return t;
      t.clear();
    }
  }
  const double raw = (hi - lo) / std::max(1, target);
  const int e = static_cast<int>(std::floor(std::log10(raw)));
  const double mag = std::pow(10.0, e);
  // The 1-2-5 step whose tick count is nearest `target` (a tie goes to more ticks).
  double m_best = 1, step = mag;
  int best = 1 << 30;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    const double s = m * mag;
    const int count = static_cast<int>(std::floor(hi / s + 1e-9) - std::ceil(lo / s - 1e-9)) + 1;
    if (std::abs(count - target) < best) {
      best = std::abs(count - target);
      step = s;
      m_best = m;
    }
  }
  // k m 10^e, divided by 10^-e for negative e: 0.3 is the double nearest 0.3, not 3 x 0.1.
  const double p10 = std::pow(10.0, std::abs(e));
  for (int64_t k = static_cast<int64_t>(std::ceil(lo / step - 1e-9)); k <= static_cast<int64_t>(std::floor(hi / step + 1e-9)); ++k)
    t.push_back(e >= 0 ? static_cast<double>(k) * m_best * p10 : static_cast<double>(k) * m_best / p10);
  return t;
}

std::string tick_label(double v, double step) {
  char buf[32];
  const double a = std::abs(v);
  if (v == 0) return "0";
  if (step > 0 && a >= 1e-4 && a < 1e6) {
    const int digits = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  } else {
    std::snprintf(buf, sizeof buf, "%g", v);
  }
  return buf;
}

at::Tensor image_grid(const at::Tensor& batch, double lo, double hi) {
  at::Tensor x = ((batch.detach().to(at::kCPU, at::kFloat) - lo) / (hi - lo)).clamp(0, 1);
  if (x.size(1) == 1) x = x.expand({x.size(0), 3, x.size(2), x.size(3)});
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), pad = 2;
  const int64_t cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n)))), rows = (n + cols - 1) / cols;
  at::Tensor out = at::full({rows * (h + pad) + pad, cols * (w + pad) + pad, 3}, 255, at::kByte);
  at::Tensor u8 = (x * 255).round().to(at::kByte).permute({0, 2, 3, 1});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / cols, c = i % cols;
    out.slice(0, pad + r * (h + pad), pad + r * (h + pad) + h).slice(1, pad + c * (w + pad), pad + c * (w + pad) + w).copy_(u8[i]);
  }
  return out;
}

void save(const Figure& f, const std::string& base_in) {
  std::string base = base_in;
  if (base.size() > 4 && (base.compare(base.size() - 4, 4, ".png") == 0 || base.compare(base.size() - 4, 4, ".pdf") == 0))
    base.resize(base.size() - 4);
  // Measure text on a scratch surface, then draw the PNG (2 px per point) and the PDF.
  cairo_surface_t* scratch = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
  cairo_t* mc = cairo_create(scratch);
  const Layout l = layout(mc, f);
  cairo_destroy(mc);
  cairo_surface_destroy(scratch);

  const double scale = 2;
  std::string png, pdf;
  {
    cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(std::ceil(l.width * scale)),
                                                    static_cast<int>(std::ceil(l.height * scale)));
    cairo_t* cr = cairo_create(s);
    cairo_scale(cr, scale, scale);
    draw(cr, f, l);
    const cairo_status_t drawn = cairo_status(cr);
    cairo_destroy(cr);
    const cairo_status_t written = drawn == CAIRO_STATUS_SUCCESS ? cairo_surface_write_to_png_stream(s, append, &png) : drawn;
    cairo_surface_destroy(s);
    check(written, base + ".png");
  }
  {
    cairo_surface_t* s = cairo_pdf_surface_create_for_stream(append, &pdf, l.width, l.height);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, f.title.c_str());
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "scorelab " SCORELAB_VERSION);
    cairo_t* cr = cairo_create(s);
    draw(cr, f, l);
    const cairo_status_t drawn = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    const cairo_status_t written = drawn == CAIRO_STATUS_SUCCESS ? cairo_surface_status(s) : drawn;
    cairo_surface_destroy(s);
    check(written, base + ".pdf");
  }
  publish(base + ".png", png);
  publish(base + ".pdf", pdf);
}

}  // namespace scorelab::fig
