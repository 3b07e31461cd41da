// chainsd payload: prints the provenance Chains would sign for a run, without a cluster.
//   chainsd payload [--format FORMAT] [--config KEY=VALUE]... [--child TASKRUN_FILE]...
//                   [--kind TaskRun|PipelineRun] [--run NAME] [--newline] RUN_FILE|-
// Runs are JSON or YAML as `kubectl get taskrun X -o json|yaml` prints them; a file holding several
// objects (a YAML stream, a List from `kubectl get taskruns -o json`) needs --run to pick one, and a
// --child file may hold many TaskRuns. The statement (or, for simplesigning, one payload per image,
// separated by newlines) goes to stdout exactly as it would be signed: no newline is added after
// the last one unless --newline says so.
// Exit codes: 0 printed, 1 bad input (one line on stderr: file, field, problem), 2 bad usage.
#include <cstdio>
#include <iostream>

#include "app/commands.hpp"
#include "app/image_warnings.hpp"
#include "app/input_documents.hpp"
#include "config/config.hpp"
#include "provenance/formats.hpp"
#include "provenance/run_view.hpp"

namespace chainsd::app {
namespace {

constexpr const char* usage_text =
    "usage: chainsd payload [--format FORMAT] [--config KEY=VALUE]... [--child TASKRUN_FILE]...\n"
    "                       [--kind TaskRun|PipelineRun] [--run NAME] [--newline] RUN_FILE|-\n"
    "  FORMAT: in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4, simplesigning\n"
    "          (default: artifacts.taskrun.format or artifacts.pipelinerun.format from --config)\n"
    "  RUN_FILE: `kubectl get taskrun|pipelinerun NAME -o json|yaml` output. A file with several\n"
    "          objects (YAML documents, a List) needs --run NAME (or NAMESPACE/NAME) to pick one; a\n"
    "          picked PipelineRun takes the TaskRuns of the same file labelled\n"
    "          tekton.dev/pipelineRun=NAME as children unless --child is given.\n"
    "  --child: a TaskRun of a PipelineRun; the file may hold many (a List).\n"
    "  Output: exactly the bytes that would be signed (simplesigning: one payload per image, newline\n"
    "          between); --newline adds one after the last.\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "chainsd payload: %s\n%s", message.c_str(), usage_text);
  return 2;
}

void warn(const std::string& message) { std::fprintf(stderr, "chainsd payload: warning: %s\n", message.c_str()); }

struct options {
  std::string format_name, run_file, kind_name, run_name;
  config::data_map config_data;
  std::vector<std::string> child_files;
  bool newline = false;
  bool help = false;
};

// Returns an error message for bad usage, else "".
std::string parse_args(const args& a, options& o) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string& arg = a[i];
    auto takes = [&](const char* flag) { return arg == flag || arg.rfind(std::string(flag) + "=", 0) == 0; };
    auto value = [&](const char* flag) -> std::optional<std::string> {
      if (arg != flag) return arg.substr(std::string(flag).size() + 1);
      if (i + 1 >= a.size()) return std::nullopt;
      return a[++i];
    };
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "--newline") {
      o.newline = true;
    } else if (takes("--format")) {
      auto v = value("--format");
      if (!v) return "--format needs a value";
      o.format_name = *v;
    } else if (takes("--config")) {
      auto v = value("--config");
      if (!v) return "--config needs KEY=VALUE";
      auto eq = v->find('=');
      if (eq == std::string::npos || eq == 0) return "--config \"" + *v + "\": expected KEY=VALUE";
      o.config_data[v->substr(0, eq)] = v->substr(eq + 1);
    } else if (takes("--child")) {
      auto v = value("--child");
      if (!v) return "--child needs a file";
      o.child_files.push_back(*v);
    } else if (takes("--kind")) {
      auto v = value("--kind");
      if (!v) return "--kind needs TaskRun or PipelineRun";
      o.kind_name = *v;
    } else if (takes("--run")) {
      auto v = value("--run");
      if (!v || v->empty()) return "--run needs the NAME (or NAMESPACE/NAME) of a run in the file";
      o.run_name = *v;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return "unknown flag \"" + arg + "\"";
    } else {
      if (!o.run_file.empty()) return "only one run file may be given (children go in --child)";
      o.run_file = arg;
    }
  }
  return {};
}

std::string labels_of(const std::vector<input_document>& docs) {
  std::string out;
  for (const auto& d : docs) out += (out.empty() ? "" : ", ") + d.label();
  return out;
}

bool is_run_kind(const std::string& k) { return k.empty() || k == "TaskRun" || k == "PipelineRun"; }

// The one document of `docs` the payload is made of: the only one, or the one --run names.
const input_document& pick_run(const std::vector<input_document>& docs, const options& o) {
  if (docs.empty()) throw std::runtime_error(o.run_file + ": holds no objects (an empty List)");
  if (o.run_name.empty()) {
    if (docs.size() == 1) return docs[0];
    throw std::runtime_error(o.run_file + ": holds " + std::to_string(docs.size()) + " objects (" + labels_of(docs) +
                             "); give one run, or pick one with --run NAME");
  }
  std::vector<const input_document*> hits;
  for (const auto& d : docs)
    if (is_run_kind(d.kind) && (d.name == o.run_name || d.namespace_name + "/" + d.name == o.run_name))
      hits.push_back(&d);
  if (hits.size() == 1) return *hits[0];
  throw std::runtime_error(o.run_file + ": --run " + o.run_name + ": " +
                           (hits.empty() ? "no run of that name" : "more than one run of that name (use NAMESPACE/NAME)") +
                           " among " + labels_of(docs));
}

