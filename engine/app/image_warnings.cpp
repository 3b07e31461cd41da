#include "app/image_warnings.hpp"

#include "provenance/image_ref.hpp"

namespace chainsd::app {
namespace {

const provenance::result* find_result(const provenance::run_view& run, const std::string& name) {
  for (const auto& r : run.results)
    if (r.name == name) return &r;
  return nullptr;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

}  // namespace

std::vector<std::string> image_result_warnings(const provenance::run_view& run) {
  using kind = provenance::param_value::kind;
  std::vector<std::string> out;
  for (const auto& r : run.results) {
    if (r.value.type != kind::string) continue;
    if (ends_with(r.name, "IMAGE_DIGEST")) {
      const auto digest = trim(r.value.str);
      if (digest.empty()) continue;
      const auto url_name = r.name.substr(0, r.name.size() - 6) + "URL";  // FOO_IMAGE_DIGEST → FOO_IMAGE_URL
      const auto* url = find_result(run, url_name);
      if (!url || url->value.type != kind::string || trim(url->value.str).empty()) {
        out.push_back("result " + r.name + " has no " + url_name + " beside it; the image is not a subject");
        continue;
      }
      std::string error;
      if (!provenance::parse_digest_ref(trim(url->value.str) + "@" + digest, &error))
        out.push_back("result " + r.name + " \"" + digest + "\" (with " + url_name + " \"" + trim(url->value.str) +
                      "\") is not a valid image digest (sha256:<64 lower-case hex>): " + error +
                      "; the image is not a subject and is not signed");
    } else if (r.name == "IMAGES") {
      const auto& s = r.value.str;
      for (std::size_t start = 0; start <= s.size();) {
        auto end = s.find_first_of(",\n", start);
        if (end == std::string::npos) end = s.size();
        auto item = trim(std::string_view(s).substr(start, end - start));
        std::string error;
        if (!item.empty() && !provenance::parse_digest_ref(item, &error))
          out.push_back("result IMAGES entry \"" + item + "\" is not repo@sha256:<64 lower-case hex>: " + error +
                        "; the image is not a subject and is not signed");
        start = end + 1;
      }
    }
  }
  return out;
}

}  // namespace chainsd::app
