#include "experiments/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/config.h"
#include "core/device.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "experiments/compare_order.h"
#include "experiments/inference.h"
#include "experiments/evaluation/evaluation.h"
#include "experiments/report/figure.h"
#include "experiments/report/plots.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {

struct Setting {
  std::string sampler;
  std::vector<std::string> overrides;  // key: value pairs of the sample section
  std::string label;                   // "key=value, ..." without the type
  int64_t steps = -1;                  // when steps was one of a list
  size_t entry = 0;
  std::string guidance;                // when guidance was one of a list
  std::string fixed;                   // the entry's other settings, "key=value, ..."
};

// One row per entry, or per value of its `steps` list times each value of its `guidance` list
// (classifier-free guidance scales swept like step counts).
std::vector<Setting> expand(const Config& cmp) {
  std::vector<Setting> out;
  int64_t count = cmp.list_size("samplers");
  if (count == 0) cmp.fail("samplers", "needs a list of samplers, e.g. - {type: ode, method: rk45}");
  for (int64_t i = 0; i < count; ++i) {
    std::string key = "samplers." + std::to_string(i);
    Config e = cmp.at(key);
    std::string type = e.get_string("type");
    std::vector<std::string> fixed{"type: " + type};
    std::string label;
    std::vector<int64_t> steps{-1};  // -1: not a list
    bool steps_listed = false;
    std::vector<std::string> guidance{""};
    for (const auto& k : e.keys()) {
      if (k == "type") continue;
      if (k == "steps" && e.is_list("steps")) {
        steps = e.get_int_list("steps", {});
        steps_listed = true;
        if (steps.empty()) e.fail("steps", "an empty list");
        continue;
      }
      if (k == "guidance" && e.is_list("guidance")) {
        guidance.clear();
        for (const auto& w : e.get_string_list("guidance", {})) guidance.push_back(w);
        if (guidance.empty()) e.fail("guidance", "an empty list");
        continue;
      }
      std::string v = e.get_text(k);
      fixed.push_back(k + ": " + v);
      label += (label.empty() ? "" : ", ") + k + "=" + v;
    }
    for (int64_t s : steps)
      for (const auto& w : guidance) {
        auto ov = fixed;
        std::string lead;
        if (steps_listed) {  // checked (>= 1) when the row's sampler is built
          ov.push_back("steps: " + std::to_string(s));
          lead = "steps=" + std::to_string(s);
        }
        if (!w.empty()) {
          ov.push_back("guidance: " + w);
          lead += (lead.empty() ? "" : ", ") + std::string("guidance=") + w;
        }
        out.push_back({type, ov, lead + (lead.empty() || label.empty() ? "" : ", ") + label, s, static_cast<size_t>(i), w,
                       label});
      }
  }
  return out;
}

