// PgConn, PgWriter and the migrations against a real PostgreSQL (PARLEY_TEST_POSTGRES_URL; the
// tests fail if it is unset): SQLSTATE mapping, batch retry on a serialization failure and on a
// real deadlock with another connection, and migrations that are idempotent and safe when two
// nodes start at once.
#include <future>
#include <thread>

#include "storage/conformance/conformance.h"
#include "storage/postgres/pg_migrate.h"
#include "storage/postgres/pg_test_support.h"
#include "storage/postgres/pg_writer.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

using conformance::Wait;
using testing::TestSchema;

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = std::make_unique<TestSchema>();
    if (schema_->url().empty()) return;
    auto c = PgConn::Connect(schema_->url());
    ASSERT_TRUE(c.ok()) << c.error().message;
    conn_ = std::move(*c);
  }
  void TearDown() override {
    conn_.reset();
    schema_.reset();
  }
  int64_t Count(const std::string& sql) {
    auto r = conn_->Exec(sql);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->i64(0, 0) : -1;
  }

  std::unique_ptr<TestSchema> schema_;
  std::unique_ptr<PgConn> conn_;
};

TEST_F(PgTest, ErrorsMapToCodesWithoutParameterValues) {
  ASSERT_TRUE(conn_->Run("CREATE TABLE t(k TEXT PRIMARY KEY, n BIGINT)").ok());
  ASSERT_TRUE(conn_->Exec("INSERT INTO t VALUES ($1, $2::bigint)", {P("a"), P(int64_t{1})}).ok());
  auto dup = conn_->Exec("INSERT INTO t VALUES ($1, $2::bigint)", {P("a"), P(int64_t{2})});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(conn_->last_sqlstate(), "23505");
  auto bad = conn_->Exec("INSERT INTO t VALUES ($1, $2::bigint)", {P("b"), P("secret-value")});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
  EXPECT_EQ(bad.error().message.find("secret-value"), std::string::npos) << bad.error().message;
  auto nul = conn_->Exec("SELECT $1", {P(std::string("a\0b", 3))});
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error().code, ErrorCode::kInvalidArgument);
  auto ser = conn_->Run("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$");
  ASSERT_FALSE(ser.ok());
  EXPECT_EQ(ser.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(IsRetryable(ser.error()));
  EXPECT_TRUE(conn_->saw_retryable());
  // Reads return NULLs, booleans and bytea as documented.
  auto r = conn_->Exec("SELECT NULL::text, TRUE, $1::bytea, $2::bigint",
                       {Bytea(std::string("\0\x01\xff", 3)), P(int64_t{-42})});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->null(0, 0));
  EXPECT_EQ(r->str(0, 0), "");
  EXPECT_TRUE(r->boolean(0, 1));
  EXPECT_EQ(r->bytes(0, 2), std::string("\0\x01\xff", 3));
  EXPECT_EQ(r->i64(0, 3), -42);
}

TEST_F(PgTest, CachedStatementsSurviveAnotherNodeChangingTheTable) {
  ASSERT_TRUE(conn_->Run("CREATE TABLE t2(a BIGINT); INSERT INTO t2 VALUES (7)").ok());
  auto first = conn_->Exec("SELECT * FROM t2");
  ASSERT_TRUE(first.ok());
  auto other = PgConn::Connect(schema_->url());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Run("ALTER TABLE t2 ADD COLUMN b BIGINT NOT NULL DEFAULT 8").ok());
  auto again = conn_->Exec("SELECT * FROM t2");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->i64(0, 1), 8);
}

