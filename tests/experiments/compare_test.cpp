#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/fsutil.h"
#include "core/h5log.h"
#include "experiments/compare.h"
#include "experiments/data/gmm_dataset.h"
#include "experiments/evaluation/evaluation.h"
#include "networks/oracle.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;

TEST_CASE("compare on the oracle: identical settings give identical samples, NFE as spent", "[experiments][compare]") {
  std::string dir = test::scratch_dir("compare");
  std::ofstream(dir + "/oracle.yaml") << "run: {seed: 0, threads: 1, device: cpu}\n"
                                         "data: {type: gmm, means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3}\n"
                                         "sde: {type: vp}\n"
                                         "model: {type: gmm_oracle, means: [[2.0, 0.0], [-2.0, 0.0]], std: 0.3}\n"
                                         "train: {steps: 0}\nsample: {type: ode, method: rk45}\n";
  std::ofstream(dir + "/cmp.yaml") << "source: oracle.yaml\nn: 300\nseed: 4\nreference_n: 500\nout_dir: '" + dir +
                                          "/out'\nsamplers:\n"
                                          "  - {type: euler_maruyama, steps: [5, 20]}\n"
                                          "  - {type: euler_maruyama, steps: 20}\n"
                                          "  - {type: ode, method: heun, steps: 7}\n"
                                          "  - {type: pc, steps: 4, corrector_steps: 2}\n";
  auto rows = run_compare(dir + "/cmp.yaml", {});
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].nfe == 5);
  CHECK(rows[1].nfe == 20);
  CHECK(rows[2].nfe == 20);
  CHECK(rows[3].nfe == 14);  // Heun: two per step
  CHECK(rows[4].nfe == 12);  // predictor + 2 corrector steps, 4 times
  // Rows 1 and 2 are the same sampler and settings: the same x_T and noise, the same samples.
  std::string h5 = dir + "/out/compare.h5";
  CHECK(at::equal(RunLog::read_array(h5, "compare/samples/1"), RunLog::read_array(h5, "compare/samples/2")));
  CHECK_FALSE(at::equal(RunLog::read_array(h5, "compare/samples/0"), RunLog::read_array(h5, "compare/samples/1")));
  CHECK(rows[1].metrics == rows[2].metrics);
  CHECK(RunLog::read_column(h5, "compare/nfe") == std::vector<double>{5, 20, 20, 14, 12});
  for (const char* f : {"compare.md", "compare.csv", "samples.png", "quality_vs_nfe.png"}) CHECK(fs::exists(dir + "/out/" + f));
  // Fewer steps are worse: 5 Euler–Maruyama steps are far from the target.
  CHECK(rows[0].metrics[0].second > rows[1].metrics[0].second);
  // The default 3 repeats: x_T and noise of seeds 4, 5, 6 against one reference set. Each value
  // is the mean of its repeats, its standard error their sample sd / sqrt(3); repeat 0 is the
  // run with repeats=1.
  const auto single = run_compare(dir + "/cmp.yaml", {"repeats=1", "out_dir=" + dir + "/single"});
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].metrics.size(); ++j) {
      INFO("row " << i << " " << rows[i].metrics[j].first);
      const auto& v = rows[i].per_repeat[j];
      REQUIRE(v.size() == 3);
      const double m = (v[0] + v[1] + v[2]) / 3;
      double ss = 0;
      for (double x : v) ss += (x - m) * (x - m);
      CHECK(rows[i].metrics[j].second == Approx(m).epsilon(1e-12).margin(1e-15));
      CHECK(rows[i].se[j] == Approx(std::sqrt(ss / 2 / 3)).epsilon(1e-9).margin(1e-15));
      CHECK(v[0] == single[i].metrics[j].second);
      CHECK(std::isnan(single[i].se[j]));  // one repeat: no standard error
    }
  CHECK(rows[0].per_repeat[0][0] != rows[0].per_repeat[0][1]);  // other x_T, other samples
  CHECK(RunLog::read_column(h5, "compare/sliced_w2_se").size() == 5);
  // NFE-matched rows of different entries share a group letter: 20 (rows 1, 2), 14 and 12 alone.
  CHECK(RunLog::read_strings(h5, "compare/nfe_group") == std::vector<std::string>{"", "A", "A", "", ""});
  const std::string md = read_text(dir + "/out/compare.md");
  CHECK_THAT(md, Catch::Contains(" ± ") && Catch::Contains("**") && Catch::Contains("mean ± standard error over 3 repeats"));
}

TEST_CASE("a bad sampler entry in a comparison names its line before anything runs", "[experiments][compare]") {
  std::string dir = test::scratch_dir("compare_bad");
  std::ofstream(dir + "/oracle.yaml") << "data: {type: gmm, means: [[0.0, 0.0]]}\nmodel: {type: gmm_oracle, means: [[0.0, 0.0]]}\n"
                                         "train: {steps: 0}\n";
  std::ofstream(dir + "/cmp.yaml") << "source: oracle.yaml\nout_dir: '" + dir + "/out'\nsamplers:\n"
                                          "  - {type: ode, method: euler, steps: 3}\n"
                                          "  - {type: ddim, steps: 3}\n";
  CHECK_THROWS_WITH(run_compare(dir + "/cmp.yaml", {}),
                    Catch::Contains("cmp.yaml:5: samplers.1") && Catch::Contains("discrete DDPM chain"));
  CHECK_FALSE(fs::exists(dir + "/out"));
}