// samples.png: the data, then one row per sampler entry with a panel per step count (metric
// values in each panel's subtitle). quality_vs_nfe.png: the quality metric against NFE (log-log),
// one line per entry, the metric's floor and prior value dashed.
void plot_compare(const std::string& out_dir, bool images, const at::Tensor& ref, const std::vector<at::Tensor>& samples,
                  const std::vector<Setting>& settings, const std::vector<CompareRow>& rows, const std::string& quality,
                  const Metrics& baselines, const std::string& path) {
  const bool points = !images && ref.dim() == 2 && ref.size(1) == 2;
  std::vector<std::vector<size_t>> by_entry;
  for (size_t i = 0; i < settings.size(); ++i) {
    if (i == 0 || settings[i].entry != settings[i - 1].entry) by_entry.emplace_back();
    by_entry.back().push_back(i);
  }
  auto entry_name = [&](size_t i) {  // the sampler and its fixed settings, without the step count
    std::string label = settings[i].label;
    if (settings[i].steps > 0) {
      const size_t comma = label.find(", ");
      label = comma == std::string::npos ? "" : label.substr(comma + 2);
    }
    return settings[i].sampler + (label.empty() ? "" : " (" + label + ")");
  };
  auto quality_of = [&](const CompareRow& r) { return metric_value(r.metrics, quality); };
  if (images || points) {
    fig::Figure f;
    f.title = "samplers on " + path + " (same x_T for every panel)";
    size_t cols = 1;
    for (const auto& e : by_entry) cols = std::max(cols, e.size());
    f.cols = static_cast<int>(cols);
    f.panel_width = f.panel_height = images ? 180 : 170;
    const double extent = scatter_extent(ref);
    auto panel = [&](const at::Tensor& x, const std::string& title, const std::string& subtitle, bool muted) {
      fig::Panel p;
      if (images) {
        p.image = fig::image_grid(x.slice(0, 0, std::min<int64_t>(36, x.size(0))), -1.0, 1.0);
      } else {
        p = scatter_panel(x, extent, muted);
        p.series.back().marker_size = 1.2;
      }
      p.title = title;
      p.subtitle = subtitle;
      return p;
    };
    f.panels.push_back(panel(ref, "data", std::to_string(ref.size(0)) + (images ? " images" : " points"), true));
    for (size_t c = 1; c < cols; ++c) f.panels.emplace_back();
    for (const auto& e : by_entry) {
      for (size_t i : e) {
        char sub[96];
        std::snprintf(sub, sizeof sub, "NFE %ld, %s %.3g", static_cast<long>(rows[i].nfe), quality.c_str(), quality_of(rows[i]));
        std::string title = entry_name(i), subtitle = sub;
        if (!settings[i].guidance.empty()) {
          // A guidance sweep: the sampler and the scale in the title, its fixed settings below.
          title = settings[i].sampler + (settings[i].steps > 0 ? ", " + std::to_string(settings[i].steps) + " steps" : "") +
                  ", w = " + settings[i].guidance;
          if (!settings[i].fixed.empty()) subtitle = settings[i].fixed + "; " + subtitle;
        } else if (settings[i].steps > 0) {  // "ode (method=heun)" -> "ode heun, 15 steps"
          const size_t eq = title.find("(method=");
          if (eq != std::string::npos) title = title.substr(0, eq) + title.substr(eq + 8, title.size() - eq - 9);
          title += ", " + std::to_string(settings[i].steps) + " steps";
          if (title.size() > 30 && eq == std::string::npos) {  // long settings go below: titles must fit a panel
            title = settings[i].sampler + ", " + std::to_string(settings[i].steps) + " steps";
            if (!settings[i].fixed.empty()) subtitle = settings[i].fixed + "; " + subtitle;
          }
        }
        f.panels.push_back(panel(samples[i], title, subtitle, false));
      }
      for (size_t c = e.size(); c < cols; ++c) f.panels.emplace_back();
    }
    fig::save(f, out_dir + "/samples.png");
  }
  bool curve = false;  // an entry with several step counts (a guidance list alone has one NFE)
  for (const auto& e : by_entry)
    for (size_t i : e) curve |= settings[i].steps != settings[e[0]].steps;
  if (!curve) return;
  fig::Figure f;
  f.title = "sample quality against cost: " + path;
  f.panel_width = 420;
  f.panel_height = 280;
  fig::Panel p;
  p.xlabel = "NFE (score evaluations per sample, log scale)";
  p.log_x = true;
  bool positive = true;
  for (const auto& r : rows) positive &= quality_of(r) > 0;
  p.log_y = positive;
  p.ylabel = quality + (positive ? " (log scale)" : "");
  for (const auto& e : by_entry) {
    fig::Series s;
    s.label = entry_name(e[0]);
    for (size_t i : e) {
      s.x.push_back(static_cast<double>(rows[i].nfe));
      s.y.push_back(quality_of(rows[i]));
      for (size_t k = 0; k < rows[i].metrics.size(); ++k)
        if (rows[i].metrics[k].first == quality) s.err.push_back(rows[i].se[k]);
    }
    p.series.push_back(s);
  }
  for (const auto& [k, v] : baselines) {
    if (k == quality + "_floor") p.refs.push_back({"floor (data vs data)", v});
    if (k == quality + "_prior") p.refs.push_back({"prior (nothing learned)", v});
  }
  f.panels.push_back(p);
  fig::save(f, out_dir + "/quality_vs_nfe.png");
}