TEST_F(PgTest, WriterRerunsTheWholeBatchAfterASerializationFailure) {
  ASSERT_TRUE(conn_->Run("CREATE TABLE t(k TEXT PRIMARY KEY)").ok());
  PgWriter w(schema_->url(), 64);
  std::atomic<int> runs{0};
  // Queued before Start, so all three share the first batch.
  std::promise<Result<Unit>> p1, p2, p3;
  w.Submit<Unit>(
      [](PgConn& c) -> Result<Unit> {
        auto r = c.Exec("INSERT INTO t VALUES ('first')");
        if (!r.ok()) return r.error();
        return Unit{};
      },
      [&](Result<Unit> r) { p1.set_value(std::move(r)); });
  w.Submit<Unit>(
      [&](PgConn& c) -> Result<Unit> {
        // Fails with 40001 the first time, as a serializable conflict would; the error is
        // swallowed on purpose: the writer must still retry the batch.
        if (runs.fetch_add(1) == 0) {
          (void)c.Run("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40001'; END $$");
          return MakeError(ErrorCode::kInternal, "job gave up");
        }
        auto r = c.Exec("INSERT INTO t VALUES ('second')");
        if (!r.ok()) return r.error();
        return Unit{};
      },
      [&](Result<Unit> r) { p2.set_value(std::move(r)); });
  w.Submit<Unit>(
      [](PgConn& c) -> Result<Unit> {
        (void)c.Exec("INSERT INTO t VALUES ('third')");
        return MakeError(ErrorCode::kNotFound, "this job fails alone");
      },
      [&](Result<Unit> r) { p3.set_value(std::move(r)); });
  ASSERT_TRUE(w.Start().ok());
  auto r1 = p1.get_future().get(), r2 = p2.get_future().get(), r3 = p3.get_future().get();
  EXPECT_TRUE(r1.ok());
  EXPECT_TRUE(r2.ok()) << r2.error().message;
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(runs.load(), 2);
  EXPECT_GE(w.retries(), 1u);
  w.Stop();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM t WHERE k IN ('first', 'second')"), 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM t WHERE k = 'third'"), 0);  // rolled back alone
}

TEST_F(PgTest, AJobWithoutASavepointThatFailsInSqlFailsAloneAfterARerun) {
  ASSERT_TRUE(conn_->Run("CREATE TABLE t(k TEXT PRIMARY KEY)").ok());
  PgWriter w(schema_->url(), 64);
  std::atomic<int> runs{0};
  auto insert = [&runs](std::string k) {
    return [&runs, k](PgConn& c) -> Result<Unit> {
      ++runs;
      auto r = c.Exec("INSERT INTO t VALUES ($1)", {P(k)});
      if (!r.ok()) return r.error();
      return Unit{};
    };
  };
  JobOptions bare;
  bare.savepoint = false;
  // Queued before Start: one batch. The middle job repeats a key, which PostgreSQL refuses,
  // aborting the transaction that the jobs without savepoints share.
  std::promise<Result<Unit>> p1, p2, p3;
  w.Submit<Unit>(insert("first"), [&](Result<Unit> r) { p1.set_value(std::move(r)); }, bare);
  w.Submit<Unit>(insert("first"),
                 [&](Result<Unit> r) { p2.set_value(std::move(r)); }, bare);
  w.Submit<Unit>(insert("third"), [&](Result<Unit> r) { p3.set_value(std::move(r)); }, bare);
  ASSERT_TRUE(w.Start().ok());
  auto r1 = p1.get_future().get(), r2 = p2.get_future().get(), r3 = p3.get_future().get();
  EXPECT_TRUE(r1.ok());
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(r3.ok());
  EXPECT_EQ(runs.load(), 5);  // first and the repeat, then all three again with savepoints
  EXPECT_EQ(w.retries(), 0u);  // not a conflict
  w.Stop();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM t"), 2);
}

