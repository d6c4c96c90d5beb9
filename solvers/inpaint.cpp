#include "solvers/inpaint.h"

#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/h5log.h"
#include "networks/guidance.h"
#include "networks/score_model.h"
#include "solvers/dpm_singlestep.h"
#include "solvers/euler_maruyama.h"
#include "solvers/ode.h"
#include "solvers/steps.h"

namespace scorelab {

namespace {
// Draw indices of the forward-noise draws (StepContext::normal_like's j), clear of the rules' own.
constexpr int64_t kMergeDraw = 1000, kPathDraw = 900, kPickDraw = 901, kParticleDraw = 902,
                  kPathStartDraw = 903;
// The particles' noise: seed ^ kParticleSeed, sample i's particle j at index i M + j.
constexpr uint64_t kParticleSeed = 0x5DEECE66Dull;

// Sequential Monte Carlo's per-run state: each sample's known values, mask and forward path
// (at the current time) [B, ...], the particles' log-weights float64 [B, M] and noise source.
struct SMCState : RuleState {
  at::Tensor known, mask, path, log_w;
  NoiseSource particles;
};

at::Tensor per_particle(const at::Tensor& t, int64_t M) { return t.repeat_interleave(M, 0); }

// One uniform in (0, 1) per sample from its normal draw j at step k (float64 [B]).
at::Tensor uniform_per_sample(const StepContext& ctx, int64_t B, int64_t j) {
  at::Tensor z = ctx.normal_like(at::empty({B}, at::TensorOptions().dtype(at::kDouble).device(ctx.noise.indices.device())), j);
  return 0.5 * at::erfc(-z / std::sqrt(2.0));
}

// Row indices into [B M] picking, for each sample, particles at the weights' quantiles `pos`
// ([B, P] in [0, 1)); cdf: [B, M] cumulative normalised weights.
at::Tensor pick_rows(const at::Tensor& cdf, const at::Tensor& pos) {
  const int64_t B = cdf.size(0), M = cdf.size(1);
  at::Tensor j = at::searchsorted(cdf.contiguous(), pos.contiguous(), /*out_int32=*/false, /*right=*/true).clamp_max(M - 1);
  return j + (at::arange(B, j.options()) * M).unsqueeze(1);
}

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

std::unique_ptr<RuleState> InpaintStep::state() const {
  if (spec_.particles > 1) return std::make_unique<SMCState>();
  return inner_->state();
}

double InpaintStep::move_std(const ScoreModel& model, const StepContext& ctx) const {
  if (auto* a = dynamic_cast<const AncestralStep*>(inner_.get())) {
    const Transition tr = transition(ctx);
    return std::sqrt(a->beta_tilde() ? tr.posterior_variance() : tr.v_ts);
  }
  const double g = model.sde().diffusion(at::full({1}, ctx.t(), at::kDouble)).item<double>();
  return g * std::sqrt(ctx.t() - ctx.t_next());  // Euler–Maruyama
}

at::Tensor InpaintStep::smc_step(const ScoreModel& model, const at::Tensor& x_in, StepContext& ctx) const {
  SMCState& st = ctx.state_as<SMCState>();
  const int64_t M = spec_.particles;
  if (dynamic_cast<const LabelledModel*>(&model))
    throw std::invalid_argument("sample.inpaint.particles: sequential Monte Carlo runs unlabelled models only");
  at::Tensor x = x_in;
  if (ctx.k == 0) {  // B samples become B M particles, drawn from the prior; the path starts at q(k_{t_0} | k_0)
    const int64_t B = x_in.size(0);
    st.known = rows_for(spec_.known, ctx.noise, x_in);
    st.mask = rows_for(spec_.mask, ctx.noise, x_in);
    at::Tensor idx = (ctx.noise.indices.unsqueeze(1) * M + at::arange(M, ctx.noise.indices.options())).flatten();
    st.particles = NoiseSource{ctx.noise.seed ^ kParticleSeed, idx, 0.0};
    StepContext cp{ctx.schedule, ctx.k, ctx.last, st.particles, nullptr};
    at::Tensor xp = model.sde().prior_from_normal(cp.normal_like(per_particle(x_in, M), kParticleDraw));
    st.path = ctx.alpha() * st.known + ctx.sigma() * ctx.normal_like(x_in, kPathStartDraw);
    st.log_w = at::zeros({B, M}, at::TensorOptions().dtype(at::kDouble).device(x_in.device()));
    x = at::where(per_particle(st.mask, M) > 0.5, per_particle(st.path, M), xp);
  }
  const int64_t B = st.known.size(0);
  // The move's mean: the inner rule's step without noise (its last-step form).
  StepContext cm{ctx.schedule, ctx.k, /*last=*/true, st.particles, nullptr};
  cm.want_x0 = ctx.want_x0;
  at::Tensor mean = inner_->step(model, x, cm);
  if (cm.x0.defined()) ctx.x0 = cm.x0.view({B, M, -1}).select(1, 0).reshape(st.known.sizes());
  const double sd = move_std(model, ctx);
  // The path's next value: the forward process's bridge q(k_s | k_t, k_0).
  const Transition tr = transition(ctx);
  at::Tensor next = tr.alpha_s * st.known;
  if (tr.sigma_t > 0) {
    const double s2 = tr.sigma_t * tr.sigma_t, var = tr.posterior_variance();
    next = (tr.a_ts * tr.sigma_s * tr.sigma_s / s2) * st.path + (tr.alpha_s * tr.v_ts / s2) * st.known;
    if (var > 0) next = next + std::sqrt(var) * ctx.normal_like(st.known, kPathDraw);
  }
  st.path = next;
  const at::Tensor mask_p = per_particle(st.mask, M), next_p = per_particle(next, M);
  if (sd > 0) {
    at::Tensor d = ((next_p - mean) * mask_p).to(at::kDouble);
    st.log_w = st.log_w - d.pow(2).reshape({B, M, -1}).sum(2) / (2 * sd * sd);
  }
  at::Tensor out = mean;
  if (!ctx.last && sd > 0) {
    StepContext cz{ctx.schedule, ctx.k, false, st.particles, nullptr};
    out = mean + sd * cz.normal_like(mean);
  }
  out = at::where(mask_p > 0.5, next_p, out);
  at::Tensor w = at::softmax(st.log_w, 1);
  at::Tensor cdf = w.cumsum(1);
  cdf.select(1, M - 1).fill_(1.0);
  at::Tensor u = uniform_per_sample(ctx, B, kPickDraw).unsqueeze(1);
  if (ctx.last) return out.index_select(0, pick_rows(cdf, u).flatten().to(out.device()));  // one particle, by weight
  // Systematic resampling of the samples whose effective sample size fell below the threshold.
  at::Tensor low = (1.0 / w.pow(2).sum(1) < spec_.ess_threshold * M).unsqueeze(1);
  at::Tensor pos = (u + at::arange(M, cdf.options()).unsqueeze(0)) / static_cast<double>(M);
  at::Tensor keep = at::arange(B * M, low.options().dtype(at::kLong)).view({B, M});
  at::Tensor rows = at::where(low, pick_rows(cdf, pos), keep);
  st.log_w = at::where(low, at::zeros_like(st.log_w), st.log_w);
  return out.index_select(0, rows.flatten().to(out.device()));
}

at::Tensor InpaintStep::step(const ScoreModel& model, const at::Tensor& x_in, StepContext& ctx) const {
  if (spec_.particles > 1) return smc_step(model, x_in, ctx);
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
  s.particles = c.get_int("particles", 1, 1, 65536);
  s.ess_threshold = c.get_double("ess_threshold", 0.5, 0.0, 1.0);
  if (s.ess_threshold <= 0) c.fail("ess_threshold", "must be in (0, 1]");
  if (c.has("ess_threshold") && s.particles == 1) c.fail("ess_threshold", "applies to particles > 1 only");
  if (s.particles > 1 && s.resample > 1)
    c.fail("particles", "sequential Monte Carlo (particles) and RePaint (resample) do not combine");
  return s;
}

std::shared_ptr<Sampler> with_inpainting(const Sampler& sampler, InpaintSpec spec, const Config& c) {
  const StepRule* rule = sampler.rule().get();
  if (dynamic_cast<const RK45Step*>(rule) || dynamic_cast<const DPMSolverAdaptiveStep*>(rule))
    c.fail("inpaint", "sampler '" + sampler.name() +
                          "' integrates [T, eps] in one adaptive interval: there is no step at which to put the known "
                          "values back. Use a fixed-grid sampler");
  if (spec.particles > 1 && !dynamic_cast<const EulerMaruyamaStep*>(rule) && !dynamic_cast<const AncestralStep*>(rule))
    c.fail("inpaint", "particles > 1 need a sampler whose step is one Gaussian move (euler_maruyama, ancestral), not '" +
                          sampler.name() + "'");
  if (spec.particles > 1 && sampler.brownian_noise())
    c.fail("inpaint", "particles > 1 draw each particle's own noise: use noise: independent");
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
