#include "token_file.hpp"

#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace signer_kms {

namespace {

bool read_token(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  out = s.substr(i);
  return !out.empty();
}

}  // namespace

token_file::token_file(std::string path, std::string fixed) : path_(std::move(path)), token_(std::move(fixed)) {
  if (path_.empty()) return;
  stamp_ = stamp();
  if (!read_token(path_, token_)) throw std::runtime_error("cannot read a token from " + path_);
}

std::string token_file::stamp() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return "-";
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
         "." + std::to_string(st.st_mtim.tv_nsec);
}

const std::string& token_file::get(bool* changed) {
  if (changed) *changed = false;
  if (path_.empty()) return token_;
  auto s = stamp();
  if (s == stamp_ || s == "-") return token_;
  std::string t;
  if (read_token(path_, t)) {
    stamp_ = s;
    if (changed) *changed = t != token_;
    token_ = std::move(t);
  }
  return token_;
}

}  // namespace signer_kms
