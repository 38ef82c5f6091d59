// Conformance cases of MediaStore (and of MessageStore::CanSeeMedia, the rule that decides who
// may download media). See conformance.h for how an adapter runs them.
#include <thread>

#include "common/ids.h"
#include "common/time.h"
#include "storage/conformance/conformance.h"

namespace parley::storage::conformance {
namespace {

#define REQUIRE_MEDIA() \
  if (!s_.media) GTEST_SKIP() << "this adapter keeps no media metadata"

Media NewMedia(const std::string& uploader, std::string type = "image/png") {
  Media m;
  m.media_id = NewUuidV4();
  m.uploader_id = uploader;
  m.media_type = std::move(type);
  m.blob_key = m.media_id;
  m.created_at = NowMs();
  m.size = 1234;
  m.sha256 = std::string(64, 'a');
  m.filename = "photo.png";
  m.thumbnail_state = ThumbnailState::kPending;
  return m;
}

Status Insert(MediaStore& s, const Media& m, uint64_t quota_bytes = 0) {
  auto r = Wait<Unit>([&](auto d) { s.InsertMedia(m, quota_bytes, d); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Thumbnail NewThumb(const Media& m) {
  return {m.media_id + ".thumb", "image/jpeg", 99, std::string(64, 'b'), 320, 160};
}

TEST_P(StoreConformance, MediaStoredBytesAndQuota) {
  REQUIRE_MEDIA();
  const std::string user = NewUuidV4();
  EXPECT_EQ(*s_.media->StoredBytes(user), 0u);
  Media a = NewMedia(user);  // 1234 bytes
  ASSERT_TRUE(Insert(*s_.media, a, 3000).ok());
  Media b = NewMedia(user);
  b.size = 1766;  // exactly up to the quota
  ASSERT_TRUE(Insert(*s_.media, b, 3000).ok());
  EXPECT_EQ(*s_.media->StoredBytes(user), 3000u);
  EXPECT_EQ(*s_.media->StoredBytes(NewUuidV4()), 0u);  // per uploader

  Media c = NewMedia(user);
  c.size = 1;
  Status over = Insert(*s_.media, c, 3000);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(over.error().message,
            "storage quota exceeded: 3000 of 3000 bytes used (this upload: 1 bytes)");
  EXPECT_EQ(s_.media->GetMedia(c.media_id).error().code, ErrorCode::kNotFound);  // not stored
  EXPECT_EQ(*s_.media->StoredBytes(user), 3000u);
  ASSERT_TRUE(Insert(*s_.media, c, 0).ok());  // 0 = no quota
  EXPECT_EQ(*s_.media->StoredBytes(user), 3001u);
}

TEST_P(StoreConformance, MediaRoundTripsAndIdsAreUnique) {
  REQUIRE_MEDIA();
  Media m = NewMedia(NewUuidV4());
  ASSERT_TRUE(Insert(*s_.media, m).ok());
  auto got = s_.media->GetMedia(m.media_id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->media_id, m.media_id);
  EXPECT_EQ(got->uploader_id, m.uploader_id);
  EXPECT_EQ(got->media_type, "image/png");
  EXPECT_EQ(got->blob_key, m.blob_key);
  EXPECT_FALSE(got->message_id.has_value());
  EXPECT_EQ(got->created_at, m.created_at);
  EXPECT_EQ(got->size, 1234u);
  EXPECT_EQ(got->sha256, m.sha256);
  EXPECT_EQ(got->filename, "photo.png");
  EXPECT_EQ(got->thumbnail_state, ThumbnailState::kPending);
  EXPECT_FALSE(got->thumbnail.has_value());

  Media big = NewMedia(m.uploader_id, "application/octet-stream");
  big.size = 5ull << 30;  // past 32 bits
  big.thumbnail_state = ThumbnailState::kNone;
  ASSERT_TRUE(Insert(*s_.media, big).ok());
  EXPECT_EQ(s_.media->GetMedia(big.media_id)->size, 5ull << 30);
  EXPECT_EQ(s_.media->GetMedia(big.media_id)->thumbnail_state, ThumbnailState::kNone);

  Status dup = Insert(*s_.media, m);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(s_.media->GetMedia(NewUuidV4()).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, ThumbnailOutcomesAreRecorded) {
  REQUIRE_MEDIA();
  Media a = NewMedia(NewUuidV4()), b = NewMedia(a.uploader_id);
  b.created_at = a.created_at + 1;
  ASSERT_TRUE(Insert(*s_.media, a).ok());
  ASSERT_TRUE(Insert(*s_.media, b).ok());
  auto pending = s_.media->PendingThumbnails(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0], a.media_id);  // oldest first
  EXPECT_EQ(s_.media->PendingThumbnails(1)->size(), 1u);

  Thumbnail t = NewThumb(a);
  ASSERT_TRUE(Wait<Unit>([&](auto d) {
                s_.media->SetThumbnail(a.media_id, ThumbnailState::kReady, t, "", d);
              }).ok());
  auto got = s_.media->GetMedia(a.media_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->thumbnail_state, ThumbnailState::kReady);
  ASSERT_TRUE(got->thumbnail.has_value());
  EXPECT_EQ(got->thumbnail->blob_key, t.blob_key);
  EXPECT_EQ(got->thumbnail->media_type, "image/jpeg");
  EXPECT_EQ(got->thumbnail->size, 99u);
  EXPECT_EQ(got->thumbnail->sha256, t.sha256);
  EXPECT_EQ(got->thumbnail->width, 320);
  EXPECT_EQ(got->thumbnail->height, 160);

  ASSERT_TRUE(Wait<Unit>([&](auto d) {
                s_.media->SetThumbnail(b.media_id, ThumbnailState::kFailed, std::nullopt,
                                       "image has too many pixels", d);
              }).ok());
  got = s_.media->GetMedia(b.media_id);
  EXPECT_EQ(got->thumbnail_state, ThumbnailState::kFailed);
  EXPECT_FALSE(got->thumbnail.has_value());
  EXPECT_EQ(got->thumb_error, "image has too many pixels");
  EXPECT_TRUE(s_.media->PendingThumbnails(10)->empty());

  auto missing = Wait<Unit>([&](auto d) {
    s_.media->SetThumbnail(NewUuidV4(), ThumbnailState::kFailed, std::nullopt, "x", d);
  });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, MediaLinksToTheFirstMessageOfItsUploader) {
  REQUIRE_MEDIA();
  Media m = NewMedia(NewUuidV4());
  ASSERT_TRUE(Insert(*s_.media, m).ok());
  std::string stranger = NewUuidV4(), first = NewUuidV7(), second = NewUuidV7();
  auto link = [&](const std::string& media_id, const std::string& who, const std::string& msg) {
    return Wait<Unit>([&](auto d) { s_.media->LinkMessage(media_id, who, msg, d); });
  };
  ASSERT_TRUE(link(m.media_id, stranger, first).ok());  // not the uploader: nothing changes
  EXPECT_FALSE(s_.media->GetMedia(m.media_id)->message_id.has_value());
  ASSERT_TRUE(link(m.media_id, m.uploader_id, first).ok());
  ASSERT_TRUE(link(m.media_id, m.uploader_id, second).ok());  // the first one stays
  EXPECT_EQ(s_.media->GetMedia(m.media_id)->message_id, first);
  auto missing = link(NewUuidV4(), m.uploader_id, first);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, MediaIsVisibleToMembersOfAConversationThatNamesIt) {
  REQUIRE_MEDIA();
  auto user = [&](const std::string& name) {
    User u{NewUuidV4(), name, name, "$argon2id$x", "", "online", "", NowMs(), 0, false};
    EXPECT_TRUE(Wait<Unit>([&](auto d) { s_.auth->CreateUser(u, d); }).ok());
    return u;
  };
  User a = user("m_alice"), b = user("m_bob"), c = user("m_carol");
  Device da{NewUuidV4(), a.user_id, "phone", NowMs(), 0, false};
  ASSERT_TRUE(Wait<Unit>([&](auto d) { s_.auth->CreateDevice(da, d); }).ok());
  Media m = NewMedia(a.user_id);
  ASSERT_TRUE(Insert(*s_.media, m).ok());
  EXPECT_FALSE(*s_.messages->CanSeeMedia(b.user_id, m.media_id));

  AppendRequest r;
  r.conversation_id = DirectConversationId(a.user_id, b.user_id);
  r.direct_pair = {a.user_id, b.user_id};
  r.sender_id = a.user_id;
  r.sender_device_id = da.device_id;
  r.client_msg_id = "with-media";
  r.content_type = "image";
  r.encryption = "none";
  r.body = "look";
  r.media_ids = {m.media_id};
  ASSERT_TRUE(Wait<AppendResult>([&](auto d) { s_.messages->Append(r, d); }).ok());
  EXPECT_TRUE(*s_.messages->CanSeeMedia(b.user_id, m.media_id));
  EXPECT_TRUE(*s_.messages->CanSeeMedia(a.user_id, m.media_id));
  EXPECT_FALSE(*s_.messages->CanSeeMedia(c.user_id, m.media_id));
  EXPECT_FALSE(*s_.messages->CanSeeMedia(b.user_id, NewUuidV4()));
}

TEST_P(StoreConformance, MediaSurvivesReopen) {
  REQUIRE_MEDIA();
  Media m = NewMedia(NewUuidV4());
  ASSERT_TRUE(Insert(*s_.media, m).ok());
  ASSERT_TRUE(Wait<Unit>([&](auto d) {
                s_.media->SetThumbnail(m.media_id, ThumbnailState::kReady, NewThumb(m), "", d);
              }).ok());
  s_ = s_.reopen();
  ASSERT_NE(s_.media, nullptr);
  auto got = s_.media->GetMedia(m.media_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->sha256, m.sha256);
  EXPECT_EQ(got->thumbnail_state, ThumbnailState::kReady);
  ASSERT_TRUE(got->thumbnail.has_value());
  EXPECT_EQ(got->thumbnail->blob_key, m.media_id + ".thumb");
}

}  // namespace
}  // namespace parley::storage::conformance
