// PgConn and PgResult over libpq. See pg_conn.h for the contract.
#include "storage/postgres/pg_conn.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>

namespace parley::storage::postgres {
namespace {

constexpr std::string_view kRetryMarker = "(retryable)";

// The first words of a statement, to name it in an error without its parameters.
std::string StatementHead(std::string_view sql) {
  constexpr size_t kMax = 60;
  std::string head(sql.substr(0, kMax));
  for (char& ch : head) {
    if (ch == '\n' || ch == '\t') ch = ' ';
  }
  if (sql.size() > kMax) head += "...";
  return head;
}

std::string ServerMessage(pg_conn* c, PGresult* r) {
  const char* m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (!m && c) m = PQerrorMessage(c);
  std::string out = m ? m : "unknown error";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

PgParam Bytea(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char ch : bytes) {
    out.push_back(kHex[ch >> 4]);
    out.push_back(kHex[ch & 0xf]);
  }
  return out;
}

bool IsRetryable(const Error& e) {
  return e.code == ErrorCode::kUnavailable && e.message.find(kRetryMarker) != std::string::npos;
}

// --- PgResult ---

PgResult::PgResult(pg_result* r) : r_(r) {}
PgResult::PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
PgResult::~PgResult() {
  if (r_) PQclear(r_);
}

int PgResult::rows() const { return r_ ? PQntuples(r_) : 0; }

bool PgResult::null(int row, int col) const {
  if (!r_ || row >= PQntuples(r_) || col >= PQnfields(r_)) return true;
  return PQgetisnull(r_, row, col) != 0;
}

std::string PgResult::str(int row, int col) const {
  if (null(row, col)) return "";
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}

std::optional<std::string> PgResult::opt(int row, int col) const {
  if (null(row, col)) return std::nullopt;
  return str(row, col);
}

int64_t PgResult::i64(int row, int col) const {
  if (null(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}

bool PgResult::boolean(int row, int col) const {
  if (null(row, col)) return false;
  return PQgetvalue(r_, row, col)[0] == 't';
}

std::string PgResult::bytes(int row, int col) const {
  if (null(row, col)) return "";
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
  if (!raw) return "";
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

int64_t PgResult::affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_);
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

// --- PgConn ---

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& url) {
  pg_conn* c = PQconnectdb(url.c_str());
  if (!c) return MakeError(ErrorCode::kUnavailable, "postgres: out of memory connecting");
  if (PQstatus(c) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    std::string msg = "postgres: cannot connect: " + ServerMessage(c, nullptr);
    PQfinish(c);
    return MakeError(ErrorCode::kUnavailable, msg);
  }
  // Quiet NOTICEs (e.g. "relation already exists, skipping") instead of printing to stderr.
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConn>(new PgConn(c));
}

PgConn::~PgConn() {
  if (c_) PQfinish(c_);
}

bool PgConn::healthy() const { return c_ && PQstatus(c_) == CONNECTION_OK; }

Error PgConn::MapError(PGresult* r, std::string_view sql) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state ? state : "";
  // Data exceptions (class 22) quote the offending value: keep it out of the message.
  std::string server = last_sqlstate_.rfind("22", 0) == 0 ? "invalid value" : ServerMessage(c_, r);
  std::string msg = "postgres: " + StatementHead(sql) + ": " + server;
  if (!last_sqlstate_.empty()) msg += " [" + last_sqlstate_ + "]";
  if (last_sqlstate_ == "23505") return MakeError(ErrorCode::kConflict, msg);
  // Text that is not valid in the database encoding: bad input, not a broken store.
  if (last_sqlstate_ == "22021") return MakeError(ErrorCode::kInvalidArgument, msg);
  if (last_sqlstate_ == "40001" || last_sqlstate_ == "40P01") {
    saw_retryable_ = true;
    return MakeError(ErrorCode::kUnavailable, msg + " " + std::string(kRetryMarker));
  }
  // Class 08 (connection exception), 57P0x (shutdown), or no SQLSTATE with the link down.
  if (!healthy() || last_sqlstate_.rfind("08", 0) == 0 || last_sqlstate_.rfind("57P0", 0) == 0 ||
      last_sqlstate_ == "53300") {
    if (last_sqlstate_.empty()) last_sqlstate_ = "08006";
    return MakeError(ErrorCode::kUnavailable, msg);
  }
  return MakeError(ErrorCode::kInternal, msg);
}

Result<PgResult> PgConn::Exec(std::string_view sql, const std::vector<PgParam>& params) {
  return ExecOnce(sql, params, /*may_replan=*/true);
}

Result<PgResult> PgConn::ExecOnce(std::string_view sql, const std::vector<PgParam>& params,
                                  bool may_replan) {
  if (!c_) return MakeError(ErrorCode::kUnavailable, "postgres: not connected");
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = "p";
    name += std::to_string(++statements_made_);
    ++round_trips_;
    PGresult* pr = PQprepare(c_, name.c_str(), key.c_str(), 0, nullptr);
    if (!pr || PQresultStatus(pr) != PGRES_COMMAND_OK) {
      Error e = MapError(pr, sql);
      if (pr) PQclear(pr);
      return e;
    }
    PQclear(pr);
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    // Text parameters end at a NUL; refuse rather than store a silently truncated value.
    if (p && p->find('\0') != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "postgres: text value contains a NUL byte");
    }
    values.push_back(p ? p->c_str() : nullptr);
  }
  ++round_trips_;
  PGresult* r = PQexecPrepared(c_, it->second.c_str(), static_cast<int>(values.size()),
                               values.data(), nullptr, nullptr, 0);
  if (!r) return MapError(nullptr, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Error e = MapError(r, sql);
    PQclear(r);
    // Another node migrated a table this statement reads ("cached plan must not change result
    // type"): forget the statement so the next call prepares it afresh. Outside a transaction
    // it is safe to do so now and run it once more.
    if (may_replan && last_sqlstate_ == "0A000" &&
        e.message.find("cached plan") != std::string::npos) {
      std::string name = it->second;
      prepared_.erase(it);
      std::string deallocate = "DEALLOCATE ";
      deallocate += name;
      PGresult* d = PQexec(c_, deallocate.c_str());
      if (d) PQclear(d);
      if (PQtransactionStatus(c_) == PQTRANS_IDLE) return ExecOnce(sql, params, false);
    }
    return e;
  }
  last_sqlstate_.clear();
  return PgResult(r);
}

