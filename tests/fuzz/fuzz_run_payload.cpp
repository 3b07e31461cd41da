// Fuzzes run document → statement: every format, with and without deep inspection, with the
// document also used as its own child. input_error is the only acceptable failure; anything else
// (another exception, a crash, a sanitizer report, invalid JSON output) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/json.hpp>

#include "config/config.hpp"
#include "provenance/formats.hpp"
#include "provenance/run_view.hpp"

using namespace chainsd;

namespace {
const config::config& deep_config() {
  static const config::config c = *config::parse({{"artifacts.pipelinerun.enable-deep-inspection", "true"},
                                                  {"builder.id", "fuzz"}})
                                       .value;
  return c;
}
const config::config& tekton_config() {
  static const config::config c =
      *config::parse({{"builddefinition.buildtype", "https://tekton.dev/chains/v2/slsa-tekton"}}).value;
  return c;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto run = provenance::parse_run_document(text, "fuzz");
    std::vector<provenance::run_view> children{run};
    children.back().kind = provenance::run_kind::task_run;
    for (auto f : {provenance::format::slsa_v1, provenance::format::slsa_v2alpha3, provenance::format::slsa_v2alpha4}) {
      for (const auto* cfg : {&deep_config(), &tekton_config()}) {
        try {
          auto out = provenance::make_payload(f, run, children, *cfg);
          boost::system::error_code ec;
          (void)boost::json::parse(out, ec);
          if (ec) std::abort();  // we must always emit valid JSON
        } catch (const provenance::input_error&) {
        }
      }
    }
    for (const auto& img : provenance::extract_images(run)) (void)provenance::make_simplesigning_payload(img);
  } catch (const provenance::input_error&) {
  }
  return 0;
}
