#pragma once
// Label selectors (equality, inequality, exists, !exists, in, notin) and field selectors
// (metadata.name / metadata.namespace cheaply, any other dotted path by parsing the object).

#include "util.hpp"

#include <string>
#include <utility>
#include <vector>

namespace chainsd::testserver {

using label_map = std::vector<std::pair<std::string, std::string>>;  // sorted by key

label_map labels_of(const json::object& obj);

class label_selector {
 public:
  // Returns false with a message on syntax errors (the server answers 400 BadRequest).
  bool parse(std::string_view text, std::string& error);
  bool empty() const { return reqs_.empty(); }
  bool matches(const label_map& labels) const;

 private:
  enum class op { eq, ne, exists, not_exists, in, not_in };
  struct requirement {
    std::string key;
    op o;
    std::vector<std::string> values;
  };
  std::vector<requirement> reqs_;
};

class field_selector {
 public:
  bool parse(std::string_view text, std::string& error);
  bool empty() const { return reqs_.empty(); }
  // True when only metadata.name / metadata.namespace are used: no need to parse the object.
  bool metadata_only() const { return metadata_only_; }
  bool matches(std::string_view ns, std::string_view name, const std::string& bytes) const;

 private:
  struct requirement {
    std::string path;
    bool equal;
    std::string value;
  };
  std::vector<requirement> reqs_;
  bool metadata_only_ = true;
};

}  // namespace chainsd::testserver
