// A tiny ordered JSON tree and writer for the protocol test vectors (tests/vectors/*.json).
// Output matches Python's json.dumps(value, indent=2) for the value kinds used here, so the files
// are stable byte for byte. Test-only helper; not a general JSON library.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace parley::sdk::crypto {

class Json {
 public:
  static Json Str(std::string s) { Json j; j.kind_ = kStr; j.str_ = std::move(s); return j; }
  static Json Num(int64_t n) { Json j; j.kind_ = kNum; j.num_ = n; return j; }
  static Json Bool(bool b) { Json j; j.kind_ = kBool; j.num_ = b; return j; }
  static Json Obj() { Json j; j.kind_ = kObj; return j; }
  static Json Arr() { Json j; j.kind_ = kArr; return j; }
  Json& Set(std::string key, Json v) { obj_.emplace_back(std::move(key), std::move(v)); return *this; }
  Json& Set(std::string key, std::string v) { return Set(std::move(key), Str(std::move(v))); }
  Json& Set(std::string key, const char* v) { return Set(std::move(key), Str(v)); }
  Json& Set(std::string key, int64_t v) { return Set(std::move(key), Num(v)); }
  Json& Push(Json v) { arr_.push_back(std::move(v)); return *this; }
  std::string Dump() const { std::string out; Write(out, 0); out.push_back('\n'); return out; }

 private:
  enum Kind { kStr, kNum, kBool, kObj, kArr };
  static void Quote(std::string& out, const std::string& s) {
    out.push_back('"');
    for (char c : s) {
      if (c == '"' || c == '\\') { out.push_back('\\'); out.push_back(c); }
      else if (c == '\n') out += "\\n";
      else out.push_back(c);  // the vectors hold ASCII only (bytes go as hex)
    }
    out.push_back('"');
  }
  void Write(std::string& out, int indent) const {
    std::string pad(static_cast<size_t>(indent + 2), ' '), end(static_cast<size_t>(indent), ' ');
    switch (kind_) {
      case kStr: Quote(out, str_); break;
      case kNum: out += std::to_string(num_); break;
      case kBool: out += num_ ? "true" : "false"; break;
      case kObj:
        if (obj_.empty()) { out += "{}"; break; }
        out += "{\n";
        for (size_t i = 0; i < obj_.size(); ++i) {
          out += pad;
          Quote(out, obj_[i].first);
          out += ": ";
          obj_[i].second.Write(out, indent + 2);
          out += i + 1 < obj_.size() ? ",\n" : "\n";
        }
        out += end + "}";
        break;
      case kArr:
        if (arr_.empty()) { out += "[]"; break; }
        out += "[\n";
        for (size_t i = 0; i < arr_.size(); ++i) {
          out += pad;
          arr_[i].Write(out, indent + 2);
          out += i + 1 < arr_.size() ? ",\n" : "\n";
        }
        out += end + "]";
        break;
    }
  }
  Kind kind_ = kObj;
  std::string str_;
  int64_t num_ = 0;
  std::vector<std::pair<std::string, Json>> obj_;
  std::vector<Json> arr_;
};

}  // namespace parley::sdk::crypto
