// CassandraMessageStore: writes (Append, group changes) and message reads; everything else is
// PostgreSQL's answer as is. See cassandra_message_store.h.
#include "storage/cassandra/cassandra_message_store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include <boost/asio/post.hpp>

namespace parley::storage::cassandra {

namespace {

// A seq committed in PostgreSQL whose row is not in Cassandra yet is being written by the node
// that committed it (it writes the row before anyone is told of the message): a read that finds
// such a hole reads again, for at most this long. Past it the row's write has failed (the
// sender was answered with an error; its retry of the same client_msg_id writes the row).
// Without the wait a reader told of seq s (so s-1 is committed) could miss s-1 for good: the
// WebSocket gap fill relies on "s visible ⇒ everything below readable". A row still absent
// after the wait is never passed over: pages end before it, and a read that would start with it
// is kUnavailable.
constexpr int kInFlightWaitMs = 1000;

template <typename Read, typename Complete>
auto ReadWaitingForInFlight(Read read, Complete complete) -> decltype(read()) {
  int waited = 0, pause = 2;
  for (;;) {
    auto r = read();
    if (!r.ok() || complete(*r) || waited >= kInFlightWaitMs) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause));
    waited += pause;
    pause = std::min(pause * 2, 100);
  }
}

// A committed seq whose row is still absent after the wait (its write failed and the sender has
// not retried yet): readers answer this rather than pass the seq, which a client would then mark
// beyond for good.
Error RowNotReadable(std::string_view conversation_id, int64_t seq) {
  return MakeError(ErrorCode::kUnavailable, "message " + std::to_string(seq) + " of conversation " +
                                                std::string(conversation_id) +
                                                " is not readable yet; retry later");
}

}  // namespace

struct CassandraMessageStore::Payload {
  std::string body;
};

CassandraMessageStore::CassandraMessageStore(postgres::PostgresStore& pg, CqlClient& cql,
                                             CassMessagesOptions options, int writer_threads)
    : pg_(pg), cql_(cql), table_(cql, std::move(options)),
      pool_(static_cast<size_t>(std::max(writer_threads, 1))) {
  for (int i = 0; i < 4 * std::max(writer_threads, 1); ++i)
    strands_.push_back(boost::asio::make_strand(pool_.get_executor()));
}

CassandraMessageStore::Strand& CassandraMessageStore::StrandOf(std::string_view conversation_id) {
  return strands_[std::hash<std::string_view>{}(conversation_id) % strands_.size()];
}

CassandraMessageStore::~CassandraMessageStore() { pool_.join(); }

Status CassandraMessageStore::Open() { return table_.Open(); }

void CassandraMessageStore::Append(AppendRequest req, Done<AppendResult> done) {
  Message probe;  // the bounds, checked before PostgreSQL takes a seq
  probe.media_ids.swap(req.media_ids);
  probe.search_tokens.swap(req.search_tokens);
  Status bounds = req.body.size() > table_.options().max_body_bytes
                      ? Status(MakeError(ErrorCode::kPayloadTooLarge, "message body too large"))
                      : table_.CheckBounds(probe);
  probe.media_ids.swap(req.media_ids);
  probe.search_tokens.swap(req.search_tokens);
  if (!bounds.ok()) {
    boost::asio::post(StrandOf(req.conversation_id),
                      [done = std::move(done), e = bounds.error()] { done(e); });
    return;
  }
  auto payload = std::make_shared<Payload>();
  payload->body.swap(req.body);  // PostgreSQL's row keeps no body
  Strand& strand = StrandOf(req.conversation_id);
  pg_.Append(std::move(req), [this, &strand, payload, done = std::move(done)](Result<AppendResult> r) {
    // Runs on PostgreSQL's completion thread in commit order; the strand keeps that order.
    boost::asio::post(strand, [this, payload, done, r = std::move(r),
                               committed = std::chrono::steady_clock::now()]() mutable {
      row_wait_seconds_.ObserveSince(committed);
      done(FinishAppend(*payload, std::move(r)));
    });
  });
}

