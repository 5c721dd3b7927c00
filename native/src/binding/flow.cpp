// The flow family's exports: energyFlowStep, energyFlowRunAsync, energyFlowMaxStep, laplacian,
// gridSums (design eqs. 10–11; core in flow.cpp). The params object and the grid size are read
// and checked first (nx·ny in checked arithmetic), then the data pointers (args.hpp).
#include "flow.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "args.hpp"
#include "async_worker.hpp"
#include "families.hpp"

namespace cimm_binding {

namespace {

// The largest grid: 2^32 cells (as the js reference and the wasm backend allow).
constexpr double kMaxCells = 4294967296.0;

// nx and ny, each an integer in [1, 2^32], and nx·ny <= 2^32 (checked, never wrapped).
struct Grid {
  std::size_t nx, ny, cells;
};

Grid grid_size(Napi::Env env, Napi::Value nx_value, Napi::Value ny_value) {
  const std::string what = "an integer >= 1 and <= 4294967296";
  Grid g{};
  g.nx = integer_in(env, nx_value, "nx", 1, kMaxCells, what);
  g.ny = integer_in(env, ny_value, "ny", 1, kMaxCells, what);
  g.cells = checked_product(env, g.nx, g.ny, static_cast<std::size_t>(kMaxCells),
                            "an integer with nx\xC2\xB7ny <= 4294967296", "ny", ny_value);
  return g;
}

// A Float64Array of exactly `cells` values.
const double* grid(Napi::Env env, Napi::Value value, const char* param, std::size_t cells) {
  const auto a = float64_array(env, value, param);
  if (a.length != cells) fail(env, "a Float64Array of length " + std::to_string(cells), param, value);
  return a.data;
}

// An output grid of `cells` values that shares no memory with the inputs (the stencil reads
// neighbours while it writes).
double* output_grid(Napi::Env env, Napi::Value value, std::size_t cells,
                    std::initializer_list<std::pair<const char*, const double*>> inputs) {
  const auto out = float64_array(env, value, "out");
  if (out.length != cells) fail(env, "a Float64Array of length " + std::to_string(cells), "out", value);
  for (const auto& [name, data] : inputs) {
    if (overlap(out, View<const double>{data, cells})) {
      fail(env, std::string("a Float64Array that does not overlap ") + name, "out", value);
    }
  }
  return out.data;
}

// A finite field of the params object; kPositive and kNonNegative add "> 0" and ">= 0".
enum class Sign { kAny, kPositive, kNonNegative };
double field(Napi::Env env, const Scalars& p, const char* name, Sign sign = Sign::kAny) {
  const double v = p.number(name);
  if (sign == Sign::kPositive && !(std::isfinite(v) && v > 0)) {
    fail(env, "a finite number > 0", p.name(name), p.value(name));
  }
  if (sign == Sign::kNonNegative && !(std::isfinite(v) && v >= 0)) {
    fail(env, "a finite number >= 0", p.name(name), p.value(name));
  }
  if (!std::isfinite(v)) fail(env, "a finite number", p.name(name), p.value(name));
  return v;
}

// The boundary field: its index in BOUNDARY_OPTIONS's list, ['periodic', 'zeroFlux'].
constexpr cimm::Boundary kBoundaries[] = {cimm::Boundary::kPeriodic, cimm::Boundary::kZeroFlux};

// How many names the layout's `boundary` field has (0 when it has none).
constexpr std::size_t boundary_names(const boundary::Layout& layout) {
  for (std::size_t j = 0; j < layout.count; ++j) {
    if (std::string_view(layout.fields[j].name) == "boundary") return layout.fields[j].choices;
  }
  return 0;
}
static_assert(boundary_names(boundary::kEnergyFlowStep) == std::size(kBoundaries) &&
                  boundary_names(boundary::kEnergyFlowRunAsync) == std::size(kBoundaries) &&
                  boundary_names(boundary::kEnergyFlowMaxStep) == std::size(kBoundaries) &&
                  boundary_names(boundary::kLaplacian) == std::size(kBoundaries),
              "BOUNDARY_OPTIONS's boundary names changed: update kBoundaries");

cimm::Boundary boundary_of(const Scalars& p) { return kBoundaries[p.choice("boundary")]; }

// energyFlowStep(energy, potential, source, nx, ny, params {h, dt, beta, gamma, kappa, boundary}, out): void
Napi::Value EnergyFlowStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kEnergyFlowStep);
    const Grid g = grid_size(env, p.arg(3), p.arg(4));
    cimm::FlowParams params{};
    params.h = field(env, p, "h", Sign::kPositive);
    params.dt = field(env, p, "dt", Sign::kNonNegative);
    params.beta = field(env, p, "beta", Sign::kNonNegative);
    params.gamma = field(env, p, "gamma");
    params.kappa = field(env, p, "kappa");
    params.boundary = boundary_of(p);
    const double* energy = grid(env, p.arg(0), "energy", g.cells);
    const double* potential = grid(env, p.arg(1), "potential", g.cells);
    const double* source = grid(env, p.arg(2), "source", g.cells);
    double* out =
        output_grid(env, p.arg(6), g.cells, {{"energy", energy}, {"potential", potential}, {"source", source}});
    cimm::energy_flow_step(energy, potential, source, g.nx, g.ny, params, out);
    return env.Undefined();
  });
}

