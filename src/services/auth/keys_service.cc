#include "services/auth/keys_service.h"

#include "common/async.h"
#include "common/ids.h"
#include "common/json_fields.h"

namespace parley::services {

using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::JsonResponse;

namespace {
constexpr size_t kMaxKeyBytes = 512;            // base64 of a key or signature, with room to spare
constexpr size_t kMaxPrekeysPerUpload = 200;
constexpr int64_t kMaxKeyId = (int64_t{1} << 53) - 1;  // exact in every JSON implementation

boost::json::object KeysToJson(const storage::DeviceKeys& k) {
  boost::json::object o{{"device_id", k.device_id},
                        {"identity_key", k.identity_key},
                        {"signing_key", k.signing_key},
                        {"signed_prekey",
                         {{"key_id", k.signed_prekey.key_id},
                          {"public_key", k.signed_prekey.public_key},
                          {"signature", k.signed_prekey.signature}}}};
  if (!k.one_time_prekeys.empty()) {
    o["one_time_prekey"] = {{"key_id", k.one_time_prekeys[0].key_id},
                            {"public_key", k.one_time_prekeys[0].public_key}};
  }
  return o;
}
}  // namespace

void KeysService::Register(transport::Router& r) {
  r.Add("PUT", "/v1/keys", Auth::kRequired, [this](HttpRequest& q) { return Put(q); });
  r.Add("GET", "/v1/keys/count", Auth::kRequired, [this](HttpRequest& q) { return Count(q); });
  r.Add("GET", "/v1/keys/{user_id}", Auth::kRequired, [this](HttpRequest& q) { return Claim(q); });
}

boost::asio::awaitable<HttpResponse> KeysService::Put(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  storage::DeviceKeys k;
  k.device_id = req.principal->device_id;
  k.user_id = req.principal->user_id;
  auto identity = f.Str("identity_key", true, kMaxKeyBytes);
  auto signing = f.Str("signing_key", true, kMaxKeyBytes);
  const auto* spk = f.Obj("signed_prekey", true);
  const boost::json::value* otks = body->if_contains("one_time_prekeys");
  if (f.ok()) {
    Fields s(*spk);
    auto id = s.Int("key_id", true, 0, kMaxKeyId);
    auto pub = s.Str("public_key", true, kMaxKeyBytes);
    auto sig = s.Str("signature", true, kMaxKeyBytes);
    if (!s.ok()) {
      f.Fail("signed_prekey: " + s.error().message);
    } else {
      k.signed_prekey = {*id, *pub, *sig};
    }
  }
  if (f.ok() && otks && !otks->is_null()) {
    if (!otks->is_array() || otks->as_array().size() > kMaxPrekeysPerUpload) {
      f.Fail("one_time_prekeys must be an array of at most 200 keys");
    } else {
      for (const auto& e : otks->as_array()) {
        if (!e.is_object()) {
          f.Fail("one_time_prekeys items must be objects");
          break;
        }
        Fields o(e.as_object());
        auto id = o.Int("key_id", true, 0, kMaxKeyId);
        auto pub = o.Str("public_key", true, kMaxKeyBytes);
        if (!o.ok()) {
          f.Fail("one_time_prekeys: " + o.error().message);
          break;
        }
        k.one_time_prekeys.push_back({*id, *pub});
      }
    }
  }
  if (!f.ok()) co_return ErrorResponse(f.error());
  k.identity_key = *identity;
  k.signing_key = *signing;
  auto r = co_await AwaitDone<Unit>([&](auto done) {
    ctx_.key_store.PutKeys(std::move(k), ctx_.config.max_one_time_prekeys, std::move(done));
  });
  if (!r.ok()) co_return ErrorResponse(r.error());
  co_return transport::EmptyResponse(204);
}

boost::asio::awaitable<HttpResponse> KeysService::Claim(HttpRequest& req) {
  auto id = NormalizeUuid(req.path_params["user_id"]);
  if (!id) co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "user_id must be a UUID"));
  auto user = co_await OnPool(ctx_.blocking, [&] { return ctx_.auth_store.GetUser(*id); });
  if (!user.ok()) co_return ErrorResponse(user.error());
  storage::KeyClaim how;
  if (auto claim = req.Query("claim"); claim) {
    if (*claim != "true" && *claim != "false") {
      co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "claim must be true or false"));
    }
    how.claim = *claim == "true";
  }
  if (auto device = req.Query("device_id"); device) {
    auto d = NormalizeUuid(*device);
    if (!d) co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "device_id must be a UUID"));
    how.device_id = *d;
  }
  // One-time prekeys are a bounded resource of the target's devices: past the claimer's budget
  // for this user, the bundles come without one (the contract's `one_time_prekey?`).
  if (how.claim && ctx_.limits.claim_per_pair->Allow(req.principal->user_id + ":" + *id) > 0) {
    how.claim = false;
  }
  auto keys = co_await AwaitDone<std::vector<storage::DeviceKeys>>(
      [&](auto done) { ctx_.key_store.ClaimKeys(*id, how, std::move(done)); });
  if (!keys.ok()) co_return ErrorResponse(keys.error());
  if (!how.device_id.empty() && keys->empty()) {
    co_return ErrorResponse(MakeError(ErrorCode::kNotFound, "that device has no published keys"));
  }
  boost::json::array devices;
  for (const auto& k : *keys) devices.push_back(KeysToJson(k));
  co_return JsonResponse(200, {{"user_id", *id}, {"devices", devices}});
}

boost::asio::awaitable<HttpResponse> KeysService::Count(HttpRequest& req) {
  auto n = co_await OnPool(ctx_.blocking, [&] {
    return ctx_.key_store.CountOneTimePrekeys(req.principal->device_id);
  });
  if (!n.ok()) co_return ErrorResponse(n.error());
  co_return JsonResponse(200, {{"one_time_prekeys", *n}});
}

}  // namespace parley::services
