#include "storage/s3/s3_blob_store.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/log.h"
#include "storage/s3/sigv4.h"

namespace parley::storage::s3 {

struct S3BlobStore::Call {
  std::string op;      // for messages: "PUT object"
  std::string method;  // HTTP method
  std::string key;     // "" = the bucket itself
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // signed too
  std::string body;
  size_t body_limit = 1 << 20;
};

namespace {

constexpr uint64_t kMinPartSize = 5ull << 20;   // S3's minimum (all parts but the last)
constexpr uint64_t kMaxPartSize = 5ull << 30;   // and maximum
constexpr int kMaxParts = 10000;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The text of the first <tag>…</tag> in `xml` at or after `from`, or "" (S3's answers are small
// and flat enough that this is all the XML we need).
std::string XmlText(std::string_view xml, std::string_view tag, size_t from = 0) {
  std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  size_t a = xml.find(open, from);
  if (a == std::string_view::npos) return {};
  a += open.size();
  size_t b = xml.find(close, a);
  if (b == std::string_view::npos) return {};
  return std::string(xml.substr(a, b - a));
}

Error Failed(const std::string& op, const HttpResponse& r) {
  std::string code = XmlText(r.body, "Code");
  std::string msg = "object store: " + op + ": HTTP " + std::to_string(r.status);
  if (!code.empty() && code.size() < 64) msg += " " + code;
  return MakeError(ErrorCode::kUnavailable, msg);
}

Error BadKey() { return MakeError(ErrorCode::kInvalidArgument, "malformed blob key"); }

class S3Writer final : public BlobWriter {
 public:
  S3Writer(S3BlobStore& store, std::string key, uint64_t part_size)
      : store_(store), key_(std::move(key)), part_size_(part_size) {}
  ~S3Writer() override {
    if (!committed_) Abort();
  }

  Status Append(std::span<const char> bytes) override {
    if (closed_) return MakeError(ErrorCode::kInternal, "blob writer already closed");
    buffer_.append(bytes.data(), bytes.size());
    size_ += bytes.size();
    // Strictly more than a part: a blob of exactly one part stays a single PUT.
    while (buffer_.size() > part_size_) {
      if (Status st = UploadPart(buffer_.substr(0, part_size_)); !st.ok()) return Fail(st);
      buffer_.erase(0, part_size_);
    }
    return OkStatus();
  }

  Status Commit() override {
    if (closed_) return MakeError(ErrorCode::kInternal, "blob writer already closed");
    closed_ = true;
    if (upload_id_.empty()) {
      S3BlobStore::Call put{"PUT object", "PUT", key_, {}, {}, std::move(buffer_)};
      buffer_.clear();
      auto r = store_.Send(std::move(put));
      if (!r.ok()) return r.error();
      if (r->status != 200) return Failed("PUT object", *r);
      committed_ = true;
      return OkStatus();
    }
    if (!buffer_.empty()) {
      if (Status st = UploadPart(std::move(buffer_)); !st.ok()) return Fail(st);
      buffer_.clear();
    }
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags_.size(); ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags_[i] +
             "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    S3BlobStore::Call done{"CompleteMultipartUpload", "POST", key_, {{"uploadId", upload_id_}},
                           {{"content-type", "application/xml"}}, std::move(xml)};
    auto r = store_.Send(std::move(done));
    if (!r.ok()) return Fail(r.error());
    // S3 may answer 200 and report the failure in the body.
    if (r->status != 200 || r->body.find("<Error>") != std::string::npos)
      return Fail(Failed("CompleteMultipartUpload", *r));
    committed_ = true;
    upload_id_.clear();
    return OkStatus();
  }

 private:
  Status UploadPart(std::string part) {
    if (upload_id_.empty()) {
      auto r = store_.Send({"CreateMultipartUpload", "POST", key_, {{"uploads", ""}}, {}, {}});
      if (!r.ok()) return r.error();
      if (r->status != 200) return Failed("CreateMultipartUpload", *r);
      upload_id_ = XmlText(r->body, "UploadId");
      if (upload_id_.empty())
        return MakeError(ErrorCode::kUnavailable, "object store: CreateMultipartUpload: no UploadId");
    }
    if (etags_.size() >= static_cast<size_t>(kMaxParts))
      return MakeError(ErrorCode::kUnavailable, "object store: blob exceeds 10000 parts");
    std::string number = std::to_string(etags_.size() + 1);
    auto r = store_.Send({"UploadPart", "PUT", key_, {{"partNumber", number}, {"uploadId", upload_id_}},
                          {}, std::move(part)});
    if (!r.ok()) return r.error();
    if (r->status != 200) return Failed("UploadPart", *r);
    std::string etag = r->Header("etag");
    if (etag.empty()) return MakeError(ErrorCode::kUnavailable, "object store: UploadPart: no ETag");
    etags_.push_back(std::move(etag));
    return OkStatus();
  }

  Status Fail(Status st) {
    closed_ = true;
    buffer_.clear();
    Abort();
    return st;
  }

  // Best effort: an upload that cannot be aborted now is left to the bucket's lifecycle rule.
  void Abort() {
    if (upload_id_.empty()) return;
    auto r = store_.Send({"AbortMultipartUpload", "DELETE", key_, {{"uploadId", upload_id_}}, {}, {}});
    if (!r.ok() || (r->status != 204 && r->status != 200 && r->status != 404)) {
      LogWarn("cannot abort a multipart upload",
              {{"key", key_}, {"error", r.ok() ? Failed("AbortMultipartUpload", *r).message
                                               : r.error().message}});
    }
    upload_id_.clear();
  }

  S3BlobStore& store_;
  const std::string key_;
  const uint64_t part_size_;
  std::string buffer_;
  std::string upload_id_;            // "" until the first part is sent
  std::vector<std::string> etags_;   // of parts 1..n
  bool closed_ = false;
  bool committed_ = false;
};

class S3Reader final : public BlobReader {
 public:
  S3Reader(S3BlobStore& store, std::string key, uint64_t size, std::string etag)
      : store_(store), key_(std::move(key)), size_(size), etag_(std::move(etag)) {}