TEST_F(PgTest, BatchesWaitOnlyForTheKeysTheyShare) {
  PgWriter w(schema_->url(), 64);
  ASSERT_TRUE(w.Start().ok());
  // Another node's batch holds conversation "c-busy" (and the one lock every batch of the
  // previous version took first).
  ASSERT_TRUE(conn_->Run("BEGIN").ok());
  ASSERT_TRUE(conn_->Exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {P("c-busy")}).ok());
  ASSERT_TRUE(conn_->Run("SELECT pg_advisory_xact_lock(5063128101)").ok());
  auto job = [](PgConn&) -> Result<Unit> { return Unit{}; };
  auto keyed = [](std::string key) {
    JobOptions o;
    o.lock_keys = {std::move(key)};
    return o;
  };
  std::promise<Result<Unit>> busy;
  w.Submit<Unit>(job, [&](Result<Unit> r) { busy.set_value(std::move(r)); }, keyed("c-busy"));
  auto busy_done = busy.get_future();
  // The batch that shares the key waits for the other node's commit.
  EXPECT_EQ(busy_done.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  ASSERT_TRUE(conn_->Run("COMMIT").ok());
  ASSERT_TRUE(busy_done.get().ok());
  // Held again: a batch of another conversation, and one without keys, do not wait.
  ASSERT_TRUE(conn_->Run("BEGIN").ok());
  ASSERT_TRUE(conn_->Exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {P("c-busy")}).ok());
  ASSERT_TRUE(conn_->Run("SELECT pg_advisory_xact_lock(5063128101)").ok());
  for (JobOptions o : {keyed("c-free"), JobOptions{}}) {
    std::promise<Result<Unit>> free;
    w.Submit<Unit>(job, [&](Result<Unit> r) { free.set_value(std::move(r)); }, o);
    auto f = free.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  ASSERT_TRUE(conn_->Run("COMMIT").ok());
  w.Stop();
}

TEST_F(PgTest, StatementJobsOfABatchArePipelinedInOneRoundTrip) {
  ASSERT_TRUE(conn_->Run("CREATE TABLE t(k BIGINT PRIMARY KEY)").ok());
  PgWriter w(schema_->url(), 256);
  constexpr int kJobs = 50;
  std::atomic<int> ok{0};
  std::promise<void> all;
  std::atomic<int> left{kJobs};
  for (int i = 0; i < kJobs; ++i) {
    JobOptions o;
    o.lock_keys = {"conversation-" + std::to_string(i % 5)};
    w.SubmitStatement<int64_t>(
        "INSERT INTO t VALUES ($1::bigint) RETURNING k", {P(int64_t{i})},
        [](PgConn&, Result<PgResult> r) -> Result<int64_t> {
          if (!r.ok()) return r.error();
          return r->i64(0, 0);
        },
        [&, i](Result<int64_t> r) {
          if (r.ok() && *r == i) ++ok;
          if (--left == 0) all.set_value();
        },
        o);
  }
  ASSERT_TRUE(w.Start().ok());  // queued before Start: one batch
  all.get_future().wait();
  w.Stop();
  EXPECT_EQ(ok.load(), kJobs);
  EXPECT_EQ(w.batches(), 1u);
  // BEGIN, the keys (prepared first: one more, on a new connection only), the pipeline of 50
  // inserts (their prepare included), COMMIT.
  EXPECT_EQ(w.round_trips(), 5u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM t"), kJobs);
}

TEST_F(PgTest, AFailingStatementInAPipelineFailsAloneAfterARerun) {
  ASSERT_TRUE(conn_->Run("CREATE TABLE t(k BIGINT PRIMARY KEY); INSERT INTO t VALUES (7)").ok());
  PgWriter w(schema_->url(), 256);
  std::vector<std::promise<Result<int64_t>>> done(10);
  for (int i = 0; i < 10; ++i) {
    w.SubmitStatement<int64_t>(
        "INSERT INTO t VALUES ($1::bigint) RETURNING k", {P(int64_t{i + 3})},  // 7 is taken
        [](PgConn&, Result<PgResult> r) -> Result<int64_t> {
          if (!r.ok()) return r.error();
          return r->i64(0, 0);
        },
        [&done, i](Result<int64_t> r) { done[i].set_value(std::move(r)); }, JobOptions{});
  }
  ASSERT_TRUE(w.Start().ok());
  for (int i = 0; i < 10; ++i) {
    auto r = done[i].get_future().get();
    if (i + 3 == 7) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code, ErrorCode::kConflict);
    } else {
      EXPECT_TRUE(r.ok()) << i << ": " << r.error().message;
    }
  }
  w.Stop();
  EXPECT_EQ(w.retries(), 0u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM t"), 10);  // 7, and the nine others
}

