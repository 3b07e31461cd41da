// Placeholder until the provenance formats land: refuses clearly instead of printing nothing.
#include "app/commands.hpp"

#include <cstdio>

namespace chainsd::app {
int run_payload(const args&) {
  std::fputs("chainsd payload: no formats are built into this binary yet\n", stderr);
  return 2;
}
}  // namespace chainsd::app
