#include "app/flags.hpp"

#include <charconv>

namespace chainsd::app {

const flag_spec* flags::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

void flags::parse(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.size() < 2 || a[0] != '-') {
      positional_.push_back(a);
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = body.find('='); eq != std::string::npos) {
      value = body.substr(eq + 1);
      body.resize(eq);
    }
    if (body == "h" && find("help")) body = "help";  // -h as --help wherever there is a --help
    const auto* spec = find(body);
    if (!spec) throw flag_error("unknown flag --" + body);
    if (spec->boolean) {
      values_[body] = value.value_or("true");
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) throw flag_error("flag --" + body + " needs a value");
      value = args[++i];
    }
    values_[body] = *value;
  }
}

std::string flags::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  const auto* spec = find(name);
  return spec ? spec->default_value : std::string();
}

long flags::get_int(const std::string& name, long min, long max) const {
  auto s = get(name);
  long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max)
    throw flag_error("flag --" + name + ": \"" + s + "\" is not a number in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "]");
  return v;
}

std::string flags::usage() const {
  std::string out;
  for (const auto& s : specs_) {
    out += std::string(s.name == "help" ? "  -h, --" : "  --") + s.name + (s.boolean ? "" : " VALUE");
    out += "\n      " + s.help;
    if (!s.default_value.empty()) out += " (default " + s.default_value + ")";
    out += "\n";
  }
  return out;
}

}  // namespace chainsd::app
