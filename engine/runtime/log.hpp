#pragma once
// Structured logs: one JSON object per line on stdout,
//   {"ts":"2026-11-26T06:30:00.123Z","level":"info","msg":"...","key":"value",...}
// Messages are lower-case and carry namespace/name, uid and the config key to fix where relevant.
// Never log key material, tokens or passwords. Single-threaded use (the io_context thread) is
// expected; writes are still serialized with a mutex so start-up threads cannot interleave.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace chainsd::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };  // off: commands whose output is a report

// Parses "debug", "info", "warn"/"warning", "error" (case-insensitive). Returns false otherwise.
bool parse_level(std::string_view text, level& out);
void set_level(level l);
level current_level();

using field = std::pair<std::string_view, std::string_view>;

void write(level l, std::string_view msg, std::initializer_list<field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<field> f = {}) { write(level::debug, msg, f); }
inline void info(std::string_view msg, std::initializer_list<field> f = {}) { write(level::info, msg, f); }
inline void warn(std::string_view msg, std::initializer_list<field> f = {}) { write(level::warn, msg, f); }
inline void error(std::string_view msg, std::initializer_list<field> f = {}) { write(level::error, msg, f); }

// Buffered mode (the controller's): debug and info lines are kept until flush(), a warning or
// error, or 64 KB of them, so a busy controller makes one write per batch, not per line. Turning
// it off writes what is kept.
void set_buffered(bool on);
void flush();

// Appends `s` to `out` as the inside of a JSON string (no surrounding quotes).
void json_escape(std::string& out, std::string_view s);

}  // namespace chainsd::log