  uint64_t size() const override { return size_; }

  Result<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    if (out.empty() || offset >= size_) return size_t{0};
    uint64_t n = std::min<uint64_t>(out.size(), size_ - offset);
    S3BlobStore::Call get{"GET object", "GET", key_, {}, {}, {}};
    get.headers.emplace_back("range", "bytes=" + std::to_string(offset) + "-" +
                                          std::to_string(offset + n - 1));
    if (!etag_.empty()) get.headers.emplace_back("if-match", etag_);
    get.body_limit = static_cast<size_t>(n) + 4096;
    if (get.body_limit < (1u << 20)) get.body_limit = 1u << 20;  // room for an error document
    auto r = store_.Send(std::move(get));
    if (!r.ok()) return r.error();
    std::string_view body = r->body;
    if (r->status == 200) {  // the whole object: the server ignored Range
      body = offset < body.size() ? body.substr(offset) : std::string_view();
    } else if (r->status == 412) {
      return MakeError(ErrorCode::kUnavailable, "object store: the blob was replaced while read");
    } else if (r->status != 206) {
      return Failed("GET object", *r);
    }
    size_t got = std::min<size_t>(body.size(), static_cast<size_t>(n));
    std::memcpy(out.data(), body.data(), got);
    return got;
  }

 private:
  S3BlobStore& store_;
  const std::string key_;
  const uint64_t size_;
  const std::string etag_;
};

}  // namespace

S3BlobStore::S3BlobStore(S3Options options)
    : options_(std::move(options)),
      http_(std::make_unique<HttpClient>(options_.url.host, options_.url.port, options_.http)) {
  if (sodium_init() < 0) LogError("sodium_init failed", {});
}

S3BlobStore::~S3BlobStore() = default;

Status S3BlobStore::Open() {
  if (options_.part_size < kMinPartSize || options_.part_size > kMaxPartSize)
    return MakeError(ErrorCode::kInvalidArgument, "S3 part size must be 5 MiB - 5 GiB");
  return Ping();
}