Status PgConn::Run(std::string_view sql) {
  if (!c_) return MakeError(ErrorCode::kUnavailable, "postgres: not connected");
  std::string text(sql);
  ++round_trips_;
  PGresult* r = PQexec(c_, text.c_str());
  if (!r) return MapError(nullptr, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
    Error e = MapError(r, sql);
    PQclear(r);
    return e;
  }
  PQclear(r);
  last_sqlstate_.clear();
  return OkStatus();
}

Status PgConn::BeginPipeline() {
  if (!c_) return MakeError(ErrorCode::kUnavailable, "postgres: not connected");
  if (PQenterPipelineMode(c_) != 1) return MapError(nullptr, "pipeline");
  pipeline_.clear();
  return OkStatus();
}

void PgConn::SendPipelined(std::string_view sql, const std::vector<PgParam>& params,
                           std::function<void(Result<PgResult>)> on_answer) {
  Pending p;
  p.sql = std::string(sql);
  p.on_answer = std::move(on_answer);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& v : params) {
    if (v && v->find('\0') != std::string::npos) {
      p.not_sent = MakeError(ErrorCode::kInvalidArgument, "postgres: text value contains a NUL byte");
      pipeline_.push_back(std::move(p));
      return;
    }
    values.push_back(v ? v->c_str() : nullptr);
  }
  auto it = prepared_.find(p.sql);
  std::string name;
  if (it == prepared_.end()) {
    name = "p" + std::to_string(++statements_made_);
    if (PQsendPrepare(c_, name.c_str(), p.sql.c_str(), 0, nullptr) != 1) {
      p.not_sent = MapError(nullptr, sql);
      pipeline_.push_back(std::move(p));
      return;
    }
    p.prepare = name;
    prepared_.emplace(p.sql, name);  // forgotten again if the prepare fails
  } else {
    name = it->second;
  }
  if (PQsendQueryPrepared(c_, name.c_str(), static_cast<int>(values.size()), values.data(),
                          nullptr, nullptr, 0) != 1) {
    p.not_sent = MapError(nullptr, sql);
  }
  pipeline_.push_back(std::move(p));
}

// One command's answer: its result, then the NULL that ends it.
Result<PgResult> PgConn::ReadPipelined(const Pending& p) {
  PGresult* r = PQgetResult(c_);
  if (!r) return MapError(nullptr, p.sql);
  PgResult owned(r);
  while (PGresult* extra = PQgetResult(c_)) PQclear(extra);  // up to the NULL
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_PIPELINE_ABORTED) {
    return MakeError(ErrorCode::kUnavailable,
                     "postgres: " + p.sql.substr(0, 60) + ": pipeline aborted by an earlier statement");
  }
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return MapError(r, p.sql);
  return owned;
}

Status PgConn::FinishPipeline() {
  std::vector<Pending> sent;
  sent.swap(pipeline_);
  ++round_trips_;
  bool link_ok = PQpipelineSync(c_) == 1;
  for (auto& p : sent) {
    if (p.not_sent || !link_ok) {
      p.on_answer(p.not_sent ? *p.not_sent : MapError(nullptr, p.sql));
      if (!p.prepare.empty()) prepared_.erase(p.sql);
      continue;
    }
    if (!p.prepare.empty()) {
      auto prepared = ReadPipelined(p);
      if (!prepared.ok()) {
        prepared_.erase(p.sql);
        // The query after it is answered too (aborted, or failing on the missing statement).
        auto query = ReadPipelined(p);
        (void)query;
        p.on_answer(prepared.error());
        continue;
      }
    }
    auto answer = ReadPipelined(p);
    if (answer.ok()) last_sqlstate_.clear();
    p.on_answer(std::move(answer));
  }
  bool clean = link_ok;
  if (clean) {
    // The sync's own answer, then back to normal mode.
    PGresult* sync = PQgetResult(c_);
    clean = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    if (sync) PQclear(sync);
    clean = clean && PQexitPipelineMode(c_) == 1;
  }
  if (!clean) {
    // The connection's state is unknown: drop it (healthy() turns false; the owner reconnects).
    PQfinish(c_);
    c_ = nullptr;
    prepared_.clear();
    return MakeError(ErrorCode::kUnavailable, "postgres: pipeline did not end cleanly");
  }
  return OkStatus();
}

bool PgConn::in_failed_transaction() const {
  return c_ && PQtransactionStatus(c_) == PQTRANS_INERROR;
}

PgParam TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace parley::storage::postgres