Result<AppendResult> CassandraMessageStore::FinishAppend(const Payload& p, Result<AppendResult> r) {
  if (!r.ok()) return r.error();
  AppendResult out = std::move(*r);
  Message& m = out.message;
  if (out.duplicate) {
    // The first send may have been committed without its Cassandra row (that write failed and
    // the sender was told so): the row there wins if present, else this retry writes it.
    auto have = table_.Read(m.conversation_id, m.seq);
    if (!have.ok()) return have.error();
    if (*have) {
      m = std::move(**have);
      return out;
    }
    // That first send was answered with an error and never announced: this retry completes
    // it, so it is the first answer (201) and the message is published to its members.
    auto members = pg_.ActiveMembers(m.conversation_id);
    if (!members.ok()) return members.error();
    out.member_ids = std::move(*members);
    out.duplicate = false;
  }
  m.body = p.body;
  const auto started = std::chrono::steady_clock::now();
  Status written = table_.Write(m);
  row_write_seconds_.ObserveSince(started);
  if (!written.ok()) return written.error();
  return out;
}

Result<GroupChange> CassandraMessageStore::FinishGroup(Result<GroupChange> r) {
  if (!r.ok()) return r.error();
  for (const auto& m : r->system_messages) PARLEY_TRY(table_.Write(m));
  return r;
}

void CassandraMessageStore::CreateGroup(NewGroup group, Done<GroupChange> done) {
  Strand& strand = StrandOf(group.conversation_id);
  pg_.CreateGroup(std::move(group), [this, &strand, done = std::move(done)](Result<GroupChange> r) {
    boost::asio::post(strand, [this, done, r = std::move(r)]() mutable {
      done(FinishGroup(std::move(r)));
    });
  });
}

void CassandraMessageStore::EditGroup(std::string group_id, GroupPlanner plan,
                                      Done<GroupChange> done) {
  pg_.EditGroup(std::move(group_id), std::move(plan),
                [this, done = std::move(done)](Result<GroupChange> r) {
                  Strand& strand = StrandOf(r.ok() ? r->group.conversation_id : "");
                  boost::asio::post(strand, [this, done, r = std::move(r)]() mutable {
                    done(FinishGroup(std::move(r)));
                  });
                });
}

Result<std::pair<std::vector<Message>, bool>> CassandraMessageStore::History(
    std::string_view conversation_id, int64_t min_seq, int64_t max_seq, int64_t after_seq,
    int64_t before_seq, bool ascending, int limit) {
  std::pair<std::vector<Message>, bool> out{{}, false};
  int64_t lo = std::max<int64_t>({min_seq, after_seq == INT64_MAX ? INT64_MAX : after_seq + 1, 1});
  int64_t hi = std::min(max_seq, before_seq == INT64_MIN ? INT64_MIN : before_seq - 1);
  if (lo > hi || limit <= 0) return out;
  auto conv = pg_.GetConversation(conversation_id);
  if (!conv.ok()) {
    if (conv.error().code == ErrorCode::kNotFound) return out;
    return conv.error();
  }
  hi = std::min(hi, conv->last_seq);  // seqs are gapless: nothing lies above last_seq
  limit = std::min(limit, table_.options().max_page - 1);
  // Seqs are gapless: the answer is lo, lo+1, … (or hi, hi-1, …) for as many as asked.
  const int64_t want = std::min<int64_t>(limit + 1, hi - lo + 1);
  auto rows = ReadWaitingForInFlight(
      [&] { return table_.Range(std::string(conversation_id), lo, hi, ascending, limit + 1); },
      [&](const std::vector<Message>& got) {
        if (static_cast<int64_t>(got.size()) < want) return false;
        for (size_t k = 0; k < got.size(); ++k)
          if (got[k].seq != (ascending ? lo + static_cast<int64_t>(k) : hi - static_cast<int64_t>(k)))
            return false;
        return true;
      });
  if (!rows.ok()) return rows.error();
  // Still a hole after the wait: the page ends before it (has_more), so a reader paging on
  // never passes the seq; a page that would start with it is kUnavailable.
  int64_t run = 0;
  while (run < static_cast<int64_t>(rows->size()) &&
         (*rows)[run].seq == (ascending ? lo + run : hi - run))
    ++run;
  if (run < want) {
    if (run == 0) return RowNotReadable(conversation_id, ascending ? lo : hi);
    rows->resize(run);
    out.second = true;
  } else {
    out.second = static_cast<int>(rows->size()) > limit;
  }
  if (static_cast<int>(rows->size()) > limit) rows->resize(limit);
  out.first = std::move(*rows);
  return out;
}