TEST_CASE("compare builds the model and the data set once for all its rows", "[experiments][compare]") {
  // Registries with counting model and data types; every row of the comparison shares them.
  int models = 0, datasets = 0;
  Registries reg;
  register_builtin(reg);
  reg.model.add(
      "counted_oracle",
      [&](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
        ++models;
        return std::make_shared<OracleScoreModel>(GaussianMixture::from(c), ctx.sde);
      },
      [](const Config& c, ModelContext) { GaussianMixture::from(c); });  // validation builds nothing
  reg.data.add("counted_gmm", [&](const Config& c, uint64_t) -> std::shared_ptr<Dataset> {
    ++datasets;
    return std::make_shared<GMMDataset>(GaussianMixture::from(c));
  });
  reg.data_info.add("counted_gmm", [](const Config& c) {
    return std::make_shared<DataInfo>(DataInfo{{GaussianMixture::from(c).dim()}, false, true});
  });
  std::string dir = test::scratch_dir("compare_once");
  std::ofstream(dir + "/oracle.yaml") << "run: {threads: 1, device: cpu}\n"
                                         "data: {type: counted_gmm, means: [[1.0, 0.0], [-1.0, 0.0]], std: 0.3}\n"
                                         "model: {type: counted_oracle, means: [[1.0, 0.0], [-1.0, 0.0]], std: 0.3}\n"
                                         "train: {steps: 0}\n";
  std::ofstream(dir + "/cmp.yaml") << "source: oracle.yaml\nn: 50\nreference_n: 100\nout_dir: '" + dir +
                                          "/out'\nquality: energy_distance\nsamplers:\n"
                                          "  - {type: euler_maruyama, steps: [4, 8, 16]}\n"
                                          "  - {type: ode, method: euler, steps: 5}\n";
  auto rows = run_compare(dir + "/cmp.yaml", {}, reg);
  CHECK(rows.size() == 4);
  CHECK(models == 1);
  CHECK(datasets == 1);
}

TEST_CASE("compare's quality axis must be a metric of the data", "[experiments][compare]") {
  std::string dir = test::scratch_dir("compare_quality");
  std::ofstream(dir + "/oracle.yaml") << "data: {type: gmm, means: [[0.0, 0.0]]}\nmodel: {type: gmm_oracle, means: [[0.0, 0.0]]}\n"
                                         "train: {steps: 0}\n";
  std::ofstream(dir + "/cmp.yaml") << "source: oracle.yaml\nout_dir: '" + dir + "/out'\nquality: fd\nsamplers:\n"
                                          "  - {type: ode, method: euler, steps: 3}\n";
  CHECK_THROWS_WITH(run_compare(dir + "/cmp.yaml", {}), Catch::Contains("cmp.yaml:3: quality") && Catch::Contains("'fd'"));
  CHECK_FALSE(fs::exists(dir + "/out"));
}

TEST_CASE("the best quality of an NFE-matched group is in bold, in the metric's own direction",
          "[experiments][compare]") {
  std::string dir = test::scratch_dir("compare_better");
  std::ofstream(dir + "/oracle.yaml") << "run: {seed: 0, threads: 1, device: cpu}\n"
                                         "data: {type: gmm, means: [[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]], std: 0.3}\n"
                                         "sde: {type: vp}\n"
                                         "model: {type: gmm_oracle, means: [[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]], std: 0.3}\n"
                                         "train: {steps: 0}\n";
  std::ofstream(dir + "/cmp.yaml") << "source: oracle.yaml\nn: 300\nseed: 1\nrepeats: 1\nreference_n: 300\nsamplers:\n"
                                      "  - {type: euler_maruyama, steps: 3}\n"
                                      "  - {type: ode, method: euler, steps: 3}\n"
                                      "  - {type: ode, method: euler, steps: 40}\n";
  // The markdown cells of the `quality` column for the two NFE-matched rows (NFE 3).
  auto quality_cells = [&](const std::string& quality) {
    run_compare(dir + "/cmp.yaml", {"quality=" + quality, "out_dir=" + dir + "/" + quality});
    std::istringstream md(read_text(dir + "/" + quality + "/compare.md"));
    std::vector<std::string> header, cells;
    for (std::string line; std::getline(md, line);) {
      if (line.rfind("| ", 0) != 0) continue;
      std::vector<std::string> row;
      std::istringstream ls(line.substr(1));
      for (std::string c; std::getline(ls, c, '|');) row.push_back(c.substr(1, c.size() - 2));
      if (header.empty()) {
        header = row;
        continue;
      }
      const size_t q = static_cast<size_t>(std::find(header.begin(), header.end(), quality) - header.begin());
      if (row.size() > q && row[3] == "A") cells.push_back(row[q]);
    }
    REQUIRE(cells.size() == 2);
    return cells;
  };
  auto value = [](std::string c) { return std::stod(c[0] == '*' ? c.substr(2) : c); };
  for (const std::string q : {"mass_tv", "coverage", "nll_target"}) {
    INFO(q);
    const auto cells = quality_cells(q);
    const bool bold0 = cells[0][0] == '*', bold1 = cells[1][0] == '*';
    if (q == "nll_target") {  // a value to match, not to minimise: no row is "best"
      CHECK_FALSE(bold0);
      CHECK_FALSE(bold1);
      CHECK_THAT(read_text(dir + "/" + q + "/compare.md"), Catch::Contains("none in bold"));
      continue;
    }
    REQUIRE(bold0 != bold1);
    const double best = value(cells[bold0 ? 0 : 1]), other = value(cells[bold0 ? 1 : 0]);
    if (q == "coverage") CHECK(best >= other);
    else CHECK(best <= other);
  }
}

