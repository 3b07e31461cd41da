// The list splitter alone: a List body from a file (e.g. `kubectl get taskruns -o json`) fed in
// pieces of --piece bytes, as a streamed page arrives. Prints one JSON line: items, bytes, time.
//   valgrind --tool=callgrind build-release/bench/list_split list.json --piece 65536
#include "kube/list_splitter.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: list_split LIST.json [--piece BYTES]\n");
    return 2;
  }
  std::size_t piece = 65536;
  if (argc >= 4 && std::string(argv[2]) == "--piece") piece = std::stoul(argv[3]);
  std::ifstream in(argv[1], std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t item_bytes = 0, oversize = 0;
  chainsd::kube::list_splitter s(
      32u << 20, [&](const chainsd::kube::object_meta&, std::string_view raw) { item_bytes += raw.size(); },
      [&](const chainsd::kube::object_meta&, std::size_t) { ++oversize; });
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < body.size(); i += piece) s.feed(std::string_view(body).substr(i, piece));
  const auto meta = s.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"bytes\": %zu, \"items\": %zu, \"item_bytes\": %zu, \"oversize\": %zu, \"seconds\": %.4f}\n",
              body.size(), meta.items, item_bytes, oversize, seconds);
  return 0;
}