Result<HttpResponse> S3BlobStore::Send(Call call) {
  const S3Url& u = options_.url;
  std::string path = "/" + u.bucket + (call.key.empty() ? "" : "/" + call.key);
  std::string amz_date = AmzDate(NowSeconds());
  auto payload = call.body.empty() ? Result<std::string>(std::string(kEmptyPayloadSha256))
                                   : Sha256Hex(call.body);
  if (!payload.ok()) return payload.error();

  SignableRequest sreq;
  sreq.method = call.method;
  sreq.path = path;
  sreq.query = call.query;
  sreq.headers = call.headers;
  sreq.headers.emplace_back("host", u.authority());
  sreq.headers.emplace_back("x-amz-date", amz_date);
  sreq.headers.emplace_back("x-amz-content-sha256", *payload);
  sreq.payload_sha256 = *payload;
  auto auth = AuthorizationHeader(u.credentials, sreq, amz_date, "s3");
  if (!auth.ok()) return auth.error();

  HttpRequest req;
  req.method = call.method;
  req.target = UriEncode(path, true);
  if (!call.query.empty()) req.target += "?" + CanonicalQueryString(call.query);
  req.headers = std::move(call.headers);
  req.headers.emplace_back("x-amz-date", amz_date);
  req.headers.emplace_back("x-amz-content-sha256", *payload);
  req.headers.emplace_back("authorization", std::move(*auth));
  req.body = std::move(call.body);
  auto r = http_->Send(req, call.body_limit);
  if (!r.ok()) return MakeError(r.error().code, call.op + ": " + r.error().message);
  if (r->status >= 500) return Failed(call.op, *r);
  if (r->status == 403) {
    std::string code = XmlText(r->body, "Code").substr(0, 64);  // a HEAD answer has no body
    return MakeError(ErrorCode::kUnavailable,
                     "object store: " + call.op + ": access denied" +
                         (code.empty() ? "" : " (" + code + ")") +
                         "; check the credentials and the clock");
  }
  return r;
}

Result<std::unique_ptr<BlobWriter>> S3BlobStore::Create(std::string_view key) {
  if (!IsValidBlobKey(key)) return BadKey();
  return std::unique_ptr<BlobWriter>(
      std::make_unique<S3Writer>(*this, std::string(key), options_.part_size));
}

Result<std::unique_ptr<BlobReader>> S3BlobStore::Open(std::string_view key) {
  if (!IsValidBlobKey(key)) return BadKey();
  auto r = Send({"HEAD object", "HEAD", std::string(key), {}, {}, {}});
  if (!r.ok()) return r.error();
  if (r->status == 404) return MakeError(ErrorCode::kNotFound, "no such blob");
  if (r->status != 200) return Failed("HEAD object", *r);
  std::string len = r->Header("content-length");
  uint64_t size = 0;
  if (len.empty() || len.find_first_not_of("0123456789") != std::string::npos)
    return MakeError(ErrorCode::kUnavailable, "object store: HEAD object: no Content-Length");
  size = std::stoull(len);
  return std::unique_ptr<BlobReader>(
      std::make_unique<S3Reader>(*this, std::string(key), size, r->Header("etag")));
}

Status S3BlobStore::Remove(std::string_view key) {
  if (!IsValidBlobKey(key)) return BadKey();
  auto r = Send({"DELETE object", "DELETE", std::string(key), {}, {}, {}});
  if (!r.ok()) return r.error();
  if (r->status == 204 || r->status == 200 || r->status == 404) return OkStatus();
  return Failed("DELETE object", *r);
}

Status S3BlobStore::Ping() {
  auto r = Send({"HEAD bucket", "HEAD", "", {}, {}, {}});
  if (!r.ok()) return r.error();
  if (r->status == 200) return OkStatus();
  if (r->status == 404)
    return MakeError(ErrorCode::kUnavailable,
                     "object store: bucket " + options_.url.bucket + " does not exist");
  return Failed("HEAD bucket", *r);
}

Result<std::string> S3BlobStore::PresignGet(std::string_view key, int64_t expires_s) const {
  return PresignGetAt(key, expires_s, NowSeconds());
}

Result<std::string> S3BlobStore::PresignGetAt(std::string_view key, int64_t expires_s,
                                              int64_t now_s) const {
  if (!IsValidBlobKey(key)) return BadKey();
  const S3Url& u = options_.url;
  return PresignGetUrl(u.credentials, "http://" + u.authority(), u.authority(),
                       "/" + u.bucket + "/" + std::string(key), AmzDate(now_s), expires_s);
}

Result<std::vector<std::string>> S3BlobStore::MultipartUploads(std::string_view key) {
  if (!IsValidBlobKey(key)) return BadKey();
  auto r = Send({"ListMultipartUploads", "GET", "", {{"uploads", ""}, {"prefix", std::string(key)}},
                 {}, {}, 4u << 20});
  if (!r.ok()) return r.error();
  if (r->status != 200) return Failed("ListMultipartUploads", *r);
  std::vector<std::string> ids;
  for (size_t at = r->body.find("<Upload>"); at != std::string::npos;
       at = r->body.find("<Upload>", at + 1)) {
    size_t end = r->body.find("</Upload>", at);
    std::string_view upload = std::string_view(r->body).substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (XmlText(upload, "Key") == key) ids.push_back(XmlText(upload, "UploadId"));
  }
  return ids;
}

}  // namespace parley::storage::s3
