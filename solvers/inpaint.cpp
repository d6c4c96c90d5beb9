#include "solvers/inpaint.h"

#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/h5log.h"
#include "solvers/dpm_singlestep.h"
#include "solvers/ode.h"

namespace scorelab {

namespace {
// Draw indices of the forward-noise draws (StepContext::normal_like's j), clear of the rules' own.
constexpr int64_t kMergeDraw = 1000;

at::Tensor rows_for(const at::Tensor& t, const NoiseSource& noise, const at::Tensor& x) {
  at::Tensor idx = noise.indices.to(at::kCPU).remainder(t.size(0));
  return t.index_select(0, idx).to(x.device(), x.scalar_type());
}

// x with its known coordinates replaced by alpha known + sigma z.
at::Tensor merge(const at::Tensor& x, const at::Tensor& known, const at::Tensor& mask, double alpha, double sigma,
                 const at::Tensor& z) {
  at::Tensor fwd = sigma > 0 ? alpha * known + sigma * z : alpha * known;
  return at::where(mask > 0.5, fwd, x);
}
}  // namespace

at::Tensor InpaintStep::step(const ScoreModel& model, const at::Tensor& x_in, StepContext& ctx) const {
  const at::Tensor known = rows_for(spec_.known, ctx.noise, x_in), mask = rows_for(spec_.mask, ctx.noise, x_in);
  at::Tensor x = x_in;
  if (ctx.k == 0) x = merge(x, known, mask, ctx.alpha(), ctx.sigma(), ctx.normal_like(x, kMergeDraw - 1));
  at::Tensor out;
  for (int64_t u = 0; u < spec_.resample; ++u) {
    // Repeat u > 0 draws its step noise from another seed: a RePaint repeat is a new move.
    NoiseSource nu = ctx.noise;
    nu.seed = ctx.noise.seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(u));
    StepContext cu{ctx.schedule, ctx.k, ctx.last, u == 0 ? ctx.noise : nu, ctx.state};
    cu.want_x0 = ctx.want_x0;
    out = inner_->step(model, x, cu);
    if (u == 0) ctx.x0 = cu.x0;
    out = merge(out, known, mask, ctx.alpha_next(), ctx.sigma_next(), ctx.normal_like(out, kMergeDraw + 2 * u));
    if (u + 1 < spec_.resample) {  // back to t_k through the forward transition
      const double a = ctx.alpha() / ctx.alpha_next();
      const double v = std::max(0.0, ctx.sigma() * ctx.sigma() - a * a * ctx.sigma_next() * ctx.sigma_next());
      x = a * out + std::sqrt(v) * ctx.normal_like(out, kMergeDraw + 2 * u + 1);
    }
  }
  return out;
}

at::Tensor InpaintStep::finish(const at::Tensor& x, const NoiseSource& noise) const {
  const at::Tensor known = rows_for(spec_.known, noise, x), mask = rows_for(spec_.mask, noise, x);
  return at::where(mask > 0.5, known, inner_->finish(x, noise));
}

namespace {
at::Tensor inline_array(const Config& c, const std::string& key, int64_t numel) {
  Config::NumberArray a = c.get_array(key);
  if (static_cast<int64_t>(a.values.size()) != numel)
    c.fail(key, "has " + std::to_string(a.values.size()) + " numbers; one sample has " + std::to_string(numel));
  return at::tensor(a.values, at::kDouble);
}
}  // namespace

