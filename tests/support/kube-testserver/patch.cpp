#include "patch.hpp"

#include <algorithm>
#include <set>

namespace chainsd::testserver {
namespace {

// ---- strategic merge patch ---------------------------------------------------------------

// Lists kube merges by key instead of replacing (patchStrategy=merge in the Go types).
std::string_view merge_key_for(std::string_view field) {
  if (field == "containers" || field == "initContainers" || field == "ephemeralContainers" ||
      field == "volumes" || field == "env" || field == "imagePullSecrets")
    return "name";
  if (field == "volumeMounts" || field == "volumeDevices") return "mountPath";
  if (field == "ports") return "containerPort";
  if (field == "ownerReferences") return "uid";
  if (field == "conditions") return "type";
  return {};
}

bool is_primitive_merge_list(std::string_view field) { return field == "finalizers"; }

bool is_directive(std::string_view key) { return !key.empty() && key.front() == '$'; }

json::value strip_directives(const json::value& v) {
  if (v.is_object()) {
    json::object o;
    for (const auto& kv : v.get_object()) {
      if (is_directive(kv.key())) continue;
      o[kv.key()] = strip_directives(kv.value());
    }
    return o;
  }
  if (v.is_array()) {
    json::array a;
    for (const auto& e : v.get_array()) a.push_back(strip_directives(e));
    return a;
  }
  return v;
}

std::string_view patch_directive(const json::value& v) {
  if (!v.is_object()) return {};
  return string_at(v.get_object(), "$patch");
}

void smp_object(json::value& target, const json::value& patch);

void smp_list(json::value& target, const json::array& patch, std::string_view field) {
  for (const auto& e : patch)
    if (patch_directive(e) == "replace") {
      json::array replaced;
      for (const auto& x : patch)
        if (patch_directive(x) != "replace") replaced.push_back(strip_directives(x));
      target = std::move(replaced);
      return;
    }
  std::string_view key = merge_key_for(field);
  if (!target.is_array() || (key.empty() && !is_primitive_merge_list(field))) {
    target = strip_directives(patch);
    return;
  }
  json::array& t = target.get_array();
  if (is_primitive_merge_list(field)) {
    for (const auto& e : patch)
      if (std::find(t.begin(), t.end(), e) == t.end()) t.push_back(e);
    return;
  }
  for (const auto& e : patch) {
    if (!e.is_object() || !e.get_object().contains(key)) {
      t.push_back(strip_directives(e));
      continue;
    }
    const json::value& id = e.get_object().at(key);
    auto it = std::find_if(t.begin(), t.end(), [&](const json::value& x) {
      return x.is_object() && x.get_object().contains(key) && x.get_object().at(key) == id;
    });
    if (patch_directive(e) == "delete") {
      if (it != t.end()) t.erase(it);
    } else if (it != t.end()) {
      smp_object(*it, e);
    } else {
      t.push_back(strip_directives(e));
    }
  }
}

void smp_object(json::value& target, const json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  const json::object& p = patch.get_object();
  std::string_view directive = string_at(p, "$patch");
  if (directive == "replace") {
    target = strip_directives(patch);
    return;
  }
  if (!target.is_object()) target = json::object{};
  json::object& t = target.get_object();
  for (const auto& kv : p) {
    std::string_view key = kv.key();
    if (key.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string field(key.substr(sizeof("$deleteFromPrimitiveList/") - 1));
      if (auto it = t.find(field); it != t.end() && it->value().is_array() && kv.value().is_array()) {
        json::array& a = it->value().get_array();
        for (const auto& del : kv.value().get_array())
          a.erase(std::remove(a.begin(), a.end(), del), a.end());
      }
      continue;
    }
    if (is_directive(key)) continue;  // $setElementOrder, $retainKeys, $patch: ordering hints
    const json::value& v = kv.value();
    if (v.is_null() || patch_directive(v) == "delete") {
      t.erase(key);
    } else if (v.is_array()) {
      smp_list(t[key], v.get_array(), key);
    } else if (v.is_object()) {
      smp_object(t[key], v);
    } else {
      t[key] = v;
    }
  }
  if (auto it = p.find("$retainKeys"); it != p.end() && it->value().is_array()) {
    std::set<std::string> keep;
    for (const auto& k : it->value().get_array())
      if (k.is_string()) keep.emplace(k.get_string());
    std::vector<std::string> drop;
    for (const auto& kv : t)
      if (!keep.count(std::string(kv.key()))) drop.emplace_back(kv.key());
    for (const auto& k : drop) t.erase(k);
  }
}

// ---- JSON patch ----------------------------------------------------------------------------

[[noreturn]] void invalid(const std::string& msg) { throw api_error(422, "Invalid", msg); }

std::vector<std::string> parse_pointer(std::string_view p) {
  std::vector<std::string> out;
  if (p.empty()) return out;
  if (p.front() != '/') invalid("invalid JSON pointer \"" + std::string(p) + "\"");
  std::size_t i = 1;
  while (true) {
    auto slash = p.find('/', i);
    std::string_view raw = p.substr(i, slash == std::string_view::npos ? p.npos : slash - i);
    std::string tok;
    for (std::size_t j = 0; j < raw.size(); ++j) {
      if (raw[j] == '~' && j + 1 < raw.size()) {
        tok += raw[j + 1] == '1' ? '/' : '~';
        ++j;
      } else {
        tok += raw[j];
      }
    }
    out.push_back(std::move(tok));
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  return out;
}

bool parse_index(const std::string& tok, std::size_t& out) {
  std::uint64_t v;
  if (!parse_uint(tok, v) || (tok.size() > 1 && tok[0] == '0')) return false;
  out = static_cast<std::size_t>(v);
  return true;
}

json::value* resolve(json::value& root, const std::vector<std::string>& toks, std::size_t n) {
  json::value* cur = &root;
  for (std::size_t i = 0; i < n; ++i) {
    if (cur->is_object()) {
      auto it = cur->get_object().find(toks[i]);
      if (it == cur->get_object().end()) return nullptr;
      cur = &it->value();
    } else if (cur->is_array()) {
      std::size_t idx;
      if (!parse_index(toks[i], idx) || idx >= cur->get_array().size()) return nullptr;
      cur = &cur->get_array()[idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

std::string pointer_text(const std::vector<std::string>& toks) {
  std::string s;
  for (const auto& t : toks) s += "/" + t;
  return s;
}

void jp_add(json::value& root, const std::vector<std::string>& toks, json::value v) {
  if (toks.empty()) {
    root = std::move(v);
    return;
  }
  json::value* parent = resolve(root, toks, toks.size() - 1);
  if (!parent) invalid("add operation does not apply: doc is missing path: \"" + pointer_text(toks) + "\"");
  const std::string& last = toks.back();
  if (parent->is_object()) {
    parent->get_object()[last] = std::move(v);
  } else if (parent->is_array()) {
    json::array& a = parent->get_array();
    std::size_t idx;
    if (last == "-") a.push_back(std::move(v));
    else if (parse_index(last, idx) && idx <= a.size()) a.insert(a.begin() + static_cast<std::ptrdiff_t>(idx), std::move(v));
    else invalid("add operation does not apply: index out of range: \"" + pointer_text(toks) + "\"");
  } else {
    invalid("add operation does not apply: doc is missing path: \"" + pointer_text(toks) + "\"");
  }
}

json::value jp_remove(json::value& root, const std::vector<std::string>& toks, std::string_view op) {
  if (toks.empty()) invalid(std::string(op) + " operation does not apply: cannot remove the root");
  json::value* parent = resolve(root, toks, toks.size() - 1);
  const std::string& last = toks.back();
  if (parent && parent->is_object()) {
    auto it = parent->get_object().find(last);
    if (it != parent->get_object().end()) {
      json::value v = std::move(it->value());
      parent->get_object().erase(it);
      return v;
    }
  } else if (parent && parent->is_array()) {
    std::size_t idx;
    json::array& a = parent->get_array();
    if (parse_index(last, idx) && idx < a.size()) {
      json::value v = std::move(a[idx]);
      a.erase(a.begin() + static_cast<std::ptrdiff_t>(idx));
      return v;
    }
  }
  invalid(std::string(op) + " operation does not apply: doc is missing path: \"" + pointer_text(toks) + "\"");
}

// ---- managed fields ------------------------------------------------------------------------

constexpr char sep = '\x01';

void collect_leaves(const json::object& tree, const std::string& prefix, std::set<std::string>& out) {
  for (const auto& kv : tree) {
    std::string_view k = kv.key();
    if (k == ".") continue;
    std::string path = prefix.empty() ? std::string(k) : prefix + sep + std::string(k);
    bool has_children = false;
    if (kv.value().is_object())
      for (const auto& c : kv.value().get_object())
        if (c.key() != ".") has_children = true;
    if (has_children) collect_leaves(kv.value().get_object(), path, out);
    else out.insert(path);
  }
}

std::set<std::string> leaves_of(const json::value& tree) {
  std::set<std::string> out;
  if (tree.is_object()) collect_leaves(tree.get_object(), "", out);
  return out;
}

json::object tree_of(const std::set<std::string>& leaves) {
  json::object root;
  for (const auto& leaf : leaves) {
    json::object* cur = &root;
    std::size_t start = 0;
    while (true) {
      auto pos = leaf.find(sep, start);
      std::string key = leaf.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
      json::value& child = (*cur)[key];
      if (!child.is_object()) child = json::object{};
      cur = &child.get_object();
      if (pos == std::string::npos) break;
      if (key != "f:metadata") (*cur)["."] = json::object{};
      start = pos + 1;
    }
  }
  return root;
}

void value_leaves(const json::value& v, const std::string& prefix, std::set<std::string>& out) {
  if (v.is_object() && !v.get_object().empty()) {
    for (const auto& kv : v.get_object())
      value_leaves(kv.value(), prefix + sep + "f:" + std::string(kv.key()), out);
  } else {
    out.insert(prefix);
  }
}

// The fields of `obj` that can be owned, as leaf paths ("f:spec\x01f:params").
std::set<std::string> owned_fields(const json::value& obj, const field_manager_context& ctx) {
  std::set<std::string> out;
  if (!obj.is_object()) return out;
  for (const auto& kv : obj.get_object()) {
    std::string_view k = kv.key();
    if (k == "apiVersion" || k == "kind") continue;
    if (k == "metadata") {
      if (ctx.only_status || !kv.value().is_object()) continue;
      for (const char* f : {"labels", "annotations", "finalizers", "ownerReferences"})
        if (auto it = kv.value().get_object().find(f); it != kv.value().get_object().end())
          value_leaves(it->value(), std::string("f:metadata") + sep + "f:" + f, out);
      continue;
    }
    if (k == "status" ? !ctx.include_status : ctx.only_status) continue;
    value_leaves(kv.value(), "f:" + std::string(k), out);
  }
  return out;
}

std::vector<std::string> split_path(const std::string& leaf) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto pos = leaf.find(sep, start);
    out.push_back(leaf.substr(start + 2, pos == std::string::npos ? std::string::npos : pos - start - 2));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

const json::value* value_at(const json::value& root, const std::string& leaf) {
  const json::value* cur = &root;
  for (const auto& k : split_path(leaf)) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->get_object().find(k);
    if (it == cur->get_object().end()) return nullptr;
    cur = &it->value();
  }
  return cur;
}

void set_at(json::value& root, const std::string& leaf, const json::value& v) {
  json::value* cur = &root;
  auto parts = split_path(leaf);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!cur->is_object()) *cur = json::object{};
    json::value& child = cur->get_object()[parts[i]];
    if (i + 1 == parts.size()) {
      // An empty map in the applied config claims the map; it must not wipe the live contents.
      if (v.is_object() && v.get_object().empty() && child.is_object()) return;
      child = v;
    }
    cur = &child;
  }
}

void erase_at(json::value& root, const std::string& leaf) {
  json::value* cur = &root;
  auto parts = split_path(leaf);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!cur->is_object()) return;
    auto it = cur->get_object().find(parts[i]);
    if (it == cur->get_object().end()) return;
    cur = &it->value();
  }
  if (cur->is_object()) cur->get_object().erase(parts.back());
}

bool overlaps(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto prefix = [](const std::string& x, const std::string& y) {
    return y.size() > x.size() && y.compare(0, x.size(), x) == 0 && y[x.size()] == sep;
  };
  return prefix(a, b) || prefix(b, a);
}

std::string dotted(const std::string& leaf) {
  std::string s;
  for (const auto& p : split_path(leaf)) s += "." + p;
  return s;
}

json::array& managed_fields_of(json::value& obj) {
  json::object& md = obj.as_object()["metadata"].is_object()
                         ? obj.as_object()["metadata"].get_object()
                         : (obj.as_object()["metadata"] = json::object{}).get_object();
  json::value& mf = md["managedFields"];
  if (!mf.is_array()) mf = json::array{};
  return mf.get_array();
}

bool same_domain(const json::object& entry, const field_manager_context& ctx) {
  return string_at(entry, "subresource") == ctx.subresource;
}

void put_entry(json::array& managed, const field_manager_context& ctx, std::string_view operation,
               const std::set<std::string>& leaves) {
  auto it = std::find_if(managed.begin(), managed.end(), [&](const json::value& e) {
    return e.is_object() && string_at(e.get_object(), "manager") == ctx.manager &&
           string_at(e.get_object(), "operation") == operation && same_domain(e.get_object(), ctx);
  });
  if (leaves.empty()) {
    if (it != managed.end()) managed.erase(it);
    return;
  }
  json::object entry{{"manager", ctx.manager},
                     {"operation", operation},
                     {"apiVersion", ctx.api_version},
                     {"time", now_rfc3339()},
                     {"fieldsType", "FieldsV1"},
                     {"fieldsV1", tree_of(leaves)}};
  if (!ctx.subresource.empty()) entry["subresource"] = ctx.subresource;
  if (it != managed.end()) *it = std::move(entry);
  else managed.push_back(std::move(entry));
}

// Removes from every other manager's set the leaves overlapping `taken`; drops empty entries.
void take_from_others(json::array& managed, const field_manager_context& ctx,
                      std::string_view operation, const std::set<std::string>& taken) {
  for (std::size_t i = 0; i < managed.size();) {
    if (!managed[i].is_object()) {
      ++i;
      continue;
    }
    json::object& e = managed[i].get_object();
    bool self = string_at(e, "manager") == ctx.manager && string_at(e, "operation") == operation;
    if (self || !same_domain(e, ctx)) {
      ++i;
      continue;
    }
    std::set<std::string> leaves = leaves_of(e["fieldsV1"]);
    bool changed = false;
    for (auto it = leaves.begin(); it != leaves.end();) {
      bool hit = std::any_of(taken.begin(), taken.end(), [&](const std::string& t) { return overlaps(*it, t); });
      if (hit) {
        it = leaves.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    if (changed) {
      if (leaves.empty()) {
        managed.erase(managed.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      e["fieldsV1"] = tree_of(leaves);
    }
    ++i;
  }
}

}  // namespace

void apply_merge_patch(json::value& target, const json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object{};
  json::object& t = target.get_object();
  for (const auto& kv : patch.get_object()) {
    if (kv.value().is_null()) t.erase(kv.key());
    else apply_merge_patch(t[kv.key()], kv.value());
  }
}

void apply_strategic_merge_patch(json::value& target, const json::value& patch) {
  if (!patch.is_object())
    throw api_error(400, "BadRequest", "strategic merge patch must be a JSON object");
  smp_object(target, patch);
}

void apply_json_patch(json::value& target, const json::value& patch) {
  if (!patch.is_array())
    throw api_error(400, "BadRequest", "json patch must be an array of operations");
  for (const auto& opv : patch.get_array()) {
    if (!opv.is_object()) throw api_error(400, "BadRequest", "json patch operation must be an object");
    const json::object& op = opv.get_object();
    std::string_view name = string_at(op, "op");
    auto path = parse_pointer(string_at(op, "path"));
    auto value = [&]() -> json::value {
      auto it = op.find("value");
      if (it == op.end()) throw api_error(400, "BadRequest", "json patch " + std::string(name) + " operation has no value");
      return it->value();
    };
    if (name == "add") {
      jp_add(target, path, value());
    } else if (name == "remove") {
      jp_remove(target, path, name);
    } else if (name == "replace") {
      json::value* at = resolve(target, path, path.size());
      if (!at) invalid("replace operation does not apply: doc is missing key: " + pointer_text(path));
      *at = value();
    } else if (name == "move" || name == "copy") {
      auto from = parse_pointer(string_at(op, "from"));
      json::value v;
      if (name == "move") {
        v = jp_remove(target, from, name);
      } else {
        json::value* at = resolve(target, from, from.size());
        if (!at) invalid("copy operation does not apply: doc is missing from path: " + pointer_text(from));
        v = *at;
      }
      jp_add(target, path, std::move(v));
    } else if (name == "test") {
      json::value* at = resolve(target, path, path.size());
      json::value expected = value();
      if (!at || *at != expected)
        invalid("the server rejected our request due to an error in our request: testing value " +
                pointer_text(path) + " failed");
    } else {
      throw api_error(400, "BadRequest", "unexpected json patch operation \"" + std::string(name) + "\"");
    }
  }
}

json::value server_side_apply(const json::value* live, const json::value& applied,
                              const field_manager_context& ctx, bool force) {
  json::value result = live ? *live : json::value(json::object{});
  std::set<std::string> applied_leaves = owned_fields(applied, ctx);
  json::array& managed = managed_fields_of(result);

  // Conflicts: another manager owns an overlapping field and the applied value differs.
  std::set<std::string> conflicting;
  json::array causes;
  std::string message;
  if (live) {
    for (const auto& ev : managed) {
      if (!ev.is_object()) continue;
      const json::object& e = ev.get_object();
      if (string_at(e, "manager") == ctx.manager || !same_domain(e, ctx)) continue;
      auto it = e.find("fieldsV1");
      if (it == e.end()) continue;
      for (const auto& theirs : leaves_of(it->value())) {
        for (const auto& mine : applied_leaves) {
          if (!overlaps(theirs, mine)) continue;
          const json::value* a = value_at(applied, mine);
          const json::value* l = value_at(*live, mine);
          if (a && l && *a == *l) continue;
          conflicting.insert(theirs);
          std::string who = "conflict with \"" + std::string(string_at(e, "manager")) + "\"";
          if (string_at(e, "operation") == "Update") who += " using " + std::string(string_at(e, "apiVersion"));
          causes.push_back(json::object{{"type", "FieldManagerConflict"}, {"message", who}, {"field", dotted(theirs)}});
          message += "\n* " + who + ": " + dotted(theirs);
        }
      }
    }
  }
  if (!conflicting.empty() && !force) {
    std::size_t n = causes.size();
    std::string text = "Apply failed with " + std::to_string(n) + " conflict" + (n == 1 ? "" : "s") + ":" + message;
    throw api_error(409, "Conflict", text, std::move(causes));
  }

  std::set<std::string> previous;
  for (const auto& ev : managed)
    if (ev.is_object() && string_at(ev.get_object(), "manager") == ctx.manager &&
        string_at(ev.get_object(), "operation") == "Apply" && same_domain(ev.get_object(), ctx))
      previous = leaves_of(ev.get_object().at("fieldsV1"));

  if (force) take_from_others(managed, ctx, "Apply", conflicting);

  for (const auto& leaf : applied_leaves)
    if (const json::value* v = value_at(applied, leaf)) set_at(result, leaf, *v);

  // Fields this manager applied before but dropped now are removed, unless someone else owns them.
  std::set<std::string> others;
  for (const auto& ev : managed)
    if (ev.is_object() && !(string_at(ev.get_object(), "manager") == ctx.manager &&
                            string_at(ev.get_object(), "operation") == "Apply"))
      if (auto it = ev.get_object().find("fieldsV1"); it != ev.get_object().end())
        for (const auto& l : leaves_of(it->value())) others.insert(l);
  for (const auto& leaf : previous) {
    if (applied_leaves.count(leaf) || others.count(leaf)) continue;
    erase_at(result, leaf);
  }

  put_entry(managed_fields_of(result), ctx, "Apply", applied_leaves);
  return result;
}

void record_update(const json::value* before, json::value& after, const field_manager_context& ctx) {
  std::set<std::string> after_leaves = owned_fields(after, ctx);
  std::set<std::string> changed;
  for (const auto& leaf : after_leaves) {
    const json::value* b = before ? value_at(*before, leaf) : nullptr;
    const json::value* a = value_at(after, leaf);
    if (!b || !a || *a != *b) changed.insert(leaf);
  }
  std::set<std::string> removed;
  if (before)
    for (const auto& leaf : owned_fields(*before, ctx))
      if (!after_leaves.count(leaf)) removed.insert(leaf);
  if (changed.empty() && removed.empty()) return;

  json::array& managed = managed_fields_of(after);
  std::set<std::string> taken = changed;
  taken.insert(removed.begin(), removed.end());
  take_from_others(managed, ctx, "Update", taken);

  std::set<std::string> mine;
  for (const auto& ev : managed)
    if (ev.is_object() && string_at(ev.get_object(), "manager") == ctx.manager &&
        string_at(ev.get_object(), "operation") == "Update" && same_domain(ev.get_object(), ctx))
      mine = leaves_of(ev.get_object().at("fieldsV1"));
  for (auto it = mine.begin(); it != mine.end();) {
    bool gone = std::any_of(removed.begin(), removed.end(), [&](const std::string& r) { return overlaps(*it, r); });
    it = gone ? mine.erase(it) : std::next(it);
  }
  mine.insert(changed.begin(), changed.end());
  put_entry(managed, ctx, "Update", mine);
}

}  // namespace chainsd::testserver
