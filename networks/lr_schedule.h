// Learning-rate schedules as a function of the update's number k = 1, 2, ... (the optimizer's
// step count, so a resumed run continues the same schedule):
//   constant       lr
//   linear_warmup  lr min(1, k / warmup)                      (DDPM's CIFAR-10 recipe: 5000, as in its
//                                                             released code)
//   cosine         the warm-up, then min_lr + (lr - min_lr) (1 + cos(pi u)) / 2,
//                  u = (k - warmup) / (steps - warmup) in [0, 1]   (Loshchilov & Hutter 2017)
//   inverse_sqrt   the warm-up, then lr / sqrt(max(k / decay_steps, 1))   (EDM2, Karras et al.
//                  2024, their learning-rate decay: flat until decay_steps, then ~ 1/sqrt(k))
#pragma once
#include <cstdint>
#include <string>

namespace scorelab {

struct LrSchedule {
  std::string type = "constant";  // constant | linear_warmup | cosine | inverse_sqrt
  double lr = 1e-3, min_lr = 0;
  int64_t warmup = 0;             // steps of linear warm-up (all schedules but constant)
  int64_t steps = 1;              // the run's length (cosine)
  int64_t decay_steps = 70000;    // inverse_sqrt: where the decay starts

  double at(int64_t k) const;
};

}  // namespace scorelab