Result<Message> CassandraMessageStore::GetMessage(std::string_view message_id) {
  auto slim = pg_.GetMessage(message_id);
  if (!slim.ok()) return slim.error();
  auto row = ReadWaitingForInFlight([&] { return table_.Read(slim->conversation_id, slim->seq); },
                                    [](const auto& got) { return got.has_value(); });
  if (!row.ok()) return row.error();
  if (!*row) return RowNotReadable(slim->conversation_id, slim->seq);
  return std::move(**row);
}

Result<std::vector<Message>> CassandraMessageStore::Hydrate(const std::vector<Message>& slim,
                                                            bool* cut) {
  *cut = false;
  std::vector<Message> out;
  out.reserve(slim.size());
  size_t i = 0;
  while (i < slim.size()) {
    // A run of one conversation, seq ascending (Pending's grouping).
    size_t j = i + 1;
    while (j < slim.size() && slim[j].conversation_id == slim[i].conversation_id &&
           slim[j].seq > slim[j - 1].seq)
      ++j;
    const int64_t first = slim[i].seq, last = slim[j - 1].seq;
    const int64_t span = last - first + 1, count = static_cast<int64_t>(j - i);
    if (span <= table_.options().max_page && span <= 4 * count) {
      // Mostly contiguous: one range read per bucket.
      std::map<int64_t, Message*> by_seq;
      auto rows = ReadWaitingForInFlight(
          [&] {
            return table_.Range(slim[i].conversation_id, first, last, true, static_cast<int>(span));
          },
          [&](std::vector<Message>& got) {
            by_seq.clear();
            for (auto& m : got) by_seq[m.seq] = &m;
            for (size_t k = i; k < j; ++k)
              if (!by_seq.count(slim[k].seq)) return false;
            return true;
          });
      if (!rows.ok()) return rows.error();
      by_seq.clear();
      for (auto& m : *rows) by_seq[m.seq] = &m;
      for (size_t k = i; k < j; ++k) {
        auto it = by_seq.find(slim[k].seq);
        if (it == by_seq.end()) {
          *cut = true;  // the run ends before its hole
          break;
        }
        out.push_back(std::move(*it->second));
      }
    } else {
      for (size_t k = i; k < j; ++k) {
        auto row = ReadWaitingForInFlight(
            [&] { return table_.Read(slim[k].conversation_id, slim[k].seq); },
            [](const auto& got) { return got.has_value(); });
        if (!row.ok()) return row.error();
        if (!*row) {
          *cut = true;
          break;
        }
        out.push_back(std::move(**row));
      }
    }
    i = j;
  }
  return out;
}

