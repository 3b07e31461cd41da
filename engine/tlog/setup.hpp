#pragma once
// From a chains-config snapshot to the logger it asks for: which log (v1, v2, or none), its
// URL and key, which timestamp authority and the chains its answers are verified with, taken
// from the transparency.* keys or from a Sigstore signing config + trusted root. Reads the files
// those keys name (PEM files, JSON files), so it runs once per config snapshot, not per run.

#include "config/config.hpp"
#include "tlog/logger.hpp"

#include <ctime>
#include <functional>
#include <memory>
#include <string>

namespace chainsd::net {
class http_client;
}

namespace chainsd::tlog {

// Reads a file named by config key `key`; throws std::invalid_argument naming the key and path.
using file_reader = std::function<std::string(const std::string& path, const std::string& key)>;
std::string read_config_file(const std::string& path, const std::string& key);

// The options `cfg` asks for at time `now` (signing-config services are chosen by validity).
// version 0 and no tsa: nothing to do. Throws std::invalid_argument naming the key to fix.
logger_options logger_options_for(const config::config& cfg, const file_reader& read, std::time_t now);

// The logger, or null when the config asks for neither a log nor timestamps. Throws
// std::invalid_argument naming the key to fix.
std::shared_ptr<logger> make_logger(const config::config& cfg, net::http_client& http);

}  // namespace chainsd::tlog