// energyFlowMaxStep(potential, nx, ny, params {h, beta, gamma, boundary}): number
Napi::Value EnergyFlowMaxStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kEnergyFlowMaxStep);
    const Grid g = grid_size(env, p.arg(1), p.arg(2));
    const double h = field(env, p, "h", Sign::kPositive);
    const double beta = field(env, p, "beta", Sign::kNonNegative);
    const double gamma = field(env, p, "gamma");
    const cimm::Boundary boundary = boundary_of(p);
    const double* potential = grid(env, p.arg(0), "potential", g.cells);
    return Napi::Number::New(env, cimm::energy_flow_max_step(potential, g.nx, g.ny, h, beta, gamma, boundary));
  });
}

// laplacian(energy, nx, ny, params: LaplacianParams {h, boundary}, out): void
Napi::Value Laplacian(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kLaplacian);
    const Grid g = grid_size(env, p.arg(1), p.arg(2));
    const double h = field(env, p, "h", Sign::kPositive);
    const cimm::Boundary boundary = boundary_of(p);
    const double* energy = grid(env, p.arg(0), "energy", g.cells);
    double* out = output_grid(env, p.arg(4), g.cells, {{"energy", energy}});
    cimm::laplacian(energy, g.nx, g.ny, h, boundary, out);
    return env.Undefined();
  });
}

// gridSums(x: Float64Array, out: Float64Array(3)): void
Napi::Value GridSums(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto x = float64_array(env, info[0], "x");
    const auto out = float64_array(env, info[1], "out");
    if (out.length != 3) fail(env, "a Float64Array of length 3", "out", info[1]);
    double sums[3];
    cimm::grid_sums(x.data, x.length, sums);
    std::copy(sums, sums + 3, out.data);
    return env.Undefined();
  });
}

// energyFlowRunAsync(energy, potential, source: Float64Array, nx, ny: number,
//                    params {h, dt, beta, gamma, boundary}, kappas: Float64Array, flag: AbortFlag):
//   Promise<{energy, previous}>
Napi::Value EnergyFlowRunAsync(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kEnergyFlowRunAsync);
    const Grid g = grid_size(env, p.arg(3), p.arg(4));
    const std::size_t cells = g.cells;
    cimm::FlowParams params{};
    params.h = field(env, p, "h", Sign::kPositive);
    params.dt = field(env, p, "dt", Sign::kNonNegative);
    params.beta = field(env, p, "beta", Sign::kNonNegative);
    params.gamma = field(env, p, "gamma");
    params.kappa = 0;
    params.boundary = boundary_of(p);
    const auto flag = abort_flag(env, p.arg(7));
    const double* energy = grid(env, p.arg(0), "energy", cells);
    const double* potential = grid(env, p.arg(1), "potential", cells);
    const double* source = grid(env, p.arg(2), "source", cells);
    const auto kappas = float64_array(env, p.arg(6), "kappas");
    for (std::size_t i = 0; i < kappas.length; ++i) {
      if (!std::isfinite(kappas.data[i])) fail(env, "a Float64Array of finite numbers", "kappas", p.arg(6));
    }
    // Copies first: the two result grids (JS allocations) are created after the last use of
    // the arguments' pointers.
    struct Inputs {
      std::vector<double> energy, potential, source, kappas;
      double* grids[2];
      bool final_in_first = true;
    };
    auto in = std::make_shared<Inputs>();
    in->energy.assign(energy, energy + cells);
    in->potential.assign(potential, potential + cells);
    in->source.assign(source, source + cells);
    in->kappas.assign(kappas.data, kappas.data + kappas.length);
    // Two grids the worker owns: the first starts as the copy of energy, the second as its
    // copy too (what `previous` is after zero steps).
    const std::string fits = "an integer with nx\xC2\xB7ny cells that fit in memory";
    Napi::Float64Array first = new_result<Napi::Float64Array, double>(env, cells, fits, "ny", p.arg(4));
    Napi::Float64Array second = new_result<Napi::Float64Array, double>(env, cells, fits, "ny", p.arg(4));
    std::copy(in->energy.begin(), in->energy.end(), first.Data());
    std::copy(in->energy.begin(), in->energy.end(), second.Data());
    in->energy = std::vector<double>();
    in->grids[0] = first.Data();
    in->grids[1] = second.Data();
    auto first_ref = owned_result(first);
    auto second_ref = owned_result(second);
    auto* worker = new KernelWorker(
        env, "energyFlowRunAsync", flag,
        [=]() {
          double* current = in->grids[0];
          double* previous = in->grids[1];
          const bool done = cimm::energy_flow_run(current, previous, in->potential.data(), in->source.data(), g.nx,
                                                  g.ny, params, in->kappas.data(), in->kappas.size(), *flag);
          in->final_in_first = current == in->grids[0];
          return done;
        },
        [=](Napi::Env result_env) -> Napi::Value {
          Napi::Object result = Napi::Object::New(result_env);
          result.Set("energy", in->final_in_first ? first_ref->Value() : second_ref->Value());
          result.Set("previous", in->final_in_first ? second_ref->Value() : first_ref->Value());
          return result;
        });
    return KernelWorker::Start(worker);
  });
}

}  // namespace

void register_flow(Napi::Env env, Napi::Object exports) {
  define(env, exports, "energyFlowStep", EnergyFlowStep);
  define(env, exports, "energyFlowRunAsync", EnergyFlowRunAsync);
  define(env, exports, "energyFlowMaxStep", EnergyFlowMaxStep);
  define(env, exports, "laplacian", Laplacian);
  define(env, exports, "gridSums", GridSums);
}

}  // namespace cimm_binding
