#pragma once
// Internal: the JSON path of a value being read ("status.steps[3].imageID"), for error messages
// only. A path is a chain of stack objects pointing at their parent, so reading a valid run never
// builds the strings; str() joins them when an error is reported. A child must not outlive its
// parent: make them as locals or arguments, never store them.

#include <cstddef>
#include <string>
#include <string_view>

namespace chainsd::provenance {

class json_path {
 public:
  json_path(const char* root) : root_(root) {}
  json_path(const std::string& root) : root_(root) {}
  json_path(std::string_view root) : root_(root) {}
  json_path(const json_path& parent, std::string_view member) : parent_(&parent), root_(member) {}
  json_path(const json_path& parent, std::size_t index) : parent_(&parent), index_(index), is_index_(true) {}

  std::string str() const {
    std::string out;
    append_to(out);
    return out;
  }

 private:
  void append_to(std::string& out) const {
    if (parent_) parent_->append_to(out);
    if (is_index_) {
      out += '[';
      out += std::to_string(index_);
      out += ']';
      return;
    }
    if (parent_ && !out.empty()) out += '.';
    out += root_;
  }

  const json_path* parent_ = nullptr;
  std::string_view root_;  // the whole path of a root; the member name of a child
  std::size_t index_ = 0;
  bool is_index_ = false;
};

}  // namespace chainsd::provenance
