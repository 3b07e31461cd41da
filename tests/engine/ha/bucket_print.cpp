// For buckets_knative_test.py: reads lines "BUCKETS<TAB>NAMESPACE<TAB>NAME" (Chains' TaskRun and
// PipelineRun lease sets for BUCKETS buckets) and prints "TASKRUN_LEASE<TAB>PIPELINERUN_LEASE".
#include "ha/buckets.hpp"

#include <iostream>
#include <map>
#include <memory>
#include <string>

int main() {
  using namespace chainsd::ha;
  std::map<std::uint32_t, std::pair<std::unique_ptr<bucket_set>, std::unique_ptr<bucket_set>>> sets;
  std::string line;
  while (std::getline(std::cin, line)) {
    auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    if (t1 == std::string::npos || t2 == std::string::npos) return 2;
    election_config c;
    c.buckets = static_cast<std::uint32_t>(std::stoul(line.substr(0, t1)));
    auto& s = sets[c.buckets];
    if (!s.first) {
      s.first = std::make_unique<bucket_set>(lease_names(chains_component, taskrun_queue, c));
      s.second = std::make_unique<bucket_set>(lease_names(chains_component, pipelinerun_queue, c));
    }
    std::string_view ns(line.data() + t1 + 1, t2 - t1 - 1), name(line.data() + t2 + 1, line.size() - t2 - 1);
    std::cout << s.first->name(s.first->owner(ns, name)) << '\t' << s.second->name(s.second->owner(ns, name)) << '\n';
  }
}
