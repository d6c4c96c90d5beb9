// Precompiled header: the heavy, stable third-party headers every translation unit uses.
#pragma once
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>
#include <map>
#include <memory>
#include <string>
#include <vector>