Result<PendingPage> CassandraMessageStore::Pending(std::string_view user_id,
                                                   std::string_view device_id, int limit,
                                                   const SeqFloors& floors,
                                                   int64_t to_device_after) {
  limit = std::min(limit, table_.options().max_page);
  auto page = pg_.Pending(user_id, device_id, limit, floors, to_device_after);
  if (!page.ok()) return page.error();
  bool cut = false;
  auto rows = Hydrate(page->messages, &cut);
  if (!rows.ok()) return rows.error();
  if (cut) {
    // A conversation stopped before a seq whose row is missing. The device gets what lies before
    // it and asks again (has_more); with nothing before any hole it must wait: kUnavailable,
    // rather than an empty page a replay would take as the end.
    if (rows->empty()) {  // every run stopped at its first message
      return RowNotReadable(page->messages.front().conversation_id, page->messages.front().seq);
    }
    page->has_more = true;
  }
  page->messages = std::move(*rows);
  return page;
}

Result<std::vector<ConversationSummary>> CassandraMessageStore::ListConversations(
    std::string_view user_id, int limit) {
  auto list = pg_.ListConversations(user_id, limit);
  if (!list.ok()) return list.error();
  for (auto& s : *list) {
    if (!s.last_message) continue;
    auto row = table_.Read(s.last_message->conversation_id, s.last_message->seq);
    if (!row.ok()) return row.error();
    s.last_message = std::move(*row);
  }
  return list;
}

Status CassandraMessageStore::Ping() {
  PARLEY_TRY(pg_.Ping());
  return cql_.Ping();
}

// --- PostgreSQL's answers as they are ---

Result<Conversation> CassandraMessageStore::GetConversation(std::string_view id) {
  return pg_.GetConversation(id);
}
Result<Membership> CassandraMessageStore::GetMembership(std::string_view conversation_id,
                                                        std::string_view user_id) {
  return pg_.GetMembership(conversation_id, user_id);
}
void CassandraMessageStore::MarkReceipt(std::string user_id, std::string device_id,
                                        std::string conversation_id, int64_t up_to_seq, bool read,
                                        int64_t now, Done<ReceiptChange> done) {
  pg_.MarkReceipt(std::move(user_id), std::move(device_id), std::move(conversation_id), up_to_seq,
                  read, now, std::move(done));
}
Result<MessageStatus> CassandraMessageStore::GetMessageStatus(std::string_view message_id) {
  return pg_.GetMessageStatus(message_id);
}
void CassandraMessageStore::EnqueueToDevice(std::vector<ToDeviceMessage> messages,
                                            ToDeviceCap cap,
                                            Done<std::vector<ToDeviceMessage>> done) {
  pg_.EnqueueToDevice(std::move(messages), cap, std::move(done));
}
void CassandraMessageStore::AckToDevice(std::string device_id, int64_t up_to_id, Done<Unit> done) {
  pg_.AckToDevice(std::move(device_id), up_to_id, std::move(done));
}
Result<int64_t> CassandraMessageStore::DeviceCursor(std::string_view device_id,
                                                    std::string_view conversation_id) {
  return pg_.DeviceCursor(device_id, conversation_id);
}
Result<std::vector<std::string>> CassandraMessageStore::ActiveMembers(std::string_view id) {
  return pg_.ActiveMembers(id);
}
Result<bool> CassandraMessageStore::CanSeeMedia(std::string_view user_id,
                                                std::string_view media_id) {
  return pg_.CanSeeMedia(user_id, media_id);
}
Result<std::vector<std::string>> CassandraMessageStore::Contacts(std::string_view user_id) {
  return pg_.Contacts(user_id);
}
Result<bool> CassandraMessageStore::SharesConversation(std::string_view a, std::string_view b) {
  return pg_.SharesConversation(a, b);
}
Result<std::vector<Membership>> CassandraMessageStore::Memberships(std::string_view user_id) {
  return pg_.Memberships(user_id);
}
Result<std::vector<Conversation>> CassandraMessageStore::ScanConversations(
    std::string_view after_id, int limit) {
  return pg_.ScanConversations(after_id, limit);
}
Result<Group> CassandraMessageStore::GetGroup(std::string_view group_id) {
  return pg_.GetGroup(group_id);
}

}  // namespace parley::storage::cassandra