TEST_F(PgTest, WriterGivesUpWithUnavailableAfterBoundedRetries) {
  PgWriter w(schema_->url(), 8);
  ASSERT_TRUE(w.Start().ok());
  std::atomic<int> runs{0};
  auto r = Wait<Unit>([&](auto done) {
    w.Submit<Unit>(
        [&](PgConn& c) -> Result<Unit> {
          ++runs;
          PARLEY_TRY(c.Run("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$"));
          return Unit{};
        },
        done);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(runs.load(), PgWriter::kMaxAttempts);
}

TEST_F(PgTest, WriterSurvivesARealDeadlockWithAnotherNode) {
  ASSERT_TRUE(conn_->Run("CREATE TABLE acct(id BIGINT PRIMARY KEY, n BIGINT NOT NULL);"
                         "INSERT INTO acct VALUES (1, 0), (2, 0)").ok());
  // As a superuser the test makes the writer the side PostgreSQL aborts (a short
  // deadlock_timeout there, a long one here); otherwise either side may be the victim.
  auto su = conn_->Exec("SELECT current_setting('is_superuser') = 'on'");
  ASSERT_TRUE(su.ok());
  bool steer = su->boolean(0, 0);
  if (steer) {
    ASSERT_TRUE(conn_->Run("SET deadlock_timeout = '60s'").ok());
  }
  PgWriter w(schema_->url(), 8);
  ASSERT_TRUE(w.Start().ok());
  // The other node holds row 2 ...
  ASSERT_TRUE(conn_->Run("BEGIN").ok());
  ASSERT_TRUE(conn_->Exec("UPDATE acct SET n = n + 10 WHERE id = 2").ok());
  std::promise<Result<Unit>> done;
  std::atomic<int> runs{0};
  w.Submit<Unit>(
      [&runs, steer](PgConn& c) -> Result<Unit> {
        ++runs;
        if (steer) PARLEY_TRY(c.Run("SET LOCAL deadlock_timeout = '1s'"));
        // ... the writer takes row 1, then waits for row 2 ...
        PARLEY_TRY(c.Exec("UPDATE acct SET n = n + 1 WHERE id = 1"));
        PARLEY_TRY(c.Exec("UPDATE acct SET n = n + 1 WHERE id = 2"));
        return Unit{};
      },
      [&](Result<Unit> r) { done.set_value(std::move(r)); });
  // Wait until the writer is blocked on the lock.
  for (int i = 0; i < 500; ++i) {
    auto waiting = conn_->Exec(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 "
        "AND wait_event_type = 'Lock'",
        {P(schema_->name())});
    ASSERT_TRUE(waiting.ok()) << waiting.error().message;
    if (waiting->i64(0, 0) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // ... and the other node now wants row 1: a deadlock; PostgreSQL aborts one side.
  auto other = conn_->Exec("UPDATE acct SET n = n + 10 WHERE id = 1");
  bool other_was_victim = !other.ok();
  if (steer) {
    EXPECT_FALSE(other_was_victim) << other.error().message;
  }
  if (other_was_victim) {
    EXPECT_TRUE(IsRetryable(other.error())) << other.error().message;
    ASSERT_TRUE(conn_->Run("ROLLBACK").ok());
  } else {
    ASSERT_TRUE(conn_->Run("COMMIT").ok());
  }
  auto r = done.get_future().get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  w.Stop();
  if (!other_was_victim) {
    // The writer was aborted: it rolled the batch back and ran it again.
    EXPECT_GE(w.retries(), 1u);
    EXPECT_EQ(runs.load(), 2);
  }
  int64_t extra = other_was_victim ? 0 : 10;
  EXPECT_EQ(Count("SELECT n FROM acct WHERE id = 1"), 1 + extra);
  EXPECT_EQ(Count("SELECT n FROM acct WHERE id = 2"), 1 + extra);
}

TEST_F(PgTest, JobsSubmittedAfterStopFailUnavailable) {
  PgWriter w(schema_->url(), 8);
  ASSERT_TRUE(w.Start().ok());
  w.Stop();
  auto r = Wait<Unit>([&](auto done) {
    w.Submit<Unit>([](PgConn&) -> Result<Unit> { return Unit{}; }, done);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

TEST_F(PgTest, MigrationsAreIdempotent) {
  ASSERT_TRUE(MigrateAll(*conn_).ok());
  int64_t tables = Count("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()");
  auto before = conn_->Exec("SELECT module, version FROM schema_versions ORDER BY module");
  ASSERT_TRUE(before.ok());
  EXPECT_GE(before->rows(), 6);
  Status again = MigrateAll(*conn_);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"), tables);
  auto after = conn_->Exec("SELECT module, version FROM schema_versions ORDER BY module");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->rows(), before->rows());
  for (int i = 0; i < after->rows(); ++i) {
    EXPECT_EQ(after->str(i, 0), before->str(i, 0));
    EXPECT_EQ(after->i64(i, 1), before->i64(i, 1));
  }
  // A new migration appended to a module applies once, on top of the recorded version.
  const char* const extra[] = {"CREATE TABLE m1(x BIGINT)", "CREATE TABLE m2(x BIGINT)"};
  ASSERT_TRUE(MigrateModule(*conn_, "extra", std::span(extra, 1)).ok());
  ASSERT_TRUE(MigrateModule(*conn_, "extra", std::span(extra, 2)).ok());
  ASSERT_TRUE(MigrateModule(*conn_, "extra", std::span(extra, 2)).ok());
  EXPECT_EQ(Count("SELECT version FROM schema_versions WHERE module = 'extra'"), 2);
  // A failing migration leaves no trace.
  const char* const broken[] = {"CREATE TABLE m3(x BIGINT); SELECT no_such_function()"};
  EXPECT_FALSE(MigrateModule(*conn_, "broken", broken).ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM pg_tables WHERE tablename = 'm3'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM schema_versions WHERE module = 'broken'"), 0);
}

TEST_F(PgTest, NodesStartingAtOnceMigrateOnce) {
  // Three nodes open stores on the same empty schema at the same moment.
  std::vector<std::future<Status>> opens;
  std::vector<std::shared_ptr<PostgresStore>> stores;
  for (int i = 0; i < 3; ++i) {
    stores.push_back(std::make_shared<PostgresStore>(PostgresOptions{schema_->url()}));
  }
  for (auto& s : stores) {
    opens.push_back(std::async(std::launch::async, [s] { return s->Open(); }));
  }
  for (auto& f : opens) {
    Status st = f.get();
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  }
  // And two more threads migrate concurrently on top.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] {
      auto c = PgConn::Connect(schema_->url());
      if (!c.ok() || !MigrateAll(**c).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count("SELECT version FROM schema_versions WHERE module = 'core'"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM schema_versions"), 6);
  // All three work on the one schema.
  User u;
  u.user_id = "u1";
  u.username = u.display_name = "ivy";
  u.password_hash = "$argon2id$x";
  ASSERT_TRUE(Wait<Unit>([&](auto d) { stores[0]->CreateUser(u, d); }).ok());
  EXPECT_TRUE(stores[2]->GetUserByUsername("ivy").ok());
  u.user_id = "u2";
  auto dup = Wait<Unit>([&](auto d) { stores[1]->CreateUser(u, d); });
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
}

}  // namespace
}  // namespace parley::storage::postgres
