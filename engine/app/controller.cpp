#include "app/commands.hpp"

#include <cstdio>

namespace chainsd::app {
int run_controller(const args&) {
  std::fputs("chainsd: the controller is not built yet\n", stderr);
  return 2;
}
}  // namespace chainsd::app