std::string fmt3(double v) {  // seconds: 3 significant figures
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(5);
  os << v;
  return os.str();
}

}  // namespace

std::vector<CompareRow> run_compare(const std::string& path, const std::vector<std::string>& cli_overrides,
                                    const Registries& reg, bool check_only) {
  Config cmp = Config::load_file(path, cli_overrides);
  std::string source = cmp.get_string("source");
  if (!fs::exists(source) && fs::exists(fs::path(path).parent_path() / source))
    source = (fs::path(path).parent_path() / source).string();
  std::vector<std::string> base;
  int64_t nov = cmp.list_size("overrides");
  for (int64_t i = 0; i < nov; ++i) base.push_back(cmp.get_text("overrides." + std::to_string(i)));
  const int64_t n = cmp.get_int("n", 2000, 1);
  const int64_t seed = cmp.get_int("seed", 0, 0);
  const int64_t repeats = cmp.get_int("repeats", 3, 1, 100);
  const int64_t ref_n = cmp.get_int("reference_n", 4000, 2);
  const int64_t projections = cmp.get_int("projections", 256, 1);
  const std::string out_dir = cmp.get_string("out_dir", "runs/compare/" + fs::path(path).stem().string());
  std::vector<Setting> settings = expand(cmp);

  // The model and the data set are built once, from the source; then every row's sampler from
  // its own section (which replaces the source's `sample` section whole) before sampling
  // anything: a bad setting fails now, naming its entry.
  auto ov = base;
  ov.push_back("run.seed=" + std::to_string(seed));
  Loaded loaded = load_for_inference(source, ov, reg);
  const Experiment& ex0 = loaded.ex;
  std::vector<std::shared_ptr<const Sampler>> samplers;
  std::vector<int64_t> batch_sizes;
  std::vector<double> guidance;  // each row's sample.guidance (the source's unless the row sets it)
  for (const auto& s : settings) {
    std::string section = "sample: {n: " + std::to_string(n);
    for (const auto& kv : s.overrides) section += ", " + kv;
    try {
      Config row = Config::from_string(section + "}\n", path);
      Config sc = row.at("sample");
      SampleOptions labels = ex0.sample;  // read first: the sampler's section is checked when it is built
      labels.guidance = sc.get_double("guidance", ex0.sample.guidance, -1.0, 1e6);
      labels.where = sc.where("");
      if (sc.has("classes"))
        sc.fail("classes", "the same labels go with the same x_T in every row: set sample.classes in `overrides`");
      samplers.push_back(build_sampler(reg, sc, *ex0.sde, ex0.data->sample_shape()));
      sc.get_int("n", n, 1);
      batch_sizes.push_back(sc.get_int("batch_size", 0, 0));
      if (sc.get_bool("use_ema", ex0.sample.use_ema) != ex0.sample.use_ema)
        sc.fail("use_ema", "applies to the whole comparison (one model): set sample.use_ema in `overrides`");
      check_sample_labels(labels, *loaded.model);
      guidance.push_back(labels.guidance);
      row.check_unused();
    } catch (const ConfigError& e) {
      cmp.fail("samplers." + std::to_string(s.entry), std::string("this sampler's settings: ") + e.what());
    }
  }
  // `reference:` a deterministic sampler solved accurately from the same x_T (e.g. RK45 at
  // rtol 1e-10): every row gets the columns ref_median and ref_rmse (the median and RMS of the
  // per-sample distances), and deterministic entries an empirical order fitted on ref_median.
  std::shared_ptr<const Sampler> reference;
  if (cmp.has("reference")) {
    Config rc = cmp.at("reference");
    try {
      std::shared_ptr<Sampler> r = build_sampler(reg, rc, *ex0.sde, ex0.data->sample_shape());
      if (r->stochastic()) rc.fail("type", "the reference must be deterministic (an ODE solver), not '" + r->name() + "' with noise");
      reference = r;
    } catch (const ConfigError& e) {
      cmp.fail("reference", e.what());
    }
  }
  std::vector<std::string> columns = Evaluator::metric_names(ex0, reg.metric);
  if (reference) columns.insert(columns.end(), {"ref_median", "ref_rmse"});
  const std::string quality = cmp.get_string("quality", ex0.eval.headline);
  if (std::find(columns.begin(), columns.end(), quality) == columns.end())
    cmp.fail("quality", "'" + quality + "' is not a metric of this comparison's data");
  cmp.check_unused();
  if (check_only) {
    std::cout << "ok: " << path << ": " << settings.size() << " sampler settings on " << source << " (nothing run)\n";
    return {};
  }
  if (ex0.run.threads > 0)
    at::set_num_threads(static_cast<int>(ex0.run.threads));
  else
    choose_sampling_threads(ex0, *loaded.model, n);
  Evaluator ev(ex0, ref_n, projections, static_cast<uint64_t>(seed), reg.metric);
  const at::Tensor& ref = ev.reference();
  const auto opts = at::TensorOptions().dtype(ex0.run.dtype).device(ex0.device);

  // Each row `repeats` times, repeat k from x_T and noise of seed + k (the same for every row):
  // metrics and seconds are means over the repeats, with the metrics' standard errors.
  std::vector<CompareRow> rows;
  std::vector<at::Tensor> samples;  // repeat 0's
  std::vector<at::Tensor> ref_x;    // the reference solution of each repeat
  for (int64_t k = 0; reference && k < repeats; ++k)
    ref_x.push_back(draw_samples(*reference, *loaded.model, n, 0, static_cast<uint64_t>(seed + k), ex0.data->sample_shape(),
                                 opts, "reference (" + std::to_string(k + 1) + "/" + std::to_string(repeats) + ")",
                                 ex0.sample.classes, ex0.sample.guidance)
                        .x);
  for (size_t i = 0; i < settings.size(); ++i) {
    // The canonical sampler name (an alias such as dpmpp_2m is recorded in the settings).
    const std::string canonical = samplers[i]->name();
    std::string label = settings[i].label;
    if (canonical != settings[i].sampler) label = "alias " + settings[i].sampler + (label.empty() ? "" : ", " + label);
    CompareRow row{canonical, label, 0, 0, {}, {}, {}};
    std::vector<std::vector<double>>& per_repeat = row.per_repeat;
    for (int64_t k = 0; k < repeats; ++k) {
      const std::string label = repeats > 1 ? settings[i].sampler + " (" + std::to_string(k + 1) + "/" +
                                                  std::to_string(repeats) + ")"
                                            : settings[i].sampler;
      SampleResult r = draw_samples(*samplers[i], *loaded.model, n, batch_sizes[i], static_cast<uint64_t>(seed + k),
                                    ex0.data->sample_shape(), opts, label, ex0.sample.classes, guidance[i]);
      Metrics m = ev.score(r.x, 0, r.labels);
      if (reference) {
        const PairedDistance d = paired_distance(r.x, ref_x[k]);
        m.emplace_back("ref_median", d.median);
        m.emplace_back("ref_rmse", d.rms);
      }
      if (k == 0) {
        row.metrics = m;
        per_repeat.resize(m.size());
        samples.push_back(r.x);
      }
      for (size_t j = 0; j < m.size(); ++j) per_repeat[j].push_back(m[j].second);
      row.nfe = r.nfe;
      row.seconds += r.seconds / static_cast<double>(repeats);
    }
    for (size_t j = 0; j < row.metrics.size(); ++j) {  // standard error: sd / sqrt(repeats)
      const auto [mean, sd] = mean_and_sd(per_repeat[j]);
      row.metrics[j].second = mean;
      row.se.push_back(sd / std::sqrt(static_cast<double>(per_repeat[j].size())));
    }
    rows.push_back(row);
  }

  // Empirical orders: one line per deterministic entry and guidance scale (an entry listing
  // both expands steps x guidance), against the reference.
  std::vector<OrderLine> orders;
  std::map<std::pair<size_t, std::string>, size_t> line_of;
  for (size_t i = 0; reference && i < rows.size(); ++i) {
    if (samplers[i]->stochastic()) continue;
    auto [it, fresh] = line_of.emplace(std::make_pair(settings[i].entry, settings[i].guidance), orders.size());
    if (fresh) {
      const std::string w = settings[i].guidance.empty() ? "" : "guidance=" + settings[i].guidance;
      orders.push_back({rows[i].sampler, settings[i].fixed + (settings[i].fixed.empty() || w.empty() ? "" : ", ") + w, {}, {}, 0});
    }
    orders[it->second].nfe.push_back(static_cast<double>(rows[i].nfe));
    orders[it->second].err.push_back(metric_value(rows[i].metrics, "ref_median"));
  }
  orders.erase(std::remove_if(orders.begin(), orders.end(),
                              [](OrderLine& l) {
                                l.order = fitted_order(l.nfe, l.err);
                                return std::isnan(l.order);
                              }),
               orders.end());

  // Outputs: Markdown, CSV, HDF5, plots.
  fs::create_directories(out_dir);
  std::ostringstream md, csv;
  // NFE-matched rows: an NFE shared by rows of different sampler entries gets a group letter;
  // within each group the best `quality` value is in bold (the lowest or highest, as the metric
  // says; none for a metric that is neither).
  std::vector<std::string> group(rows.size());
  std::vector<bool> best(rows.size(), false);
  const Metric* quality_metric = reg.metric.find(quality);
  const Better better = quality_metric ? quality_metric->better : Better::lower;
  auto is_better = [&](double a, double b) { return better == Better::lower ? a < b : better == Better::higher && a > b; };
  {
    char letter = 'A';
    std::vector<bool> seen(rows.size(), false);
    for (size_t i = 0; i < rows.size(); ++i) {
      if (seen[i]) continue;
      std::vector<size_t> same{i};
      for (size_t j = i + 1; j < rows.size(); ++j)
        if (rows[j].nfe == rows[i].nfe && settings[j].entry != settings[i].entry) same.push_back(j);
      if (same.size() < 2) continue;
      size_t arg = same[0];
      for (size_t j : same) {
        seen[j] = true;
        group[j] = std::string(1, letter);
        if (is_better(metric_value(rows[j].metrics, quality), metric_value(rows[arg].metrics, quality))) arg = j;
      }
      best[arg] = better != Better::neither;
      if (letter < 'Z') ++letter;
    }
  }
  md << "| sampler | settings | NFE | NFE-matched | seconds |";
  csv << "sampler,settings,nfe,nfe_group,seconds";
  for (const auto& [k, v] : rows[0].metrics) md << " " << k << " |", csv << "," << csv_field(k) << "," << csv_field(k + "_se");
  md << "\n|---|---|---|---|---|";
  for (size_t k = 0; k < rows[0].metrics.size(); ++k) md << "---|";
  md << "\n";
  csv << "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const CompareRow& r = rows[i];
    md << "| " << r.sampler << " | " << r.settings << " | " << r.nfe << " | " << group[i] << " | " << fmt3(r.seconds) << " |";
    csv << csv_field(r.sampler) << "," << csv_field(r.settings) << "," << r.nfe << "," << group[i] << "," << r.seconds;
    for (size_t k = 0; k < r.metrics.size(); ++k) {
      std::string cell = fmt(r.metrics[k].second) + (std::isnan(r.se[k]) ? "" : " ± " + fmt3(r.se[k]));
      if (best[i] && r.metrics[k].first == quality) cell = "**" + cell + "**";
      md << " " << cell << " |";
      csv << "," << r.metrics[k].second << ",";
      if (!std::isnan(r.se[k])) csv << r.se[k];
    }
    md << "\n";
    csv << "\n";
  }
  std::string header = "# compare: " + path + "\n\nsource `" + source + "`, " + std::to_string(n) +
                       " samples per sampler from the same x_T; metrics against " + std::to_string(ref_n) +
                       " fresh data points (sliced W2 with " + std::to_string(projections) + " directions). " +
                       (repeats > 1 ? "Each value is the mean ± standard error over " + std::to_string(repeats) +
                                          " repeats (x_T and noise of seeds " + std::to_string(seed) + ".." +
                                          std::to_string(seed + repeats - 1) +
                                          ", the same for every row; sd / sqrt(repeats)); seconds: mean wall time."
                                    : "One repeat (seed " + std::to_string(seed) + "): no standard errors.") +
                       " NFE-matched: rows of different samplers with the same NFE share a letter" +
                       (better == Better::neither ? " (" + quality + " is a value to match, not to minimise: none in bold)."
                                                  : std::string("; the ") + (better == Better::lower ? "lowest " : "highest ") +
                                                        quality + " of each group is in bold.") +
                       " Baselines:";
  for (const auto& [k, v] : ev.baselines()) header += " " + k + " " + fmt(v) + ";";
  header += "\n\n";
  if (reference) {
    md << "\n## Order of convergence\n\nref_median, ref_rmse: the median and the RMS of the per-sample distances "
              "||x_i - ref_i|| to the reference solution (" +
              reference->name() +
              ", same x_T). Order: minus the least-squares slope of log ref_median against log NFE over each "
              "deterministic entry's rows (error ~ NFE^-order).\n\n"
       << (orders.empty() ? std::string("(no deterministic entry with several step counts)\n") : order_table(orders));
  }
  atomic_write_text(out_dir + "/compare.md", header + md.str());
  atomic_write_text(out_dir + "/compare.csv", csv.str());
  {
    // One row per sampler setting (typed columns, no step column) and each row's samples.
    TableFile h5(out_dir + "/compare.h5", {{"source", source}, {"compare_config", cmp.resolved_yaml()},
                                           {"quality", quality}, {"table", md.str()}});
    std::vector<std::string> sampler, label;
    std::vector<double> nfe, seconds;
    for (const auto& r : rows) {
      sampler.push_back(r.sampler);
      label.push_back(r.settings);
      nfe.push_back(static_cast<double>(r.nfe));
      seconds.push_back(r.seconds);
    }
    std::vector<TableColumn> cols{TableColumn::of("sampler", sampler), TableColumn::of("settings", label),
                                  TableColumn::of("nfe", nfe), TableColumn::of("seconds", seconds)};
    cols.push_back(TableColumn::of("nfe_group", group));
    for (size_t k = 0; k < rows[0].metrics.size(); ++k) {
      std::vector<double> v, e;
      for (const auto& r : rows) v.push_back(r.metrics[k].second), e.push_back(r.se[k]);
      cols.push_back(TableColumn::of(rows[0].metrics[k].first, v));
      cols.push_back(TableColumn::of(rows[0].metrics[k].first + "_se", e));
    }
    h5.table("compare", cols);
    if (!orders.empty()) {
      std::vector<std::string> os, ol;
      std::vector<double> lo, hi, order;
      for (const auto& l : orders) {
        os.push_back(l.sampler), ol.push_back(l.settings), order.push_back(l.order);
        lo.push_back(l.nfe.front()), hi.push_back(l.nfe.back());
      }
      h5.table("order", {TableColumn::of("sampler", os), TableColumn::of("settings", ol), TableColumn::of("nfe_min", lo),
                         TableColumn::of("nfe_max", hi), TableColumn::of("order", order)});
    }
    for (size_t i = 0; i < rows.size(); ++i)
      h5.array("compare/samples/" + std::to_string(i), samples[i],
               {{"sampler", rows[i].sampler}, {"settings", rows[i].settings}}, {{"nfe", static_cast<double>(rows[i].nfe)}});
    if (reference) h5.array("compare/reference", ref_x[0], {{"sampler", reference->name()}}, {});
    h5.commit();
  }
  plot_error_vs_nfe(out_dir + "/error_vs_nfe.png", orders, "distance to the reference ODE solution: " + path);
  plot_compare(out_dir, ex0.data->is_image(), ref.slice(0, 0, std::min<int64_t>(ref.size(0), n)), samples, settings,
               rows, quality, ev.baselines(), path);
  std::cout << header << md.str() << "\nwritten to " << out_dir << "/\n";
  return rows;
}

int command_compare(const std::string& path, const std::vector<std::string>& overrides, bool check_only) {
  run_compare(path, overrides, builtin_registries(), check_only);
  return 0;
}

}  // namespace scorelab
