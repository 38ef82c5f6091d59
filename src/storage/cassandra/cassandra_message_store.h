// CassandraMessageStore: the scale-out profile's MessageStore (and GroupStore) — PostgreSQL for
// everything transactional, Cassandra for message rows (DESIGN.md "Deployment profiles").
//
// A decorator over a PostgresStore. PostgreSQL keeps seq allocation, idempotency by
// (sender_device_id, client_msg_id), conversations, memberships, cursors, receipts, to-device
// queues, and a slim row per message: everything but the body (message_id → conversation and
// seq, sender, media ids for CanSeeMedia). The body never goes to PostgreSQL: Append hands it the
// request with an empty body. Cassandra (CassMessagesTable) holds the whole row.
//
// Contract, beyond storage/message_store.h and group_store.h:
// - Append: PostgreSQL commits (assigning the seq), then the row is written to Cassandra, then
//   `done` runs; so nothing acknowledged is missing from Cassandra. If the Cassandra write
//   fails, `done` gets its error (the seq stays taken). A retry with the same client_msg_id takes
//   the duplicate path, which reads the row from Cassandra and, if it is absent, writes it (from
//   the slim row and the retry's body) before answering. Oversized bodies or lists are refused
//   (kPayloadTooLarge) before PostgreSQL is touched.
// - Group changes: their system messages are written to Cassandra before `done`; if that fails
//   `done` gets the error, the change itself stays committed.
// - Every Message returned (History, GetMessage, Pending, ListConversations' last_message,
//   Append's duplicate) comes from Cassandra. A read that finds a committed seq without its row
//   reads again for up to 1 s (its node is still writing it: a reader told of seq s must find
//   everything below s). A row still absent then (its write failed and the sender has not
//   retried yet) is never passed over, since a client marks delivered up to the highest seq it
//   got: a History page ends before it (has_more), a Pending page stops that conversation before
//   it (has_more); a read that would start with it (for Pending: whose page would hold no
//   message) is kUnavailable, and so is GetMessage of it. Only ListConversations' last_message
//   is left empty.
// - History pages across buckets in seq order; every page is at most options.max_page rows.
// - `done` runs on this store's writer threads, in commit order per conversation (PostgreSQL's
//   completions are handed to one strand per conversation: the chat service publishes from
//   `done`, so a conversation's events leave in seq order, as with PostgresStore). Destroy this
//   store after `pg` has been closed (so no completion of it is still coming); the destructor
//   waits for writes in flight. `pg` and `cql` must outlive it.
#pragma once

#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <string_view>
#include <vector>

#include "common/histogram.h"
#include "storage/cassandra/cass_messages_table.h"
#include "storage/group_store.h"
#include "storage/message_store.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::cassandra {

class CassandraMessageStore final : public MessageStore, public GroupStore {
 public:
  CassandraMessageStore(postgres::PostgresStore& pg, CqlClient& cql, CassMessagesOptions options,
                        int writer_threads = 4);
  ~CassandraMessageStore() override;

  // Creates the keyspace and table if needed (idempotent), prepares statements.
  Status Open();
  CassMessagesTable& table() { return table_; }
  // Per append: PostgreSQL's commit to the strand that writes the row (waiting for a writer
  // thread), and the row's write.
  const Histogram& row_wait_seconds() const { return row_wait_seconds_; }
  const Histogram& row_write_seconds() const { return row_write_seconds_; }

  // MessageStore
  void Append(AppendRequest req, Done<AppendResult> done) override;
  Result<Conversation> GetConversation(std::string_view conversation_id) override;
  Result<Membership> GetMembership(std::string_view conversation_id,
                                   std::string_view user_id) override;
  Result<std::pair<std::vector<Message>, bool>> History(std::string_view conversation_id,
                                                        int64_t min_seq, int64_t max_seq,
                                                        int64_t after_seq, int64_t before_seq,
                                                        bool ascending, int limit) override;
  Result<Message> GetMessage(std::string_view message_id) override;
  Result<std::vector<ConversationSummary>> ListConversations(std::string_view user_id,
                                                             int limit) override;
  Result<PendingPage> Pending(std::string_view user_id, std::string_view device_id, int limit,
                              const SeqFloors& floors, int64_t to_device_after) override;
  void MarkReceipt(std::string user_id, std::string device_id, std::string conversation_id,
                   int64_t up_to_seq, bool read, int64_t now, Done<ReceiptChange> done) override;
  Result<MessageStatus> GetMessageStatus(std::string_view message_id) override;
  void EnqueueToDevice(std::vector<ToDeviceMessage> messages, ToDeviceCap cap,
                       Done<std::vector<ToDeviceMessage>> done) override;
  void AckToDevice(std::string device_id, int64_t up_to_id, Done<Unit> done) override;
  Result<int64_t> DeviceCursor(std::string_view device_id,
                               std::string_view conversation_id) override;
  Result<std::vector<std::string>> ActiveMembers(std::string_view conversation_id) override;
  Result<bool> CanSeeMedia(std::string_view user_id, std::string_view media_id) override;
  Result<std::vector<std::string>> Contacts(std::string_view user_id) override;
  Result<bool> SharesConversation(std::string_view a, std::string_view b) override;
  Result<std::vector<Membership>> Memberships(std::string_view user_id) override;
  Result<std::vector<Conversation>> ScanConversations(std::string_view after_id,
                                                      int limit) override;
  Status Ping() override;

  // GroupStore
  void CreateGroup(NewGroup group, Done<GroupChange> done) override;
  void EditGroup(std::string group_id, GroupPlanner plan, Done<GroupChange> done) override;
  Result<Group> GetGroup(std::string_view group_id) override;

 private:
  struct Payload;
  Result<AppendResult> FinishAppend(const Payload& p, Result<AppendResult> r);
  Result<GroupChange> FinishGroup(Result<GroupChange> r);
  // The Cassandra rows of messages PostgreSQL returned (same order, runs of one conversation in
  // seq order). A run stops before its first row still absent after the wait; `*cut` says
  // whether any did.
  Result<std::vector<Message>> Hydrate(const std::vector<Message>& slim, bool* cut);

  using Strand = boost::asio::strand<boost::asio::thread_pool::executor_type>;
  // The strand of a conversation: its completions run one at a time, in the order posted.
  Strand& StrandOf(std::string_view conversation_id);

  postgres::PostgresStore& pg_;
  CqlClient& cql_;
  CassMessagesTable table_;
  boost::asio::thread_pool pool_;
  std::vector<Strand> strands_;  // a few per thread; fixed after construction
  Histogram row_wait_seconds_;
  Histogram row_write_seconds_;
};

}  // namespace parley::storage::cassandra
