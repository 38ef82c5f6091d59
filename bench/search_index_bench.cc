// search_index_bench: latency of SqliteSearchIndex::Search ("newest N hits") on a large index, and
// the index's write throughput. Not a load test of parleyd: it drives the adapter directly, so the
// figure is the index's own cost (the HTTP path adds a membership read and N message reads).
//
//   search_index_bench [--messages 1000000] [--dir /tmp/parley-search-bench] [--queries 1000]
//
// Not yet a target of bench/CMakeLists.txt; built against the server library:
//   cmake --build build-search --target parley_server
//   g++ -std=c++20 -O2 -DNDEBUG -Isrc bench/search_index_bench.cc build-search/libparley_server.a \
//       -lsqlite3 -lboost_json -lsodium -lcrypto -lpthread -o /tmp/search_index_bench
//
// The corpus: --messages plain messages of 4–14 words drawn from a 20,000-word vocabulary with
// Zipf(1) frequencies (the most common word is in ~40% of messages), over 20,000 conversations
// (half the messages in a few busy ones, Pareto); created_at 1 ms apart. The index is kept in
// --dir and reused when it already holds the messages. Reports p50/p99/max per query kind and
// scope count.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "storage/sqlite_search/sqlite_search_index.h"

using namespace parley;
using namespace parley::storage;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kVocab = 20000;
constexpr int kConversations = 20000;
constexpr int64_t kT0 = 1'700'000'000'000;

std::vector<std::string> MakeVocabulary(std::mt19937_64& rng) {
  std::vector<std::string> v;
  std::uniform_int_distribution<int> len(2, 10), letter(0, 25);
  while (static_cast<int>(v.size()) < kVocab) {
    std::string w;
    int n = len(rng);
    for (int i = 0; i < n; ++i) w += static_cast<char>('a' + letter(rng));
    v.push_back(w);
  }
  return v;
}

struct Corpus {
  std::vector<std::string> vocab;
  std::vector<double> cumulative;  // Zipf(1)
  std::vector<std::string> conversations;

  explicit Corpus(std::mt19937_64& rng) : vocab(MakeVocabulary(rng)) {
    double sum = 0;
    for (int i = 0; i < kVocab; ++i) cumulative.push_back(sum += 1.0 / (i + 1));
    for (auto& c : cumulative) c /= sum;
    // Deterministic ids, so a kept index is searched with the conversations it holds.
    for (int i = 0; i < kConversations; ++i) {
      char id[37];
      uint64_t hi = rng(), lo = rng();
      std::snprintf(id, sizeof id, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(hi >> 32),
                    static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xfff),
                    static_cast<unsigned>(lo >> 52),
                    static_cast<unsigned long long>(lo & 0xffffffffffffULL));
      conversations.push_back(id);
    }
  }
  const std::string& Word(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    auto it = std::lower_bound(cumulative.begin(), cumulative.end(), u);
    return vocab[std::min<size_t>(it - cumulative.begin(), kVocab - 1)];
  }
  int Conversation(std::mt19937_64& rng) const {
    if (rng() % 2) return static_cast<int>(rng() % kConversations);
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return std::min(kConversations - 1, static_cast<int>(1.0 / std::max(u, 1e-9)) - 1);
  }
};

Result<IndexOutcome> IndexAndWait(SearchIndex& index, std::vector<Message> batch) {
  std::promise<Result<IndexOutcome>> p;
  auto f = p.get_future();
  index.Index(std::move(batch), [&p](Result<IndexOutcome> r) { p.set_value(std::move(r)); });
  return f.get();
}

void Build(SearchIndex& index, const Corpus& corpus, int64_t messages, std::mt19937_64& rng) {
  std::vector<int64_t> seqs(kConversations, 0);
  auto started = Clock::now();
  const int64_t batch_size = 2000;
  std::vector<std::future<Result<IndexOutcome>>> inflight;
  for (int64_t done = 0; done < messages; done += batch_size) {
    std::vector<Message> batch;
    for (int64_t i = done; i < std::min(messages, done + batch_size); ++i) {
      Message m;
      int c = corpus.Conversation(rng);
      m.conversation_id = corpus.conversations[c];
      m.seq = ++seqs[c];
      m.created_at = kT0 + i;
      m.content_type = "text";
      m.encryption = "none";
      int words = 4 + static_cast<int>(rng() % 11);
      for (int w = 0; w < words; ++w) {
        if (w) m.body += ' ';
        m.body += corpus.Word(rng);
      }
      batch.push_back(std::move(m));
    }
    auto r = IndexAndWait(index, std::move(batch));
    if (!r.ok()) {
      std::fprintf(stderr, "index failed: %s\n", r.error().message.c_str());
      std::exit(1);
    }
    if ((done / batch_size) % 50 == 0) {
      double s = std::chrono::duration<double>(Clock::now() - started).count();
      std::fprintf(stderr, "indexed %lld (%.0f/s)\n", static_cast<long long>(done),
                   done / std::max(s, 1e-9));
    }
  }
  double s = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("build: %lld messages in %.1f s = %.0f messages/s (batches of %lld)\n",
              static_cast<long long>(messages), s, messages / s,
              static_cast<long long>(batch_size));
}

