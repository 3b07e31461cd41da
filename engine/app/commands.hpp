#pragma once
// Sub-commands of the chainsd binary. Each takes the arguments after its own name and returns
// the process exit code.

#include <string>
#include <vector>

namespace chainsd::app {

using args = std::vector<std::string>;

int run_controller(const args& a);  // default: the controller (list/watch runs, sign, store)
int run_payload(const args& a);     // chainsd payload --format F [--config K=V]... [--child F]... FILE|-
int run_plugins(const args& a);     // chainsd plugins [--plugin-dir DIR]
int run_config(const args& a);      // chainsd config check [--plugin-dir DIR] FILE|-
int run_verify(const args& a);      // chainsd verify --key KEY [--rekor] RUN_FILE|-

// Where plugins are looked for when --plugin-dir is not given, and how it was chosen (for messages).
std::string default_plugin_dir();
std::string default_plugin_dir_origin();

}  // namespace chainsd::app
