// Parses and converts a generated 2,000-instruction, 50-stage Dockerfile (the frontend issue's
// budget: under 10 ms). Run: build/bench/bench/frontend_bench
#include <string>

#include <benchmark/benchmark.h>

#include "frontend/dockerfile/convert/convert.h"
#include "frontend/dockerfile/parser/parser.h"

namespace {

using berth::frontend::dockerfile::convert::Convert;
using berth::frontend::dockerfile::convert::Options;

// 50 stages of 40 instructions each (2,000 in all), every stage built on the previous one and
// copying from an earlier one, with ARG/ENV expansion, mounts, heredocs and metadata.
std::string GenerateDockerfile() {
  std::string df = "# syntax=docker/dockerfile:1\nARG BASE=busybox:1.36\nARG VERSION=1.0\n";
  constexpr int kStages = 50;
  constexpr int kPerStage = 40;
  for (int s = 0; s < kStages; ++s) {
    std::string name = "stage" + std::to_string(s);
    df += s == 0 ? "FROM ${BASE} AS " + name + "\n"
                 : "FROM stage" + std::to_string(s - 1) + " AS " + name + "\n";
    df += "ARG VERSION\n";
    for (int i = 2; i < kPerStage; ++i) {
      switch (i % 8) {
        case 0:
          df += "ENV S" + std::to_string(i) + "=${VERSION}-" + std::to_string(s) + "\n";
          break;
        case 1:
          df += "RUN --mount=type=cache,target=/cache/" + std::to_string(i) + " echo \"$S" +
                std::to_string(i - 1) + "\" > /tmp/f" + std::to_string(i) + "\n";
          break;
        case 2:
          df += "COPY src/file" + std::to_string(i) + ".txt /app/\n";
          break;
        case 3:
          df += "WORKDIR /app/dir" + std::to_string(i) + "\n";
          break;
        case 4:
          df += s > 0 ? "COPY --from=stage" + std::to_string(s / 2) + " /app/ /from" +
                            std::to_string(i) + "/\n"
                      : "LABEL l" + std::to_string(i) + "=v\n";
          break;
        case 5:
          df += "RUN <<EOF\necho line one\necho line two $S" + std::to_string(i) + "\nEOF\n";
          break;
        case 6:
          df += "LABEL org.example.k" + std::to_string(i) + "=\"value ${VERSION}\"\n";
          break;
        default:
          df += "USER root\n";
          break;
      }
    }
    df += "CMD [\"sh\", \"-c\", \"echo " + name + "\"]\n";
  }
  return df;
}

void BM_ParseOnly(benchmark::State& state) {
  std::string df = GenerateDockerfile();
  for (auto _ : state) {
    auto ast = berth::frontend::dockerfile::parser::Parse(df);
    benchmark::DoNotOptimize(ast);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * df.size()));
}
BENCHMARK(BM_ParseOnly)->Unit(benchmark::kMillisecond);

void BM_ParseAndConvert(benchmark::State& state) {
  std::string df = GenerateDockerfile();
  Options options;
  options.build_platform = berth::graph::Platform{"linux", "amd64", ""};
  size_t vertices = 0;
  for (auto _ : state) {
    auto result = Convert(df, options);
    if (!result.ok()) {
      state.SkipWithError(result.error().ToString().c_str());
      return;
    }
    vertices = result->graph.vertices().size();
    benchmark::DoNotOptimize(result);
  }
  state.counters["vertices"] = static_cast<double>(vertices);
  state.counters["instructions"] = 2000;
}
BENCHMARK(BM_ParseAndConvert)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
