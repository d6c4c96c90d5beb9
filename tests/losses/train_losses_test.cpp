// Training a small model with each loss on 2-D toy data reduces the sliced W2 distance of its
// samples clearly below the prior's: one fixed-seed run per loss, seconds each.
#include <catch2/catch.hpp>

#include "experiments/trainer.h"
#include "../test_util.h"

using namespace scorelab;

namespace {
TrainSummary train_with(const std::string& tag, const std::string& sde, const std::string& model_extra,
                        const std::string& loss, int steps = 1500, double lr = 3e-3, int batch = 256) {
  std::string dir = test::scratch_dir("loss_" + tag);
  std::string yaml = "run: {name: r, out_dir: '" + dir + "', seed: 1, threads: 1, device: cpu}\n"
                     "data: {type: eight_gaussians}\n"
                     "sde: " + sde + "\n"
                     "model: {type: mlp, hidden: 64, depth: 3, embed_dim: 16" + model_extra + "}\n"
                     "loss: " + loss + "\n"
                     "train: {steps: " + std::to_string(steps) + ", batch_size: " + std::to_string(batch) + ", lr: " + std::to_string(lr) + ", log_every: 100, ckpt_every: 10000}\n"
                     "sample: {type: euler_maruyama, steps: 200, n: 1000}\n"
                     "eval: {n: 1000, projections: 128}\n";
  Config cfg = Config::from_string(yaml, tag + ".yaml");
  Experiment ex = build_experiment(cfg, "r");
  return train(ex);
}

void check_learns(const TrainSummary& s) {
  INFO("sliced W2: samples " << s.sliced_w2 << ", prior " << s.sliced_w2_prior << ", floor " << s.sliced_w2_floor);
  CHECK(s.sliced_w2 < s.sliced_w2_prior / 3);
}
}  // namespace

TEST_CASE("training with DSM (likelihood weighting, importance sampling) learns", "[losses][train]") {
  check_learns(train_with("dsm_lik", "{type: vp}", "", "{type: dsm, weighting: likelihood, t_sampling: importance}"));
}
TEST_CASE("training an EDM-preconditioned network with the EDM weighting learns, on VE and VP", "[losses][train]") {
  check_learns(train_with("edm_ve", "{type: ve, sigma_max: 10.0}", ", parameterization: edm, sigma_data: 1.0",
                          "{type: dsm, weighting: edm, edm_sigma_data: 1.0, t_sampling: importance}"));
  check_learns(train_with("edm_vp", "{type: vp}", ", parameterization: edm, sigma_data: 1.0", "{type: dsm, weighting: edm, edm_sigma_data: 1.0, t_sampling: importance}"));
}
TEST_CASE("training with min-SNR-gamma weighting learns", "[losses][train]") {
  check_learns(train_with("dsm_min_snr", "{type: vp}", "", "{type: dsm, weighting: min_snr, min_snr_gamma: 5}"));
}
TEST_CASE("training with the ELBO-weighted objective learns", "[losses][train]") {
  check_learns(train_with("dsm_elbo", "{type: vp}", "", "{type: dsm, weighting: elbo, t_sampling: log_snr}"));
}
TEST_CASE("training with DDPM L_simple (eps) learns", "[losses][train]") {
  check_learns(train_with("ddpm_eps", "{type: ddpm}", "", "{type: ddpm, objective: simple}"));
}
TEST_CASE("training with the DDPM VLB learns", "[losses][train]") {
  check_learns(train_with("ddpm_vlb", "{type: ddpm}", "", "{type: ddpm, objective: vlb, decoder: gaussian}"));
}
// DDPM Table 2: mu~ prediction trains with the true bound, not with the unweighted L_simple.
TEST_CASE("training a mu-parameterized model with the DDPM VLB learns", "[losses][train]") {
  check_learns(train_with("ddpm_mu", "{type: ddpm}", ", parameterization: mu",
                          "{type: ddpm, objective: vlb, decoder: gaussian, variance: beta_tilde}", 1500, 1e-3, 1024));
}
TEST_CASE("training with DDPM L_simple (x0) learns", "[losses][train]") {
  check_learns(train_with("ddpm_x0", "{type: ddpm}", ", parameterization: x0", "{type: ddpm, objective: simple}"));
}
TEST_CASE("training with the DDPM hybrid objective learns", "[losses][train]") {
  check_learns(train_with("ddpm_hybrid", "{type: ddpm}", "", "{type: ddpm, objective: hybrid, decoder: gaussian}"));
}
TEST_CASE("training with NCSN multi-scale DSM on VE learns", "[losses][train]") {
  check_learns(train_with("ncsn", "{type: ve, sigma_min: 0.01, sigma_max: 6}", "", "{type: ncsn, levels: 20}"));
}
TEST_CASE("training with noise-conditional sliced score matching learns", "[losses][train]") {
  check_learns(train_with("ssm", "{type: vp}", "", "{type: ssm, projections: 1, variance_reduced: true}"));
}
TEST_CASE("training with noise-conditional implicit score matching learns", "[losses][train]") {
  check_learns(train_with("ism", "{type: vp}", "", "{type: ism}"));
}
TEST_CASE("training an energy parameterization with DSM learns", "[losses][train]") {
  check_learns(train_with("energy", "{type: vp}", ", parameterization: energy", "{type: dsm}", 3000, 1e-3));
}
TEST_CASE("training a v-parameterized model on sub-VP learns", "[losses][train]") {
  check_learns(train_with("subvp_v", "{type: subvp}", ", parameterization: v", "{type: dsm}"));
}