struct Stats {
  std::vector<double> ms;
  size_t hits = 0;
};

void Report(const std::string& name, Stats& s) {
  std::sort(s.ms.begin(), s.ms.end());
  auto at = [&](double q) {
    return s.ms[std::min(s.ms.size() - 1, static_cast<size_t>(q * s.ms.size()))];
  };
  std::printf("%-44s p50 %6.3f  p99 %6.3f  max %7.3f ms  (avg hits %.1f)\n", name.c_str(), at(0.5),
              at(0.99), s.ms.back(), static_cast<double>(s.hits) / s.ms.size());
}

}  // namespace

int main(int argc, char** argv) {
  int64_t messages = 1'000'000;
  int queries = 1000;
  std::string dir = "/tmp/parley-search-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--messages") messages = std::stoll(argv[i + 1]);
    if (a == "--dir") dir = argv[i + 1];
    if (a == "--queries") queries = std::stoi(argv[i + 1]);
  }
  std::mt19937_64 rng(42);
  Corpus corpus(rng);
  std::filesystem::create_directories(dir);
  std::string path = dir + "/search-" + std::to_string(messages) + ".db";
  bool exists = std::filesystem::exists(path);
  sqlite::SqliteSearchIndex index({path});
  if (Status st = index.Open(); !st.ok()) {
    std::fprintf(stderr, "open: %s\n", st.error().message.c_str());
    return 1;
  }
  if (!exists) Build(index, corpus, messages, rng);
  std::printf("index file: %.1f MB\n", std::filesystem::file_size(path) / 1e6);

  std::mt19937_64 qrng(7);
  struct Kind {
    std::string name;
    std::function<std::string()> make;
  };
  auto word_at = [&](int lo, int hi) { return corpus.vocab[lo + qrng() % (hi - lo)]; };
  std::vector<Kind> kinds = {
      {"top-10 word", [&] { return word_at(0, 10); }},
      {"rank 100-1000 word", [&] { return word_at(100, 1000); }},
      {"rare word (rank 10000+)", [&] { return word_at(10000, kVocab); }},
      {"two common words", [&] { return word_at(0, 50) + " " + word_at(0, 50); }},
      {"common + rare", [&] { return word_at(0, 10) + " " + word_at(5000, kVocab); }},
      {"2-char prefix", [&] { return word_at(0, 100).substr(0, 2); }},
      {"3-char prefix of a common word", [&] { return word_at(0, 100).substr(0, 3); }},
      {"5-char prefix of a common word", [&] {
         std::string w;
         do w = word_at(0, 200); while (w.size() < 6);
         return w.substr(0, 5);
       }},
  };
  for (int scopes : {5, 50, 500}) {
    for (auto& kind : kinds) {
      Stats st;
      for (int q = 0; q < queries; ++q) {
        std::vector<SearchScope> sc;
        for (int i = 0; i < scopes; ++i) {
          // Users are mostly in ordinary conversations, some in a busy one.
          int c = static_cast<int>(i == 0 ? qrng() % 20 : qrng() % kConversations);
          sc.push_back({corpus.conversations[c], 0, INT64_MAX});
        }
        std::string text = kind.make();
        auto t = Clock::now();
        auto r = index.Search(text, sc, 20);
        st.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
        if (!r.ok()) {
          std::fprintf(stderr, "search %s: %s\n", text.c_str(), r.error().message.c_str());
          return 1;
        }
        st.hits += r->size();
      }
      Report(std::to_string(scopes) + " convs, " + kind.name, st);
    }
  }

  // The live path: one Index call per message, not waiting (the writer groups what is queued).
  {
    const int n = 100000;
    std::vector<std::string> convs;
    std::string run = std::to_string(Clock::now().time_since_epoch().count());  // fresh each run
    for (int i = 0; i < 1000; ++i) convs.push_back(corpus.conversations[i] + "-live-" + run);
    std::atomic<int> left{n};
    std::promise<void> all;
    auto started = Clock::now();
    for (int i = 0; i < n; ++i) {
      Message m;
      m.conversation_id = convs[i % convs.size()];
      m.seq = i / static_cast<int>(convs.size()) + 1;
      m.created_at = kT0 + messages + i;
      m.content_type = "text";
      m.encryption = "none";
      for (int w = 0; w < 9; ++w) m.body += (w ? " " : "") + corpus.Word(qrng);
      std::vector<Message> one;
      one.push_back(std::move(m));
      index.Index(std::move(one), [&](Result<IndexOutcome>) {
        if (left.fetch_sub(1) == 1) all.set_value();
      });
    }
    all.get_future().wait();
    double s = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf("live: %d single-message Index calls in %.1f s = %.0f messages/s (%llu commits)\n",
                n, s, n / s, static_cast<unsigned long long>(index.commit_batches()));
  }
  index.Close();
  return 0;
}
