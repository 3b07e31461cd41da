// chainsd payload: prints the provenance Chains would sign for a run, without a cluster.
//   chainsd payload --format FORMAT [--config KEY=VALUE]... [--child TASKRUN_FILE]...
//                   [--kind TaskRun|PipelineRun] RUN_FILE|-
// Runs are JSON or YAML as `kubectl get taskrun X -o json|yaml` prints them. The statement (or,
// for simplesigning, one payload per image and line) goes to stdout exactly as it would be signed,
// each followed by a newline that is not part of the payload.
// Exit codes: 0 printed, 1 bad input (one line on stderr: file, field, problem), 2 bad usage.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "app/commands.hpp"
#include "config/config.hpp"
#include "provenance/formats.hpp"
#include "provenance/run_view.hpp"

namespace chainsd::app {
namespace {

constexpr const char* usage_text =
    "usage: chainsd payload [--format FORMAT] [--config KEY=VALUE]... [--child TASKRUN_FILE]...\n"
    "                       [--kind TaskRun|PipelineRun] RUN_FILE|-\n"
    "  FORMAT: in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4, simplesigning\n"
    "          (default: artifacts.taskrun.format or artifacts.pipelinerun.format from --config)\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "chainsd payload: %s\n%s", message.c_str(), usage_text);
  return 2;
}

std::string read_source(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw provenance::input_error(path + ": cannot read: " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int run_payload(const args& a) {
  std::string format_name, run_file, kind_name;
  config::data_map config_data;
  std::vector<std::string> child_files;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string& arg = a[i];
    auto value = [&](const char* flag) -> std::optional<std::string> {
      auto eq = std::string(flag) + "=";
      if (arg.rfind(eq, 0) == 0) return arg.substr(eq.size());
      if (arg == flag) {
        if (i + 1 >= a.size()) return std::nullopt;
        return a[++i];
      }
      return std::nullopt;
    };
    auto takes = [&](const char* flag) { return arg == flag || arg.rfind(std::string(flag) + "=", 0) == 0; };
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage_text, stdout);
      return 0;
    }
    if (takes("--format")) {
      auto v = value("--format");
      if (!v) return usage_error("--format needs a value");
      format_name = *v;
    } else if (takes("--config")) {
      auto v = value("--config");
      if (!v) return usage_error("--config needs KEY=VALUE");
      auto eq = v->find('=');
      if (eq == std::string::npos || eq == 0) return usage_error("--config \"" + *v + "\": expected KEY=VALUE");
      config_data[v->substr(0, eq)] = v->substr(eq + 1);
    } else if (takes("--child")) {
      auto v = value("--child");
      if (!v) return usage_error("--child needs a file");
      child_files.push_back(*v);
    } else if (takes("--kind")) {
      auto v = value("--kind");
      if (!v) return usage_error("--kind needs TaskRun or PipelineRun");
      kind_name = *v;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage_error("unknown flag \"" + arg + "\"");
    } else {
      if (!run_file.empty()) return usage_error("only one run file may be given (children go in --child)");
      run_file = arg;
    }
  }
  if (run_file.empty()) return usage_error("missing RUN_FILE (use - for stdin)");

  std::optional<provenance::run_kind> kind_hint;
  if (kind_name == "TaskRun") kind_hint = provenance::run_kind::task_run;
  else if (kind_name == "PipelineRun") kind_hint = provenance::run_kind::pipeline_run;
  else if (!kind_name.empty()) return usage_error("--kind \"" + kind_name + "\": expected TaskRun or PipelineRun");

  auto parsed = config::parse(config_data);
  for (const auto& w : parsed.warnings) std::fprintf(stderr, "chainsd payload: warning: --config %s\n", w.c_str());
  if (!parsed.ok()) {
    std::fprintf(stderr, "chainsd payload: --config: %s\n", parsed.error_text().c_str());
    return 2;
  }
  const config::config& cfg = *parsed.value;

  try {
    auto run = provenance::parse_run_document(read_source(run_file), run_file, kind_hint);
    if (format_name.empty())
      format_name = run.kind == provenance::run_kind::task_run ? cfg.taskrun.format : cfg.pipelinerun.format;
    auto f = provenance::parse_format(format_name);
    if (!f)
      return usage_error("--format \"" + format_name +
                         "\": unknown, wanted one of [in-toto slsa/v1 slsa/v2alpha3 slsa/v2alpha4 simplesigning]");

    std::vector<provenance::run_view> children;
    children.reserve(child_files.size());
    for (const auto& c : child_files) {
      children.push_back(provenance::parse_run_document(read_source(c), c, provenance::run_kind::task_run));
      if (children.back().kind != provenance::run_kind::task_run)
        throw provenance::input_error(c + ": kind: a --child must be a TaskRun");
    }
    if (!children.empty() && run.kind != provenance::run_kind::pipeline_run)
      std::fprintf(stderr, "chainsd payload: warning: %s is a TaskRun; --child files are ignored\n", run_file.c_str());

    if (*f == provenance::format::simplesigning) {
      auto images = provenance::extract_images(run);
      if (images.empty())
        std::fprintf(stderr, "chainsd payload: %s: no OCI images in the results (IMAGE_URL/IMAGE_DIGEST, IMAGES, "
                             "ARTIFACT_OUTPUTS)\n", run_file.c_str());
      for (const auto& img : images) std::cout << provenance::make_simplesigning_payload(img) << '\n';
    } else {
      std::cout << provenance::make_payload(*f, run, children, cfg) << '\n';
    }
    std::cout.flush();
    return std::cout ? 0 : 1;
  } catch (const provenance::input_error& e) {
    std::fprintf(stderr, "chainsd payload: %s\n", e.what());
    return 1;
  }
}

}  // namespace chainsd::app
