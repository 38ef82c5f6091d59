// HotState: what the SQLite writer keeps in memory of the rows every send and receipt mark
// reads, so that a send is two inserts and a mark one or two writes (docs/benchmarks.md, "The
// writer's state in memory").
//
// It mirrors, for the conversations and devices the writer touched lately: a conversation's
// last_seq and last_message_at, its active members' joined/delivered/read marks, and a device's
// delivered cursor in a conversation. Rows are loaded on first use through the writer's own
// connection (inside its transaction, so they include the batch's earlier writes).
//
// Contract (enforced by GroupCommitWriter, which owns the one instance):
// - Only jobs submitted as keeping the state (JobOptions::keeps_writer_state) read or change it,
//   and only on the writer thread. Such a job changes the state only after every statement it
//   ran succeeded, so a job that fails leaves it as it was.
// - conversations.last_seq / last_message_at are written lazily: Flush writes each touched
//   conversation's row once. The writer flushes before the commit and before any other job,
//   then forgets everything (Clear) before that job: other jobs see and may change the rows
//   freely, and the state is reloaded after them.
// - After a rollback (a failed commit, a batch run again) the writer clears it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"
#include "storage/sqlite/conn.h"

namespace parley::storage::sqlite {

class HotState {
 public:
  struct Member {
    std::string user_id;
    int64_t joined_seq = 0;
    int64_t delivered_seq = 0;
    int64_t read_seq = 0;
  };
  struct Conversation {
    std::string id;
    int64_t last_seq = 0;
    int64_t last_message_at = 0;
    bool dirty = false;            // last_seq / last_message_at not yet written
    std::vector<Member> members;   // active members (left_seq IS NULL), in no order
    std::vector<std::string> member_ids;  // the same users, for fan-out

    Member* FindMember(std::string_view user_id);
  };

  // The conversation's state (loaded on first use); nullptr when it does not exist.
  Result<Conversation*> Find(SqliteConn& c, const std::string& conversation_id);
  // The device's delivered cursor in the conversation: -1 when it has no row.
  Result<int64_t*> Cursor(SqliteConn& c, const std::string& device_id,
                          const std::string& conversation_id);
  // Marks a conversation's last_seq / last_message_at as to be written.
  void Touch(Conversation* conv, int64_t seq, int64_t at);

  // Writes every touched conversation's row (one UPDATE each).
  Status Flush(SqliteConn& c);
  // Forgets everything, written or not.
  void Clear();
  // Forgets everything if more than the bounds are held (call when nothing is dirty).
  void Trim();

  // For a hot job that cannot go on with the state (a conversation to create, a member who
  // left, a refusal to word): `return state->Cold();` before the job wrote anything. The
  // writer then writes the state out, forgets it, and runs the job again with no state.
  Error Cold() {
    cold_wanted_ = true;
    return MakeError(ErrorCode::kUnavailable, "run again without the writer's state");
  }
  // For the writer: whether the job that just ran asked for a cold run (and resets it).
  bool TakeColdWanted() { return std::exchange(cold_wanted_, false); }

 private:
  static constexpr size_t kMaxConversations = 50'000;
  static constexpr size_t kMaxMembers = 500'000;
  static constexpr size_t kMaxCursors = 200'000;

  std::unordered_map<std::string, std::unique_ptr<Conversation>> conversations_;
  std::unordered_map<std::string, int64_t> cursors_;  // device_id + '\n' + conversation_id
  std::vector<Conversation*> dirty_;
  size_t members_held_ = 0;
  bool cold_wanted_ = false;
};

}  // namespace parley::storage::sqlite
