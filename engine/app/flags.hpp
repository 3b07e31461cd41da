#pragma once
// A small flag parser: --name VALUE, --name=VALUE and boolean --name. Unknown flags are errors.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chainsd::app {

class flag_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct flag_spec {
  std::string name;   // without dashes
  std::string help;
  std::string default_value;
  bool boolean = false;
};

class flags {
 public:
  explicit flags(std::vector<flag_spec> specs) : specs_(std::move(specs)) {}
  // Throws flag_error naming the flag.
  void parse(const std::vector<std::string>& args);
  std::string get(const std::string& name) const;
  bool get_bool(const std::string& name) const { return get(name) == "true"; }
  long get_int(const std::string& name, long min, long max) const;
  bool was_set(const std::string& name) const { return values_.count(name) > 0; }
  // Sets a value as if given on the command line, unless it was (defaults computed at run time).
  void set_default(const std::string& name, std::string value) { values_.emplace(name, std::move(value)); }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string usage() const;

 private:
  const flag_spec* find(const std::string& name) const;
  std::vector<flag_spec> specs_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace chainsd::app