InpaintSpec inpaint_from(const Config& c, const std::vector<int64_t>& sample_shape) {
  InpaintSpec s;
  int64_t numel = 1;
  for (int64_t d : sample_shape) numel *= d;
  std::vector<int64_t> one{1};
  one.insert(one.end(), sample_shape.begin(), sample_shape.end());
  const bool file = c.has("file"), values = c.has("values");
  if (file == values) c.fail(file ? "values" : "file", "give the known values either inline (values) or in a file (file), not both");
  if (values) {
    s.known = inline_array(c, "values", numel).view(one);
  } else {
    const std::string path = c.get_string("file");
    if (!std::filesystem::exists(path)) c.fail("file", "no such file: " + path);
    const std::string ds = c.get_string("dataset", "x");
    try {
      s.known = RunLog::read_array(path, ds).to(at::kDouble);
    } catch (const std::exception& e) {
      c.fail("dataset", "cannot read '" + ds + "' from " + path + ": " + e.what());
    }
    if (s.known.numel() == numel) s.known = s.known.reshape(one);
    if (s.known.dim() < 1 || s.known.numel() % numel != 0 || s.known[0].numel() != numel)
      c.fail("dataset", "'" + ds + "' is not a stack of samples of the data's shape");
    std::vector<int64_t> shape{s.known.size(0)};
    shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
    s.known = s.known.reshape(shape);
  }
  const int ways = c.has("mask") + c.has("box");
  if (ways > 1) c.fail("box", "give the mask either inline (mask) or as a box, not both");
  if (c.has("mask")) {
    s.mask = inline_array(c, "mask", numel).view(one);
  } else if (c.has("box")) {
    if (sample_shape.size() != 3) c.fail("box", "is for images [C, H, W]; use mask for these samples");
    std::vector<int64_t> b = c.get_int_list("box", {});
    const int64_t H = sample_shape[1], W = sample_shape[2];
    if (b.size() != 4 || b[0] < 0 || b[0] >= b[1] || b[1] > H || b[2] < 0 || b[2] >= b[3] || b[3] > W)
      c.fail("box", "expected [row0, row1, col0, col1] with 0 <= row0 < row1 <= " + std::to_string(H) +
                        " and 0 <= col0 < col1 <= " + std::to_string(W));
    s.mask = at::ones(one, at::kDouble);
    s.mask.slice(2, b[0], b[1]).slice(3, b[2], b[3]).zero_();
  } else if (file) {
    const std::string path = c.get_string("file");
    try {
      s.mask = RunLog::read_array(path, "mask").to(at::kDouble);
    } catch (const std::exception&) {
      c.fail("file", "has no dataset 'mask': give mask or box inline");
    }
    if (s.mask.numel() == numel) s.mask = s.mask.reshape(one);
    if (s.mask.numel() % numel != 0) c.fail("file", "its dataset 'mask' is not of the data's shape");
    std::vector<int64_t> shape{s.mask.numel() / numel};
    shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
    s.mask = s.mask.reshape(shape);
  } else {
    c.fail("mask", "required: which coordinates are known (1) and which are to be sampled (0)");
  }
  if (!at::logical_or(s.mask == 0, s.mask == 1).all().item<bool>()) c.fail(c.has("mask") ? "mask" : "file", "mask entries must be 0 or 1");
  s.resample = c.get_int("resample", 1, 1, 1000);
  return s;
}

std::shared_ptr<Sampler> with_inpainting(const Sampler& sampler, InpaintSpec spec, const Config& c) {
  const StepRule* rule = sampler.rule().get();
  if (dynamic_cast<const RK45Step*>(rule) || dynamic_cast<const DPMSolverAdaptiveStep*>(rule))
    c.fail("inpaint", "sampler '" + sampler.name() +
                          "' integrates [T, eps] in one adaptive interval: there is no step at which to put the known "
                          "values back. Use a fixed-grid sampler");
  if (spec.resample > 1 && rule->state())
    c.fail("inpaint", "resample > 1 repeats each step; sampler '" + sampler.name() +
                          "' is multistep (it keeps earlier steps' estimates). Use a one-step sampler or resample: 1");
  if (spec.resample > 1 && sampler.brownian_noise())
    c.fail("inpaint", "resample > 1 repeats steps, which one Brownian path cannot: use noise: independent");
  auto s = std::make_shared<Sampler>(sampler.name(), sampler.grid(), std::make_shared<InpaintStep>(sampler.rule(), std::move(spec)),
                                     sampler.denoise_final());
  s->use_brownian_noise(sampler.brownian_noise());
  return s;
}

}  // namespace scorelab
