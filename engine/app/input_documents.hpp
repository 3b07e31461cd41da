#pragma once
// What `chainsd payload` and `chainsd config check` read: a file (or stdin) as `kubectl get -o
// yaml|json` prints it. That can be one object, a YAML stream of several (`---` lines), or a List
// (`kubectl get taskruns -o json`, `kind: List` with `items`): all come out as one document per
// object, each as JSON text with a label that names it in messages.

#include <string>
#include <string_view>
#include <vector>

namespace chainsd::app {

struct input_document {
  std::string json;            // the object as JSON text
  std::string kind;            // its `kind` ("" when absent)
  std::string name;            // metadata.name ("" when absent)
  std::string namespace_name;  // metadata.namespace
  std::string where;           // "document 2" or "items[3]" ("" when the input is one object)
  // `TaskRun default/build-1 (document 2)`, for lists of what a file holds.
  std::string label() const;
};

// Reads `path` ("-": standard input). Throws std::runtime_error naming `path`.
std::string read_input(const std::string& path);

// Splits `text` (from `source`, for messages) into its objects, Lists expanded and empty YAML
// documents skipped. Throws std::runtime_error "<source>: ..." when the text is empty, is not
// YAML or JSON, or holds something that is not an object (a scalar, a sequence).
std::vector<input_document> split_documents(std::string_view text, const std::string& source);

}  // namespace chainsd::app