TEST_CASE("compare measures each ODE solver's order of convergence against an accurate reference", "[experiments][compare]") {
  // On the exact score of a 3-component mixture, in float64, from the same x_T: the median
  // per-sample distance to RK45 at tolerance 1e-10 falls as NFE^-p with p the solver's order
  // (Euler 1, Heun 2, RK4 4, DPM-Solver++(2M) 2, UniPC-bh2 with order 2 and the corrector 3),
  // within 0.2 over step ranges in the asymptotic regime (docs/samplers.md).
  std::string dir = test::scratch_dir("compare_order");
  std::ofstream(dir + "/oracle.yaml")
      << "run: {seed: 0, threads: 1, device: cpu, dtype: float64}\n"
         "data: {type: gmm, means: [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], stds: [0.3, 0.3, 0.3], weights: [0.5, 0.25, 0.25]}\n"
         "sde: {type: vp}\n"
         "model: {type: gmm_oracle, means: [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], stds: [0.3, 0.3, 0.3], weights: [0.5, 0.25, 0.25]}\n"
         "train: {steps: 0}\n";
  std::ofstream(dir + "/cmp.yaml") << "source: oracle.yaml\nn: 200\nseed: 0\nrepeats: 1\nreference_n: 200\nout_dir: '" + dir +
                                          "/out'\nreference: {type: ode, method: rk45, rtol: 1.0e-10, atol: 1.0e-10}\nsamplers:\n"
                                          "  - {type: ode, method: euler, grid: log_snr, steps: [200, 400, 800]}\n"
                                          "  - {type: ode, method: heun, grid: log_snr, steps: [50, 100, 200]}\n"
                                          "  - {type: ode, method: rk4, grid: log_snr, steps: [25, 50, 100]}\n"
                                          "  - {type: dpmpp_2m, steps: [50, 100, 200]}\n"
                                          "  - {type: unipc, variant: bh2, lower_order_final: false, steps: [25, 50, 100, 200]}\n"
                                          "  - {type: euler_maruyama, steps: [50, 100]}\n";
  auto rows = run_compare(dir + "/cmp.yaml", {});
  REQUIRE(rows.size() == 18);
  std::string h5 = dir + "/out/compare.h5";
  const auto sampler = RunLog::read_strings(h5, "order/sampler");
  const auto order = RunLog::read_column(h5, "order/order");
  REQUIRE(sampler.size() == 5);  // Euler–Maruyama draws noise: no order
  const std::vector<std::pair<std::string, double>> expected{
      {"ode", 1}, {"ode", 2}, {"ode", 4}, {"dpm_solver_2m", 2}, {"unipc", 3}};
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(expected[i].first << ": measured order " << order[i] << ", expected " << expected[i].second);
    CHECK(sampler[i] == expected[i].first);
    CHECK(std::abs(order[i] - expected[i].second) < 0.2);
  }
  // The alias is recorded with its canonical name; every row has the reference distance.
  CHECK(rows[9].sampler == "dpm_solver_2m");
  CHECK(rows[9].settings.find("alias dpmpp_2m") != std::string::npos);
  for (const auto& r : rows) {
    CHECK(std::isfinite(metric_value(r.metrics, "ref_median")));
    CHECK(metric_value(r.metrics, "ref_median") > 0);
  }
  CHECK(fs::exists(dir + "/out/error_vs_nfe.png"));
  CHECK(RunLog::read_array(h5, "compare/reference").size(0) == 200);
  // A stochastic reference is refused, naming the key.
  std::ofstream(dir + "/bad.yaml") << "source: oracle.yaml\nn: 10\nreference: {type: euler_maruyama}\nsamplers:\n"
                                      "  - {type: ode, method: euler, steps: 5}\n";
  CHECK_THROWS_WITH(run_compare(dir + "/bad.yaml", {}), Catch::Contains("reference") && Catch::Contains("deterministic"));
}