std::string where(const std::string& file, const input_document& d) {
  return d.where.empty() ? file : file + " " + d.where;
}

provenance::run_view read_child(const std::string& file, const input_document& d) {
  if (!d.kind.empty() && d.kind != "TaskRun")
    throw provenance::input_error(where(file, d) + ": kind: a --child must be a TaskRun, not a " + d.kind);
  auto v = provenance::parse_run(d.json, where(file, d), provenance::run_kind::task_run);
  if (v.kind != provenance::run_kind::task_run)
    throw provenance::input_error(where(file, d) + ": kind: a --child must be a TaskRun");
  return v;
}

}  // namespace

int run_payload(const args& a) {
  options o;
  if (auto e = parse_args(a, o); !e.empty()) return usage_error(e);
  if (o.help) {
    std::fputs(usage_text, stdout);
    return 0;
  }
  if (o.run_file.empty()) return usage_error("missing RUN_FILE (use - for stdin)");

  std::optional<provenance::run_kind> kind_hint;
  if (o.kind_name == "TaskRun") kind_hint = provenance::run_kind::task_run;
  else if (o.kind_name == "PipelineRun") kind_hint = provenance::run_kind::pipeline_run;
  else if (!o.kind_name.empty()) return usage_error("--kind \"" + o.kind_name + "\": expected TaskRun or PipelineRun");

  auto parsed = config::parse(o.config_data);
  for (const auto& w : parsed.warnings) warn("--config " + w);
  if (!parsed.ok()) {
    std::fprintf(stderr, "chainsd payload: --config: %s\n", parsed.error_text().c_str());
    return 2;
  }
  const config::config& cfg = *parsed.value;

  try {
    const std::string source = o.run_file == "-" ? "<stdin>" : o.run_file;
    auto docs = split_documents(read_input(o.run_file), source);
    const auto& doc = pick_run(docs, o);
    if (!is_run_kind(doc.kind))
      throw provenance::input_error(where(source, doc) + ": kind: is a " + doc.kind + ", not a TaskRun or PipelineRun");
    auto run = provenance::parse_run(doc.json, where(source, doc), kind_hint);
    if (o.format_name.empty())
      o.format_name = run.kind == provenance::run_kind::task_run ? cfg.taskrun.format : cfg.pipelinerun.format;
    auto f = provenance::parse_format(o.format_name);
    if (!f)
      return usage_error("--format \"" + o.format_name +
                         "\": unknown, wanted one of [in-toto slsa/v1 slsa/v2alpha3 slsa/v2alpha4 simplesigning]");

    std::vector<provenance::run_view> children;
    for (const auto& c : o.child_files)
      for (const auto& d : split_documents(read_input(c), c)) children.push_back(read_child(c, d));
    if (o.child_files.empty() && run.kind == provenance::run_kind::pipeline_run && docs.size() > 1) {
      // `kubectl get pipelinerun/X,taskruns -l tekton.dev/pipelineRun=X -o json`: one file, run and children.
      for (const auto& d : docs)
        if (&d != &doc && d.kind == "TaskRun") {
          auto v = read_child(source, d);
          if (auto* p = v.label("tekton.dev/pipelineRun"); p && *p == run.name) children.push_back(std::move(v));
        }
      warn(source + ": " + std::to_string(children.size()) + " TaskRun" + (children.size() == 1 ? "" : "s") +
           " of the file labelled tekton.dev/pipelineRun=" + run.name + " used as children");
    }
    if (!children.empty() && run.kind != provenance::run_kind::pipeline_run)
      warn(where(source, doc) + " is a TaskRun; --child files are ignored");
    for (const auto& w : image_result_warnings(run)) warn(where(source, doc) + ": " + w);

    const char* end = o.newline ? "\n" : "";
    if (*f == provenance::format::simplesigning) {
      auto images = provenance::extract_images(run);
      if (images.empty())
        std::fprintf(stderr, "chainsd payload: %s: no OCI images in the results (IMAGE_URL/IMAGE_DIGEST, IMAGES, "
                             "ARTIFACT_OUTPUTS)\n", where(source, doc).c_str());
      for (std::size_t i = 0; i < images.size(); ++i)
        std::cout << provenance::make_simplesigning_payload(images[i]) << (i + 1 < images.size() ? "\n" : end);
    } else {
      std::cout << provenance::make_payload(*f, run, children, cfg) << end;
    }
    std::cout.flush();
    return std::cout ? 0 : 1;
  } catch (const std::exception& e) {  // input_error, and what split_documents / read_input throw
    std::fprintf(stderr, "chainsd payload: %s\n", e.what());
    return 1;
  }
}

}  // namespace chainsd::app
